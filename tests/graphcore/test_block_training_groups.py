"""Training and weights of a graph with blocks: a group of parameters may name a block instance (every
parameter inlined from it) or a block definition (all its instances), hostile names are one line, and
a weights side file keys inlined nodes by their flat ids ("res1/2/fc.weight") both ways."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from graphcore.blocks import instance_paths
from graphcore.files import weights as side_file
from graphcore.files.fileformat import FileFormatError, load, loads, save
from graphcore.graph import Graph
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.training.config import TrainingConfigError, parse
from graphcore.training.objectives import check_parameters, parameter_names, selected
from graphcore.training.train import Trainer


def residual() -> dict[str, Any]:
    return {
        "inputs": ["x"],
        "outputs": {"out": "sum.out"},
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", 4]}},
            {"id": "fc", "type": "Linear", "params": {"in_features": 4, "out_features": 4}},
            {"id": "r", "type": "tanh"},
            {"id": "sum", "type": "add"},
        ],
        "edges": [
            {"from": "x.out", "to": "fc.x"},
            {"from": "fc.out", "to": "r.x"},
            {"from": "x.out", "to": "sum.a"},
            {"from": "r.out", "to": "sum.b"},
        ],
    }


SGD = {"name": "sgd", "lr": 0.1}


def document(**training: Any) -> dict[str, Any]:
    """x → stem → res1 (Res ×2) → res2 (Res) → head → MSE against y, trained on the sine dataset."""
    nodes = [
        ("x", "Input", {"shape": ["N", 1]}),
        ("stem", "Linear", {"in_features": 1, "out_features": 4}),
        ("res1", "Block", {"block": "Res", "repeat": 2}),
        ("res2", "Block", {"block": "Res"}),
        ("head", "Linear", {"in_features": 4, "out_features": 1}),
        ("y", "Input", {"shape": ["N", 1]}),
        ("loss", "MSELoss", {}),
    ]
    wires = [
        ("x.out", "stem.x"),
        ("stem.out", "res1.x"),
        ("res1.out", "res2.x"),
        ("res2.out", "head.x"),
        ("head.out", "loss.input"),
        ("y.out", "loss.target"),
    ]
    return {
        "format": "backprop-studio-graph",
        "version": 3,
        "blocks": {"Res": residual()},
        "nodes": [{"id": i, "type": t, "params": p} for i, t, p in nodes],
        "edges": [{"from": a, "to": b} for a, b in wires],
        "training": {
            "dataset": {"name": "sine", "n": 64},
            "inputs": {"x": "x", "y": "y"},
            "batch_size": 16,
            "steps": 3,
            **(training or {"loss": "loss.out", "optimizer": SGD}),
        },
    }


def graph_with(**training: Any) -> Graph:
    return loads(json.dumps(document(**training)))


def one_group(*entries: Any) -> dict[str, Any]:
    return {
        "objectives": [{"name": "part", "loss": "loss.out", "parameters": list(entries), "optimizer": SGD}]
    }


def values(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in trainer.module.named_parameters()}


def changed_nodes(graph: Graph) -> set[str]:
    """The flat nodes whose weights three training steps change."""
    trainer = Trainer(graph)
    before = values(trainer)
    for _ in range(3):
        trainer.step()
    after = values(trainer)
    return {
        node
        for node, names in trainer.weights.items()
        if any(not torch.equal(before[n], after[n]) for n in names)
    }


def test_a_group_naming_an_instance_trains_every_parameter_inlined_from_it():
    assert changed_nodes(graph_with(**one_group("res1"))) == {"res1/1/fc", "res1/2/fc"}


def test_a_group_may_name_one_copy_of_a_repeat_or_one_inlined_node():
    assert changed_nodes(graph_with(**one_group("res1/2", "res2/fc"))) == {"res1/2/fc", "res2/fc"}


def test_every_parameter_trains_without_groups():
    assert changed_nodes(graph_with()) == {"stem", "res1/1/fc", "res1/2/fc", "res2/fc", "head"}


def flat_weights(graph: Graph) -> dict[str, list[str]]:
    runtime = Runtime(lower(graph))
    return parameter_names(runtime.module, runtime.generated.attributes, [i.node for i in runtime.program])


def test_a_group_naming_a_block_definition_takes_all_its_instances():
    graph = graph_with(**one_group("Res", "head"))
    weights, blocks = flat_weights(graph), instance_paths(graph)
    assert blocks == {"Res": ["res1", "res2"]}
    (objective,) = parse(graph.training).objectives
    check_parameters((objective,), weights, blocks)
    chosen = selected(objective, weights, blocks)
    assert chosen == {n for node in ("res1/1/fc", "res1/2/fc", "res2/fc", "head") for n in weights[node]}


def test_training_a_group_naming_a_block_definition_updates_all_its_instances_alone():
    assert changed_nodes(graph_with(**one_group("Res", "head"))) == {
        "res1/1/fc",
        "res1/2/fc",
        "res2/fc",
        "head",
    }


def test_a_section_naming_a_block_port_trains_and_retunes_live():
    """predict names the block's output port ("res2.out"), as the canvas shows it; an lr edit of the
    same section is live, not a change of its predict that waits for a fresh start."""
    graph = graph_with(loss="loss.out", predict="res2.out", optimizer=SGD)
    trainer = Trainer(graph)
    assert trainer.config.predict == "res2/sum.out"
    trainer.step()
    edited = {**graph.training, "optimizer": {**SGD, "lr": 0.05}}
    assert trainer.retune(edited) == []
    assert trainer.optimizer.param_groups[0]["lr"] == 0.05


def test_several_objectives_split_the_weights_by_block():
    graph = graph_with(
        objectives=[
            {"name": "blocks", "loss": "loss.out", "parameters": ["Res"]},
            {"name": "ends", "loss": "loss.out", "parameters": ["stem", "head"]},
        ]
    )
    objectives = parse(graph.training).objectives
    check_parameters(objectives, flat_weights(graph), instance_paths(graph))


def refusal_from_the_trainer(training: dict[str, Any], blocks: bool = False) -> str:
    graph = graph_with(**training)
    with pytest.raises(TrainingConfigError) as caught:
        if blocks:
            check_parameters(parse(graph.training).objectives, flat_weights(graph), instance_paths(graph))
        else:
            Trainer(graph)
    assert "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(
    "entries, message",
    [
        (["ghost"], "parameters[0]: there is no node 'ghost' in the graph, nor a block in use of that name"),
        (["res"], "parameters[0]: there is no node 'res' in the graph"),  # a prefix is not an instance
        (["res1/3"], "parameters[0]: there is no node 'res1/3' in the graph"),
        (["res1/2/r"], "parameters[0]: node 'res1/2/r' has no parameters to train"),
        (["res1/2/x"], "parameters[0]: there is no node 'res1/2/x'"),  # an inner Input is the outer value
    ],
)
def test_a_group_entry_that_names_nothing_trainable_is_one_line(entries, message):
    assert refusal_from_the_trainer(one_group(*entries)).startswith(f"training.objectives[0].{message}")


def test_a_node_taken_by_two_objectives_through_a_block_is_named():
    training = {
        "objectives": [
            {"name": "a", "loss": "loss.out", "parameters": ["stem", "res1", "head"], "optimizer": SGD},
            {"name": "b", "loss": "loss.out", "parameters": ["res2", "res1/2/fc"], "optimizer": SGD},
        ]
    }
    assert refusal_from_the_trainer(training) == (
        "training.objectives[1].parameters[1]: node 'res1/2/fc' is already in objectives[0].parameters[1]'s group"
    )


def test_a_block_and_an_instance_of_the_same_name_is_refused():
    document_ = document(**one_group("Res"))
    document_["nodes"][2]["id"] = "Res"
    document_["edges"] = [
        {"from": e["from"].replace("res1.", "Res."), "to": e["to"].replace("res1.", "Res.")}
        for e in document_["edges"]
    ]
    graph = loads(json.dumps(document_))
    with pytest.raises(
        TrainingConfigError,
        match=r"^training.objectives\[0\].parameters\[0\]: 'Res' names both block Res and the nodes inlined from Res$",
    ):
        check_parameters(parse(graph.training).objectives, flat_weights(graph), instance_paths(graph))


def test_a_block_whose_instances_hold_no_weights_says_so():
    document_ = document(**one_group("head", "Plain"))
    document_["blocks"]["Plain"] = {
        "inputs": ["x"],
        "outputs": {"out": "t.out"},
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": ["N", 4]}}, {"id": "t", "type": "tanh"}],
        "edges": [{"from": "x.out", "to": "t.x"}],
    }
    document_["nodes"].append({"id": "p", "type": "Block", "params": {"block": "Plain"}})
    document_["edges"].append({"from": "res2.out", "to": "p.x"})
    graph = loads(json.dumps(document_))
    with pytest.raises(TrainingConfigError, match=r"parameters\[1\]: block Plain has no parameters to train"):
        check_parameters(parse(graph.training).objectives, flat_weights(graph), instance_paths(graph))


@pytest.mark.parametrize(
    "entry, message",
    [
        ("res1.out", "expected a node or block name such as fc1 or res1, got 'res1.out'"),
        ("res1/", "expected a node or block name such as fc1 or res1"),
        ("/res1", "expected a node or block name such as fc1 or res1"),
        ("res1//fc", "expected a node or block name such as fc1 or res1"),
        ("", "must be a non-empty string"),
        (7, "must be a non-empty string, got 7"),
        (["res1"], "must be a non-empty string"),
    ],
)
def test_hostile_group_names_are_refused_when_the_section_is_read(entry, message):
    with pytest.raises(TrainingConfigError) as caught:
        parse(document(**one_group(entry))["training"])
    assert str(caught.value).startswith(f"training.objectives[0].parameters[0]: {message}")


# --- the weights side file -----------------------------------------------------------------------------


def trained_file(tmp_path: Path) -> tuple[Path, Trainer]:
    graph = graph_with()
    trainer = Trainer(graph)
    trainer.step()
    graph.weights = side_file.collect(trainer.module, trainer.runtime.generated.attributes, "net.safetensors")
    path = tmp_path / "net.json"
    save(graph, path)
    return path, trainer


def test_weights_of_inlined_nodes_save_under_their_flat_ids_and_load_back(tmp_path):
    path, trainer = trained_file(tmp_path)
    places = set(load(path).weights.places.values())  # type: ignore[union-attr]
    assert {"res1/1/fc.weight", "res1/2/fc.bias", "res2/fc.weight", "stem.weight"} <= places
    runtime = Runtime(lower(load(path)), dtype="float32")
    expected = trainer.module.state_dict()
    got = runtime.module.state_dict()
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)


@pytest.mark.parametrize("ghost", ["res3/fc", "res1/3/fc", "res1/fc", "res1/1/x"])
def test_a_weights_key_for_a_node_the_inlined_graph_lacks_is_one_line(tmp_path, ghost):
    path, _ = trained_file(tmp_path)
    weights = load(path).weights
    assert weights is not None and weights.tensors is not None
    key = next(k for k, place in weights.places.items() if place == "res2/fc.weight")
    weights.places[key] = f"{ghost}.weight"
    side_file.write(tmp_path, weights)
    with pytest.raises(FileFormatError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(f"the graph has no node {ghost!r}")


def test_a_graph_without_blocks_keeps_ids_with_a_slash_in_its_weights(tmp_path):
    plain = copy.deepcopy(document())
    del plain["blocks"]
    plain["version"] = 2
    plain["nodes"] = [
        {"id": "x", "type": "Input", "params": {"shape": [2, 1]}},
        {"id": "enc/fc", "type": "Linear", "params": {"in_features": 1, "out_features": 2}},
    ]
    plain["edges"] = [{"from": "x.out", "to": "enc/fc.x"}]
    del plain["training"]
    graph = loads(json.dumps(plain))
    runtime = Runtime(lower(graph), dtype="float32")
    graph.weights = side_file.collect(runtime.module, runtime.generated.attributes, "plain.safetensors")
    save(graph, tmp_path / "plain.json")
    assert set(load(tmp_path / "plain.json").weights.places.values()) == {"enc/fc.weight", "enc/fc.bias"}  # type: ignore[union-attr]
