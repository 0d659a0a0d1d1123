"""`graphcore export`: a standalone, readable file whose model is the fast path's code and numbers."""

from __future__ import annotations

import ast
import json

import pytest
import torch
from export_cases import EXAMPLES, TRAINED, graph_from, load_file, ruff, run_python, write_export

from graphcore.blocks import used_blocks
from graphcore.cli.main import main
from graphcore.codegen import class_name_from, python_source
from graphcore.files.fileformat import load
from graphcore.graph import BLOCK_TYPE
from graphcore.program import lower

THIRD_PARTY = {"torch", "numpy"}
# a reader's own package, imported inside the reader only when the training section's dataset needs it
DATASET_PACKAGES = {"digits": "sklearn", "image_folder": "PIL"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Every example exported plainly, and with --train where it has a training section."""
    folder = tmp_path_factory.mktemp("exports")
    files = {}
    for path in EXAMPLES:
        files[path.stem] = write_export(load(path), folder, path.stem, source_name=path.name)
    for path in TRAINED:
        files[f"{path.stem}_train"] = write_export(
            load(path), folder, f"{path.stem}_train", source_name=path.name, train=True, base_dir=path.parent
        )
    return files


def test_every_export_compiles_and_imports_only_torch_numpy_and_the_standard_library(exports):
    import sys

    datasets = {f"{p.stem}_train": load(p).training["dataset"]["name"] for p in TRAINED}
    for name, (path, _) in exports.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        compile(tree, str(path), "exec")
        allowed = THIRD_PARTY | {DATASET_PACKAGES.get(datasets.get(name, ""), "torch")}
        roots = {
            (alias.name if isinstance(node, ast.Import) else node.module).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert roots - allowed <= set(sys.stdlib_module_names), (path.name, roots)
        assert ast.get_docstring(tree), path.name


def test_every_export_passes_ruff_check_and_is_ruff_formatted(exports):
    paths = [str(path) for path, _ in exports.values()]
    checked = ruff("check", *paths)
    if checked is None:
        pytest.skip("ruff is not installed (pip install ruff)")
    assert checked.returncode == 0, checked.stdout
    formatted = ruff("format", "--check", "--diff", *paths)
    assert formatted.returncode == 0, formatted.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_model_class_is_the_fast_path_code(exports, example):
    """One code generator: the class in the file is, statement for statement, what the app runs."""
    path, class_name = exports[example.stem]
    assert class_name == class_name_from(example.stem)
    graph = load(example)
    if used_blocks(graph):  # a class per block, then the model's: the numbers tests check them
        written = [
            s.name for s in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(s, ast.ClassDef)
        ]
        assert written[-1] == class_name
        blocks = set(used_blocks(graph))  # each under its name, or {name}Block where the name is taken
        assert {name if name in blocks else name.removesuffix("Block") for name in written[:-1]} == blocks
        return
    ours = python_source(lower(graph), class_name).source
    classes = [
        ast.dump(next(s for s in ast.parse(text).body if isinstance(s, ast.ClassDef)))
        for text in (ours, path.read_text(encoding="utf-8"))
    ]
    assert classes[0] == classes[1]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_outputs_equal_graphcore_run(exports, example, dtype, capsys):
    path, class_name = exports[example.stem]
    module = load_file(path)
    torch_dtype = getattr(torch, dtype)
    model = getattr(module, class_name)(dtype=torch_dtype, seed=3)
    outputs = model(**module.example_inputs(torch_dtype, batch=5, seed=3))
    code = main(
        ["run", str(example), "--json", "--dtype", dtype, "--device", "cpu", "--seed", "3", "--batch", "5"]
    )
    expected = json.loads(capsys.readouterr().out)["outputs"]
    assert code == 0
    got = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(got) == len(expected)
    for value, want in zip(got, expected.values()):
        assert torch.equal(value.detach(), torch.tensor(want, dtype=torch_dtype)), (example.stem, value, want)


def test_forward_is_straight_line_one_line_per_node_with_formulas(exports):
    path, _ = exports["xor"]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    forward = next(
        f
        for c in tree.body
        if isinstance(c, ast.ClassDef)
        for f in c.body
        if getattr(f, "name", "") == "forward"
    )
    assert [type(s).__name__ for s in forward.body] == ["Assign"] * 5 + ["Return"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "        h1 = torch.tanh(fc1)  # tanh(z)" in lines
    assert '        loss = F.mse_loss(p, y, reduction="mean")  # L = (1/n) Σᵢ (xᵢ − yᵢ)²' in lines


def test_running_the_file_prints_what_graphcore_run_prints(exports, capsys):
    path, _ = exports["sigmoid_neuron"]
    done = run_python(path.name, cwd=path.parent)
    assert done.returncode == 0, done.stderr
    main(
        [
            "run",
            str(EXAMPLES[[p.stem for p in EXAMPLES].index("sigmoid_neuron")]),
            "--json",
            "--device",
            "cpu",
        ]
    )
    expected = json.loads(capsys.readouterr().out)["outputs"]
    assert done.stdout == "".join(f"{name} = {value!r}\n" for name, value in expected.items())


def test_class_names_never_shadow_what_the_file_defines(tmp_path):
    graph = graph_from({"nodes": [{"id": "x", "type": "Input", "params": {"shape": [], "value": 1.0}}]})
    graph.meta["name"] = "inputs"
    path, class_name = write_export(graph, tmp_path, train=False)
    assert class_name == "Inputs"
    graph.meta["name"] = "f"
    path, class_name = write_export(graph, tmp_path)
    assert class_name == "GraphF"
    load_file(path)


def test_cli_export_writes_prints_and_reports(tmp_path, capsys):
    xor = str(EXAMPLES[[p.stem for p in EXAMPLES].index("xor")])
    out = tmp_path / "xor.py"
    assert main(["export", xor, "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}: class Xor\n"
    assert main(["export", xor]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")
    assert main(["export", xor, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["class"] == "Xor" and data["source"] == out.read_text(encoding="utf-8")
    path_sum = str(EXAMPLES[[p.stem for p in EXAMPLES].index("path_sum")])
    assert main(["export", path_sum, "--train", "--json"]) == 2
    assert "has no training section" in json.loads(capsys.readouterr().out)["error"]
    bad = json.loads(EXAMPLES[0].read_text())
    bad["edges"] = bad["edges"][1:]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert main(["export", str(tmp_path / "bad.json")]) == 1
    assert "input is not connected" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing.json")]) == 2


def test_a_label_never_hides_a_helper_function(tmp_path):
    """A node labelled like a node type's helper (positional_encoding) gets another name in forward."""
    graph = graph_from(
        {
            "nodes": [
                {
                    "id": "x",
                    "type": "Input",
                    "params": {"shape": [3, "N", 4]},
                    "label": "positional_encoding",
                },
                {"id": "pe", "type": "PositionalEncoding", "label": "seeded_randn_like"},
                {"id": "noise", "type": "randn", "params": {"seed": 3}},
            ],
            "edges": [{"from": "x.out", "to": "pe.x"}, {"from": "pe.out", "to": "noise.x"}],
        }
    )
    path, class_name = write_export(graph, tmp_path)
    module = load_file(path)
    inputs = module.example_inputs(torch.float64, batch=2)
    result = getattr(module, class_name)(dtype=torch.float64)(**inputs)
    assert result.shape == (3, 2, 4)
    assert "def forward(self, v_positional_encoding):" in path.read_text(encoding="utf-8")


# Templates in nodes/ that ruff format would lay out otherwise (`x ** 2` as `x**2`; a long sum of two
# calls; a long line in a helper). The files still pass `ruff check`.
NOT_RUFF_FORMATTED = {"GANDiscriminatorLoss", "GaussianKLLoss", "L2Penalty"}


def test_every_node_type_exports_code_ruff_accepts(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "nodes"))
    from node_cases import build_graph, examples_of

    from graphcore.registry import REGISTRY

    formatted, rest = [], []
    for type_, spec in sorted(REGISTRY.items()):
        if type_ == BLOCK_TYPE:  # no code of its own: tests/export/test_export_blocks.py
            continue
        example = examples_of(spec, draws=1)[0]
        kinds = tuple(example.value_kind(i) for i in range(len(spec.inputs)))
        graph = build_graph(spec, dict(example.params), example.shapes, kinds)
        path, _ = write_export(graph, tmp_path, f"model_{type_.lower()}")
        (rest if type_ in NOT_RUFF_FORMATTED else formatted).append(str(path))
    checked = ruff("check", *formatted, *rest)
    if checked is None:
        pytest.skip("ruff is not installed (pip install ruff)")
    assert checked.returncode == 0, checked.stdout
    result = ruff("format", "--check", *formatted)
    assert result.returncode == 0, result.stdout
