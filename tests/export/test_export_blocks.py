"""`graphcore export` of a graph with blocks: a class per block, instances as attributes, a repeat as
an nn.ModuleList; the numbers are `graphcore run`'s, `grad`'s and `train`'s, the state_dict keys
follow the blocks, and the app's weights file loads into the exported module."""

from __future__ import annotations

import json
from typing import Any

import pytest
import safetensors.torch
import torch
from export_cases import graph_from, load_file, losses_printed, objective_losses_printed, ruff, write_export
from test_export_training import exported_train, graphcore_train

from graphcore.cli.main import main
from graphcore.exchange.export import export_python
from graphcore.exchange.export_blocks import exported_names, flat_place
from graphcore.files.fileformat import dumps
from graphcore.files.weights import collect, read, write
from graphcore.graph import Graph
from graphcore.program import lower
from graphcore.runtime import Runtime

WIDTH = 4


def residual(inner_fc: str = "fc", description: str = "x + relu(fc(x))") -> dict[str, Any]:
    """x + relu(fc(x)), its Linear named `inner_fc`."""
    return {
        "description": description,
        "inputs": ["x"],
        "outputs": {"out": "sum.out"},
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", WIDTH]}},
            {"id": inner_fc, "type": "Linear", "params": {"in_features": WIDTH, "out_features": WIDTH}},
            {"id": "r", "type": "relu"},
            {"id": "sum", "type": "add"},
        ],
        "edges": [
            {"from": "x.out", "to": f"{inner_fc}.x"},
            {"from": f"{inner_fc}.out", "to": "r.x"},
            {"from": "x.out", "to": "sum.a"},
            {"from": "r.out", "to": "sum.b"},
        ],
    }


def pair(res: str = "ResBlock") -> dict[str, Any]:
    """A block using a block: two ResBlock copies, a projection, dropout (random numbers drawn in
    the runtime's order) and a learnt gain."""
    return {
        "inputs": ["x"],
        "outputs": {"out": "scaled.out"},
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", WIDTH]}},
            {"id": "res", "type": "Block", "params": {"block": res, "repeat": 2}},
            {"id": "proj", "type": "Linear", "params": {"in_features": WIDTH, "out_features": WIDTH}},
            {"id": "gain", "type": "Parameter", "params": {"shape": [WIDTH], "init": "normal"}},
            {"id": "drop", "type": "Dropout", "params": {"p": 0.25}},
            {"id": "scaled", "type": "mul"},
        ],
        "edges": [
            {"from": "x.out", "to": "res.x"},
            {"from": "res.out", "to": "proj.x"},
            {"from": "proj.out", "to": "drop.x"},
            {"from": "drop.out", "to": "scaled.a"},
            {"from": "gain.out", "to": "scaled.b"},
        ],
    }


def network(training: bool = False, res: str = "ResBlock", blocks: dict[str, Any] | None = None) -> Graph:
    """head -> res1 -> res2 (3 copies) -> nest (Pair) -> out; a loss on the sine set with `training`."""
    nodes = [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 1]}},
        {"id": "head", "type": "Linear", "params": {"in_features": 1, "out_features": WIDTH}},
        {"id": "res1", "type": "Block", "params": {"block": res}},
        {"id": "res2", "type": "Block", "params": {"block": res, "repeat": 3}},
        {"id": "nest", "type": "Block", "params": {"block": "Pair"}},
        {"id": "out", "type": "Linear", "params": {"in_features": WIDTH, "out_features": 1}},
    ]
    edges = [
        {"from": "x.out", "to": "head.x"},
        {"from": "head.out", "to": "res1.x"},
        {"from": "res1.out", "to": "res2.x"},
        {"from": "res2.out", "to": "nest.x"},
        {"from": "nest.out", "to": "out.x"},
    ]
    extra: dict[str, Any] = {"meta": {"outputs": ["out.out", "total.out"]}}
    if training:
        nodes += [
            {"id": "y", "type": "Input", "params": {"shape": ["N", 1]}},
            {"id": "loss", "type": "MSELoss"},
        ]
        edges += [{"from": "out.out", "to": "loss.input"}, {"from": "y.out", "to": "loss.target"}]
        extra = {
            "training": {
                "dataset": {"name": "sine", "n": 40},
                "inputs": {"x": "x", "y": "y"},
                "loss": "loss.out",
                "predict": "out.out",
                "batch_size": 8,
                "seed": 3,
                "optimizer": {"name": "adam", "lr": 0.01},
            }
        }
    else:
        nodes.append({"id": "total", "type": "sum"})
        edges.append({"from": "out.out", "to": "total.x"})
    return graph_from(
        {
            "version": 3,
            "blocks": blocks or {res: residual(), "Pair": pair(res)},
            "nodes": nodes,
            "edges": edges,
            **extra,
        }
    )


def exported(graph: Graph, tmp_path, name: str = "net") -> tuple[Any, Any, str]:
    """(the exported file as a module, its model class, the file's text)."""
    path, class_name = write_export(graph, tmp_path, name)
    module = load_file(path)
    return module, getattr(module, class_name), path.read_text()


def cli_json(capsys, *args: str) -> dict[str, Any]:
    assert main([*args, "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def saved(graph: Graph, tmp_path, name: str = "net") -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(dumps(graph), encoding="utf-8")
    return str(path)


def exported_outputs(module: Any, cls: Any, seed: int = 0) -> tuple[Any, ...]:
    model = cls(dtype=torch.float64, seed=seed)
    result = model(**module.example_inputs(torch.float64, 4, seed))
    return result if isinstance(result, tuple) else (result,)


# Copies of a repeat are 1..N in flat ids (res2/1/fc) and 0..N-1 in the ModuleList (res2.0.fc).
STATE_KEYS = {
    "head.weight",
    "head.bias",
    *(f"res1.fc.{p}" for p in ("weight", "bias")),
    *(f"res2.{k}.fc.{p}" for k in range(3) for p in ("weight", "bias")),
    *(f"nest.res.{k}.fc.{p}" for k in range(2) for p in ("weight", "bias")),
    "nest.proj.weight",
    "nest.proj.bias",
    "nest.gain",
    "out.weight",
    "out.bias",
}


def test_a_block_is_a_class_a_repeat_a_module_list_and_the_code_is_ruff_clean(tmp_path):
    module, cls, text = exported(network(), tmp_path)
    assert "class ResBlock(nn.Module):" in text and "class Pair(nn.Module):" in text
    assert '"""x + relu(fc(x))"""' in text
    assert "self.res2 = nn.ModuleList(ResBlock(dtype) for _ in range(3))" in text
    assert "self.res1 = ResBlock(dtype)" in text and "self.nest = Pair(dtype)" in text
    assert text.index("class ResBlock") < text.index("class Pair") < text.index(f"class {cls.__name__}")
    assert "res1_fc" not in text  # no flat names left
    assert set(cls().state_dict()) == STATE_KEYS
    for checked in (
        ruff("check", str(tmp_path / "net.py")),
        ruff("format", "--check", str(tmp_path / "net.py")),
    ):
        assert checked is None or checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("seed", [0, 5])
def test_the_exported_numbers_are_graphcore_runs_exactly(tmp_path, capsys, seed):
    graph = network()
    module, cls, _ = exported(graph, tmp_path)
    ran = cli_json(capsys, "run", saved(graph, tmp_path), "--seed", str(seed))["outputs"]
    found = exported_outputs(module, cls, seed)
    assert list(ran) == ["out.out", "total.out"]
    for expected, value in zip(ran.values(), found, strict=True):
        assert torch.equal(torch.tensor(expected, dtype=torch.float64), value.detach())


def test_the_gradients_are_graphcore_grads(tmp_path, capsys):
    graph = network()
    module, cls, _ = exported(graph, tmp_path)
    wrt = "x,nest/gain,res2/3/fc"
    grads = cli_json(capsys, "grad", saved(graph, tmp_path), "--of", "total.out", "--wrt", wrt)["grads"]
    model = cls(dtype=torch.float64)
    inputs = module.example_inputs(torch.float64)
    inputs["x"].requires_grad_(True)
    res2_3_fc = []  # the last copy's Linear output, as --wrt res2/3/fc asks

    def keep(_module: Any, _inputs: Any, out: Any) -> None:
        out.retain_grad()
        res2_3_fc.append(out)

    model.res2[2].fc.register_forward_hook(keep)
    _, total = model(**inputs)
    total.backward()
    for name, found in (
        ("x", inputs["x"].grad),
        ("nest/gain", model.nest.gain.grad),
        ("res2/3/fc", res2_3_fc[0].grad),
    ):
        assert torch.allclose(torch.tensor(grads[name], dtype=torch.float64), found, rtol=0, atol=1e-12), name


def test_the_apps_weights_file_loads_with_load_state_dict_and_gives_the_apps_numbers(tmp_path):
    graph = network()
    runtime = Runtime(lower(graph), dtype="float64")
    with torch.no_grad():  # trained weights, not the seed's
        for parameter in runtime.module.parameters():
            parameter.add_(torch.randn_like(parameter))
    torch.manual_seed(7)  # the dropout's draws
    expected = runtime.forward()
    weights = collect(runtime.module, runtime.generated.attributes, "net.safetensors")  # as File ▸ Save
    write(tmp_path, weights)
    graph.weights = read(tmp_path, "net.safetensors")
    module, cls, text = exported(graph, tmp_path)
    assert "FLAT_NAMES = {" in text
    for checked in (
        ruff("check", str(tmp_path / "net.py")),
        ruff("format", "--check", str(tmp_path / "net.py")),
    ):
        assert checked is None or checked.returncode == 0, checked.stdout + checked.stderr
    model = cls(dtype=torch.float64)
    model.load_state_dict(safetensors.torch.load_file(tmp_path / "net.safetensors"))
    assert set(model.state_dict()) == STATE_KEYS  # the file's flat names are only read
    inputs = module.example_inputs(torch.float64)
    torch.manual_seed(7)
    found = model(**inputs)
    for value, tensor in zip(expected.values(), found, strict=True):
        assert torch.equal(value, tensor)
    model.load_state_dict(cls(dtype=torch.float64, seed=1).state_dict())  # its own names load too
    assert not torch.equal(model.out.weight, runtime.module.out.weight)


def test_flat_and_exported_names_map_both_ways():
    graph = network()
    generated = export_python(graph).generated
    runtime = Runtime(lower(graph), dtype="float64")
    places = collect(runtime.module, runtime.generated.attributes, "net.safetensors").places
    names = exported_names(generated, places)
    assert names["res2_3_fc.weight"] == "res2.2.fc.weight"
    assert names["nest_res_1_fc.bias"] == "nest.res.0.fc.bias" and names["nest_gain"] == "nest.gain"
    assert set(names.values()) == STATE_KEYS
    assert {flat_place(generated, name) for name in names.values()} == set(places.values())
    assert flat_place(generated, "res2.2.fc.weight") == "res2/3/fc.weight"
    assert flat_place(generated, "nothing.here") is None


def test_export_train_gives_graphcore_trains_losses(tmp_path, capsys):
    graph = network(training=True)
    path, _ = write_export(graph, tmp_path, "net", train=True)
    text = path.read_text()
    assert "class ResBlock(nn.Module):" in text and "nn.ModuleList" in text
    trained = graphcore_train(saved(graph, tmp_path, "graph"), capsys, "--steps", "6")
    code, printed = exported_train(path, capsys, "--steps", "6")
    assert code == 0 and len(trained["losses"]) == 6
    assert losses_printed(printed) == pytest.approx(trained["losses"], abs=1e-6, rel=0)  # printed to 9 digits
    checked = ruff("check", str(path))
    assert checked is None or checked.returncode == 0, checked.stdout


HOSTILE = {
    # a block named after a layer class and the model class, its inner Linear not a Python name
    "Linear": lambda: network(
        res="Linear", blocks={"Linear": residual("2nd fc-layer"), "Pair": pair("Linear")}
    ),
    "model_class": lambda: network(res="Net", blocks={"Net": residual("class"), "Pair": pair("Net")}),
    # names the exported file defines for itself
    "main": lambda: network(res="main", blocks={"main": residual(), "Pair": pair("main")}),
    "noise": lambda: network(res="noise", blocks={"noise": residual(), "Pair": pair("noise")}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_names_still_export_code_that_runs_and_gives_the_same_numbers(case, tmp_path):
    graph = HOSTILE[case]()
    module, cls, text = exported(graph, tmp_path)
    assert cls.__name__ == "Net" and callable(module.main) and callable(module.noise)
    if case == "Linear":  # nn.Linear is no clash
        assert "class Linear(nn.Module):" in text and "self.v_2nd_fc_layer = nn.Linear(" in text
    else:
        assert "renamed: the file needs that name for something else" in text
    expected = Runtime(lower(graph), dtype="float64").forward()
    for value, found in zip(expected.values(), exported_outputs(module, cls), strict=True):
        assert torch.equal(value, found)
    assert len(cls().state_dict()) == len(STATE_KEYS)
    checked = ruff("check", str(tmp_path / "net.py"))
    assert checked is None or checked.returncode == 0, checked.stdout


def test_an_instance_named_like_its_block_is_an_attribute_of_that_name(tmp_path):
    graph = network()
    graph_data = json.loads(dumps(graph))
    for node in graph_data["nodes"]:
        if node["id"] == "res1":
            node["id"] = "ResBlock"
    for edge in graph_data["edges"]:
        edge["from"] = edge["from"].replace("res1.", "ResBlock.")
        edge["to"] = edge["to"].replace("res1.", "ResBlock.")
    renamed = graph_from(graph_data)
    module, cls, text = exported(renamed, tmp_path)
    assert "self.ResBlock = ResBlock(dtype)" in text
    expected = Runtime(lower(renamed), dtype="float64").forward()
    for value, found in zip(expected.values(), exported_outputs(module, cls), strict=True):
        assert torch.equal(value, found)


BLOCK_NODES = [
    "res1/fc",
    *(f"res2/{k}/fc" for k in (1, 2, 3)),
    *(f"nest/res/{k}/fc" for k in (1, 2)),
    "nest/proj",
    "nest/gain",
]


def test_objectives_naming_nodes_inside_blocks_train_as_graphcore_train(tmp_path, capsys):
    graph = network(training=True)
    section = graph.training
    del section["optimizer"], section["loss"]
    section["objectives"] = [
        {
            "name": "ends",
            "loss": "loss.out",
            "parameters": ["head", "out"],
            "optimizer": {"name": "sgd", "lr": 0.05},
        },
        {
            "name": "blocks",
            "loss": "loss.out",
            "parameters": BLOCK_NODES,
            "optimizer": {"name": "adam", "lr": 0.01},
        },
    ]
    path, _ = write_export(graph, tmp_path, "net", train=True)
    trained = graphcore_train(saved(graph, tmp_path, "graph"), capsys, "--steps", "4")
    code, printed = exported_train(path, capsys, "--steps", "4")
    assert code == 0
    found = objective_losses_printed(printed)
    assert sorted(found) == ["blocks", "ends"]
    for name, losses in trained["objectives"].items():
        assert found[name] == pytest.approx(losses, abs=1e-6, rel=0), name
    assert '"nest.res.1.fc.weight"' in path.read_text()  # the blocks' parameters by their own names


def test_a_block_with_two_inputs_and_outputs_takes_them_in_port_order(tmp_path):
    """Inputs listed against file order (b before a), an output that is an input passed through, and
    an inner value nothing reads: forward binds by port, returns a tuple, and the code stays clean."""
    two = {
        "inputs": ["b", "a"],
        "outputs": {"difference": "d.out", "same": "a.out"},
        "nodes": [
            {"id": "a", "type": "Input", "params": {"shape": ["N", 3]}},
            {"id": "b", "type": "Input", "params": {"shape": ["N", 3]}},
            {"id": "k", "type": "Constant", "params": {"value": [1.0, 2.0, 3.0]}},
            {"id": "m", "type": "mul"},
            {"id": "d", "type": "sub"},
            {"id": "side", "type": "tanh"},
        ],
        "edges": [
            {"from": "a.out", "to": "m.a"},
            {"from": "k.out", "to": "m.b"},
            {"from": "m.out", "to": "d.a"},
            {"from": "b.out", "to": "d.b"},
            {"from": "a.out", "to": "side.x"},
        ],
    }
    graph = graph_from(
        {
            "version": 3,
            "blocks": {"Two": two},
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": ["N", 3]}},
                {"id": "y", "type": "Input", "params": {"shape": ["N", 3], "value": [[0.5, 1.0, 2.0]]}},
                {"id": "t", "type": "Block", "params": {"block": "Two"}},
                {"id": "u", "type": "mul"},
            ],
            "edges": [
                {"from": "x.out", "to": "t.a"},
                {"from": "y.out", "to": "t.b"},
                {"from": "t.difference", "to": "u.a"},
                {"from": "t.same", "to": "u.b"},
            ],
        }
    )
    module, cls, text = exported(graph, tmp_path)
    assert "def forward(self, b, a):" in text and "return d, a" in text
    assert "t_difference, t_same = self.t(y, x)" in text  # b, a
    expected = Runtime(lower(graph), dtype="float64").forward()
    assert list(expected) == ["t/side.out", "u.out"]  # the inner tanh is left out of the export
    (found,) = exported_outputs(module, cls)
    assert torch.equal(expected["u.out"], found)
    checked = ruff("check", str(tmp_path / "net.py"))
    assert checked is None or checked.returncode == 0, checked.stdout


def test_a_repeated_block_holding_a_repeat_nests_module_lists(tmp_path, capsys):
    data = json.loads(dumps(network()))
    next(n for n in data["nodes"] if n["id"] == "nest")["params"]["repeat"] = 2
    graph = graph_from(data)
    module, cls, _ = exported(graph, tmp_path)
    keys = set(cls().state_dict())
    assert {"nest.1.res.0.fc.weight", "nest.0.res.1.fc.bias", "nest.1.gain"} <= keys
    assert not any(key.startswith("nest.2.") or key.startswith("nest.res") for key in keys)
    ran = cli_json(capsys, "run", saved(graph, tmp_path))["outputs"]
    for expected, value in zip(ran.values(), exported_outputs(module, cls), strict=True):
        assert torch.equal(torch.tensor(expected, dtype=torch.float64), value.detach())


def test_a_group_naming_a_block_and_a_predict_naming_a_block_port_export_as_they_train(tmp_path, capsys):
    """One objective over every ResBlock instance (res1, res2's copies, the one inside nest) and the
    head, predicting what res2 gives out: the script trains those weights alone, as graphcore train."""
    graph = network(training=True)
    section = graph.training
    section["predict"] = "nest.out"
    section["objectives"] = [
        {"name": "blocks", "loss": section.pop("loss"), "parameters": ["ResBlock", "head"]}
    ]
    section["objectives"][0]["optimizer"] = section.pop("optimizer")
    path, _ = write_export(graph, tmp_path, "net", train=True)
    trained = graphcore_train(saved(graph, tmp_path, "graph"), capsys, "--steps", "4")
    code, printed = exported_train(path, capsys, "--steps", "4")
    assert code == 0
    found = losses_printed(printed) or objective_losses_printed(printed)["blocks"]
    assert found == pytest.approx(trained["losses"], abs=1e-6, rel=0)
    text = path.read_text()
    assert '"res2.2.fc.weight"' in text and '"out.weight"' not in text  # the chosen weights, by name
