"""The Opaque node: a recorded torch call that loads without running anything and calls only torch."""

from __future__ import annotations

import ast
import json

import pytest
from export_cases import graph_from

from graphcore.cli.main import main
from graphcore.codegen import python_source
from graphcore.files.fileformat import dumps
from graphcore.program import lower
from graphcore.registry import REGISTRY
from graphcore.validate import validate
from nodes.imported import DENIED, allowed_calls, resolve

REFUSED = [
    "os.system",
    "builtins.eval",
    "__import__",
    "torch.save",
    "torch.load",
    "torch.from_file",
    "torch.hub.load",
    "torch.Tensor.backward",
    "torch.Tensor.register_hook",
    "torch.Tensor.add_",
    "torch.Tensor.__reduce_ex__",
    "torch.nn.functional.relu_",
    "torch.manual_seed",
    "torch.cumsum; import os",
]


def opaque_graph(target: str, args: list, kwargs: dict | None = None, shape=("N", 3)) -> dict:
    params = {
        "target": target,
        "args": args,
        "kwargs": kwargs or {},
        "shape": ["N", 3],
        "input_shapes": [["N", 3]],
    }
    return {
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": list(shape)}},
            {"id": "call", "type": "Opaque", "params": params},
        ],
        "edges": [{"from": "x.out", "to": "call.x0"}],
    }


def test_the_allow_list_is_torch_tensor_functions_only():
    allowed = allowed_calls()
    for name in (
        "torch.cumsum",
        "torch.where",
        "torch.nn.functional.pad",
        "torch.Tensor.flip",
        "torch.einsum",
    ):
        assert name in allowed
    assert all(n.split(".")[0] == "torch" and not n.rsplit(".", 1)[1].startswith("_") for n in allowed)
    assert not any(n.endswith("_") or n.rsplit(".", 1)[1] in DENIED for n in allowed)
    assert not REGISTRY["Opaque"].editable


@pytest.mark.parametrize("target", REFUSED)
def test_calls_outside_the_allow_list_are_refused_before_anything_runs(target, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    graph = graph_from(opaque_graph(target, [{"input": 0}, "touch pwned"]))  # loading checks kinds only
    with pytest.raises(ValueError, match="is not a torch function an imported node may call"):
        resolve(target)
    report = validate(graph)
    assert [(d.node, d.message) for d in report.diagnostics] == [
        ("call", f"{target!r} is not a torch function an imported node may call")
    ]
    (tmp_path / "graph.json").write_text(dumps(graph))
    assert main(["run", "graph.json"]) == 1
    assert main(["export", "graph.json", "-o", "model.py"]) == 1
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.json"]


def test_literal_arguments_reach_code_only_as_literals():
    hostile = "reflect'); __import__('os').system('touch pwned'); ('"
    graph = graph_from(opaque_graph("torch.nn.functional.pad", [{"input": 0}, [0, 0]], {"mode": hostile}))
    assert validate(graph).ok
    tree = ast.parse(python_source(lower(graph)).source)
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls == {"super", "super().__init__", "torch.manual_seed", "F.pad"}
    assert hostile in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}


def test_an_opaque_node_checks_its_inputs_against_the_shapes_it_was_imported_with(capsys, tmp_path):
    graph = graph_from(opaque_graph("torch.cumsum", [{"input": 0}, 1], shape=("N", 4)))
    assert [d.message for d in validate(graph).diagnostics] == [
        "torch.cumsum was imported for x0 of shape [N, 3], not [N, 4]"
    ]
    wrong = opaque_graph("torch.cumsum", [{"input": 1}, 1])
    assert "reads inputs x1 but x0 are connected" in str(validate(graph_from(wrong)).diagnostics)
    good = graph_from(opaque_graph("torch.cumsum", [{"input": 0}, 1]))
    (tmp_path / "good.json").write_text(dumps(good))
    assert main(["run", str(tmp_path / "good.json"), "--json", "--batch", "2"]) == 0
    value = json.loads(capsys.readouterr().out)["outputs"]["call.out"]
    assert len(value) == 2 and len(value[0]) == 3
