"""`graphcore import-torch`: modules traced with torch.fx become graphs that compute the same thing.

Round trips: export → import → export gives the same structure (see export_cases.structure: node
types, params and port-to-port edges; how weights start does not count), every node's id, label and
position (the export's NODES table) and the same outputs on the same inputs, for every example and
for one example of every node type.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from export_cases import (
    EXAMPLES,
    TRAINED,
    assert_same_nodes,
    graph_from,
    load_file,
    same_structure,
    write_export,
)

from graphcore.cli.main import main
from graphcore.exchange.importer import declared_inputs, import_module, load_class
from graphcore.files.fileformat import load
from graphcore.graph import BLOCK_TYPE, Graph, PortRef
from graphcore.program import lower
from graphcore.registry import REGISTRY
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper
from graphcore.validate import validate

sys.path.insert(0, str(Path(__file__).parents[1] / "nodes"))
from node_cases import build_graph, draw_value, examples_of  # noqa: E402

# Types whose code is several torch calls: they import as the equivalent subgraph of other types.
COMPOSITE = {"GANDiscriminatorLoss", "GANGeneratorLoss", "GaussianKLLoss", "L1Penalty", "L2Penalty", "Opaque"}


def import_file(path: Path, class_name: str, capsys, *flags: str) -> tuple[int, dict]:
    out = path.with_suffix(".json")
    code = main(["import-torch", f"{path}:{class_name}", "-o", str(out), "--json", *flags])
    report = json.loads(capsys.readouterr().out)
    return code, report


def outputs(path: Path, class_name: str, dtype, inputs: dict) -> tuple:
    module = load_file(path)
    result = getattr(module, class_name)(dtype=dtype, seed=5)(**inputs)
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_export_import_export_keeps_structure_and_outputs(example, tmp_path, capsys):
    graph = load(example)
    for node in graph.nodes:  # the importer rebuilds layers from the seed, not a scheme (He init, say)
        if node.params.get("weight_init", "default") != "default":
            graph.set_param(node.id, "weight_init", "default")
    assert_round_trip(graph, tmp_path, capsys)


def has_composites(graph: Graph) -> bool:
    return any(node.type in COMPOSITE for node in graph.nodes)


def assert_round_trip(graph: Graph, tmp_path: Path, capsys) -> None:
    """export → import → export: the same structure each time and the same outputs on the same inputs."""
    first, class_name = write_export(graph, tmp_path, "first")
    code, report = import_file(first, class_name, capsys)
    assert code == 0 and report["ok"] and report["opaque"] == [] and report["notes"] == [], report
    imported = load(first.with_suffix(".json"))
    if not has_composites(graph):
        assert same_structure(graph, imported)
    assert_same_nodes(graph, imported)
    second, second_class = write_export(imported, tmp_path, "second")
    again = load_roundtrip(second, second_class, capsys)
    assert same_structure(imported, again)
    assert_same_nodes(imported, again)
    for dtype in (torch.float32, torch.float64):
        inputs = load_file(first).example_inputs(dtype, batch=3, seed=2)
        torch.manual_seed(0)
        expected = outputs(first, class_name, dtype, inputs)
        torch.manual_seed(0)
        got = outputs(second, second_class, dtype, inputs)
        assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


JOINED = {
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 2]}},
        {"id": "y", "type": "Input", "params": {"shape": ["N", 3]}},
        {"id": "squashed", "type": "tanh"},
        {"id": "wide", "type": "cat", "params": {"dim": 1}},
        {"id": "deep", "type": "stack", "params": {"dim": -1}},
    ],
    "edges": [
        {"from": "y.out", "to": "squashed.x"},
        {"from": "x.out", "to": "wide.a"},
        {"from": "squashed.out", "to": "wide.b"},
        {"from": "x.out", "to": "wide.c"},
        *({"from": "wide.out", "to": f"deep.{port}"} for port in "abcd"),
    ],
}


def test_a_three_way_cat_and_a_four_way_stack_round_trip(tmp_path, capsys):
    graph = graph_from(JOINED)
    assert validate(graph).ok
    assert_round_trip(graph, tmp_path, capsys)


def load_roundtrip(path: Path, class_name: str, capsys):
    code, report = import_file(path, class_name, capsys)
    assert code == 0, report
    return load(path.with_suffix(".json"))


@pytest.mark.parametrize("example", TRAINED, ids=lambda p: p.stem)
def test_a_training_export_imports_as_its_model(example, tmp_path, capsys):
    graph = load(example)
    path, class_name = write_export(graph, tmp_path, "trained", train=True, base_dir=example.parent)
    code, report = import_file(path, class_name, capsys)
    expected = graph
    if has_composites(graph):  # a GAN's losses import as their BCE terms: as the model export imports
        plain, plain_class = write_export(graph, tmp_path, "plain")
        assert import_file(plain, plain_class, capsys)[0] == 0
        expected = load(plain.with_suffix(".json"))
    assert code == 0 and same_structure(expected, load(path.with_suffix(".json")))
    assert_same_nodes(graph, load(path.with_suffix(".json")))
    if load(example).training.get("predict"):  # forward returns (loss, p): both stay outputs, in order
        imported = load(path.with_suffix(".json"))
        loss, predict = lower(imported).sinks  # both outputs, whether or not the loss reads the prediction
        assert not imported.consumers_of(PortRef.parse(loss)) and predict != loss


# a Block has no code of its own: its definition's round trip is tests/export/test_import_blocks.py
OPERATIONS = sorted(t for t, spec in REGISTRY.items() if not spec.is_source and t != BLOCK_TYPE)


@pytest.mark.parametrize("type_", OPERATIONS)
def test_every_node_type_round_trips(type_, tmp_path):
    spec = REGISTRY[type_]
    example = examples_of(spec, draws=1)[0]
    params = dict(example.params)
    if "weight_init" in {p.name for p in spec.params}:
        params["weight_init"] = "default"  # the importer rebuilds layers from the seed, not a scheme
    kinds = tuple(example.value_kind(i) for i in range(len(spec.inputs)))
    graph = build_graph(spec, params, example.shapes, kinds)
    path, class_name = write_export(graph, tmp_path, f"model_{type_.lower()}")
    cls, source, namespace = load_class(f"{path}:{class_name}")
    result = import_module(
        cls(), declared_inputs(namespace["INPUTS"], "INPUTS"), source=source, namespace=namespace
    )
    report = validate(result.graph)
    assert report.ok, report.diagnostics
    assert result.notes == []
    if type_ not in COMPOSITE:
        assert same_structure(graph, result.graph)
    assert_same_nodes(graph, result.graph)
    generator = torch.Generator().manual_seed(1)
    values = {}
    for port, shape, kind in zip(spec.inputs, example.shapes, kinds, strict=True):
        if shape is not None:
            values[f"in_{port}"] = draw_value(
                kind, tuple(3 if isinstance(d, str) else d for d in shape), generator
            )
    # float32, as the module imported: the graph imported keeps its weights, float32 numbers
    values = {k: v.float() if v.is_floating_point() else v for k, v in values.items()}
    ours = Runtime(lower(graph), inputs=values, dtype="float32")
    theirs = Runtime(lower(result.graph), inputs=values, dtype="float32")
    torch.manual_seed(0)
    expected = list(ours.forward().values())
    torch.manual_seed(0)
    got = list(theirs.forward().values())
    assert len(got) == len(expected)
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def write_module(folder: Path, text: str) -> Path:
    path = folder / "net.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


UNMAPPED = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, scale=2.0):
            super().__init__()
            self.weight = nn.Parameter(torch.linspace(-1.0, 1.0, 12).reshape(3, 4))
            self.scale = scale

        def forward(self, x):
            h = torch.tanh(x @ self.weight)
            running = torch.cumsum(h, dim=1)
            top = torch.max(running, 1)[0]
            flipped = running.flip(0).view(x.size(0), -1)
            gate = (flipped > 0).float()
            return (flipped * gate).sum() * self.scale + top.mean()
"""


def test_ops_without_a_node_type_become_opaque_nodes_that_run_everywhere(tmp_path, capsys):
    path = write_module(tmp_path, UNMAPPED)
    code = main(
        [
            "import-torch",
            f"{path}:Net",
            "--args",
            "x=[N,3]",
            "--kwargs",
            '{"scale": 3.0}',
            "-o",
            str(tmp_path / "net.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "2 ops have no node type; imported as Opaque nodes (they run but cannot be edited):" in out
    for call in ("torch.Tensor.flip", "torch.gt"):
        assert f": {call}\n" in out
    graph = load(tmp_path / "net.json")
    assert validate(graph).ok
    types = sorted(n.type for n in graph.nodes)
    assert types.count("Opaque") == 2 and "cumsum" in types and "view" in types and "matmul" in types
    assert next(n for n in graph.nodes if n.type == "view").params["shape"] == [-1, 4]
    module = load_class(f"{path}:Net")[0](scale=3.0)
    for batch in (2, 7):  # the batch stays symbolic
        x = torch.randn(batch, 3)
        runtime = Runtime(lower(graph), dtype="float32", inputs={"x": x})
        torch.testing.assert_close(next(iter(runtime.forward().values())), module(x), rtol=1e-6, atol=1e-6)
    runtime = Runtime(lower(graph), inputs={"x": torch.randn(4, 3, dtype=torch.float64, requires_grad=True)})
    stepper = Stepper(runtime)
    stepper.run()
    assert stepper.gradients()["weight.out"].shape == (3, 4)


JOINS = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            wide = torch.cat([torch.tanh(x), x * 2.0, torch.relu(x)], dim=1)
            deep = torch.stack((x, -x, x, x), -1)
            seven = torch.cat([x] * 7, dim=-1)
            return wide.sum(1) + deep.sum((1, 2)) + seven.mean(1)
"""


def test_cat_and_stack_of_up_to_six_tensors_map_to_nodes_and_more_stay_opaque(tmp_path, capsys):
    path = write_module(tmp_path, JOINS)
    code = main(["import-torch", f"{path}:Net", "--args", "x=[N,3]", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and [op["target"] for op in report["opaque"]] == ["torch.cat"], report
    graph = graph_from(report["graph"])
    ports = {n.type: sorted(d.port for _, d in graph.edges if d.node == n.id) for n in graph.nodes}
    assert ports["cat"] == ["a", "b", "c"] and ports["stack"] == ["a", "b", "c", "d"]
    assert ports["Opaque"] == ["x0"]  # the same tensor seven times is one input
    x = torch.randn(4, 3)
    runtime = Runtime(lower(graph), dtype="float32", inputs={"x": x})
    expected = load_class(f"{path}:Net")[0]()(x)
    torch.testing.assert_close(next(iter(runtime.forward().values())), expected)


CNN = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, classes=3):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(64, classes))
            self.lstm = nn.LSTM(classes, 5, batch_first=True)
            self.loss = nn.CrossEntropyLoss()

        def forward(self, image, label):
            logits = self.head(self.features(image))
            out, (h, c) = self.lstm(logits.unsqueeze(1))
            return self.loss(out[:, -1] + h[0] + c[0], label)
"""


def test_layers_and_module_activations_map_to_node_types(tmp_path, capsys):
    path = write_module(tmp_path, CNN)
    torch.manual_seed(123)  # the module's own weights: not the ones the graph's seed gives
    code = main(["import-torch", f"{path}:Net", "--args", "image=[N,1,8,8]", "label=[N]:long", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["opaque"] == [], report
    types = {node["id"]: node["type"] for node in report["graph"]["nodes"]}
    for expected in (
        "Conv2d",
        "relu",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "LSTM",
        "CrossEntropyLoss",
        "select",
    ):
        assert expected in types.values(), types
    assert types["image"] == "Input" and report["graph"]["nodes"][1]["params"] == {
        "shape": ["N"],
        "dtype": "long",
    }
    assert any("start from other weights" in note for note in report["notes"])


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        (None, [], "no such file"),
        ("def broken(:\n", [], "net.py:1: cannot import"),
        ("raise RuntimeError('boom')\n", [], "cannot import: RuntimeError: boom"),
        ("import torch\n", [], "no nn.Module class 'Net'"),
        ("class Net:\n    pass\n", [], "no nn.Module class 'Net'"),
        (UNMAPPED, ["--kwargs", '{"colour": 1}'], "Net(**{'colour': 1}) failed: TypeError"),
        (UNMAPPED, ["--kwargs", "[1]"], "--kwargs: expected a JSON object"),
        (UNMAPPED, [], "forward argument 'x' needs a shape: --args x=[N,3]"),
        (UNMAPPED, ["--args", "x=N;3"], "--args 'x=N;3': write NAME=[SIZES]"),
        (UNMAPPED, ["--args", "y=[N,3]"], "Net.forward has no argument 'y'"),
        (
            "import torch\nclass Net(torch.nn.Module):\n    def forward(self, x):\n"
            "        return x if x.sum() > 0 else -x\n",
            ["--args", "x=[3]"],
            "net.py:4: a condition on a tensor's values cannot be traced",
        ),
    ],
)
def test_modules_that_cannot_be_imported_give_one_line_and_exit_2(tmp_path, capsys, text, flags, message):
    if text is not None:
        write_module(tmp_path, text)
    code = main(["import-torch", f"{tmp_path / 'net.py'}:Net", *flags])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
