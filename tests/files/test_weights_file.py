"""A graph's weights side file (graphcore.files.weights): written and read as safetensors, put into
the runtime's module, and refused, with one line naming the file and the key, when it is hostile."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch

from graphcore.cli.main import main
from graphcore.files import weights as side_file
from graphcore.files.fileformat import FileFormatError, load, loads, save
from graphcore.graph import Graph, Node, PortRef
from graphcore.program import lower
from graphcore.runtime import Runtime


def linear_graph() -> Graph:
    """x -> Linear(3, 2) -> out, plus a Parameter added to it: a layer's weights and a node's own."""
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", 3]}))
    graph.add_node(Node("fc", "Linear", {"in_features": 3, "out_features": 2}))
    graph.add_node(Node("shift", "Parameter", {"shape": [2], "init": "zeros"}))
    graph.add_node(Node("out", "add", {}))
    graph.connect(PortRef("x", "out"), PortRef("fc", "x"))
    graph.connect(PortRef("fc", "out"), PortRef("out", "a"))
    graph.connect(PortRef("shift", "out"), PortRef("out", "b"))
    return graph


def trained(graph: Graph) -> side_file.Weights:
    """The graph's module with chosen values, collected as Weights (what the app saves after training)."""
    runtime = Runtime(lower(graph), dtype="float32")
    with torch.no_grad():
        for i, value in enumerate(runtime.module.parameters()):
            value.copy_(torch.arange(value.numel(), dtype=value.dtype).view(value.shape) * 0.1 + i)
    return side_file.collect(runtime.module, runtime.generated.attributes, "net.safetensors")


def saved(tmp_path: Path) -> Path:
    graph = linear_graph()
    graph.weights = trained(graph)
    path = tmp_path / "net.json"
    save(graph, path)
    return path


def test_saved_weights_are_referenced_read_back_and_computed_with(tmp_path):
    graph = linear_graph()
    graph.weights = trained(graph)
    expected = Runtime(lower(graph), dtype="float64").forward()
    path = tmp_path / "net.json"
    save(graph, path)
    assert json.loads(path.read_text())["weights"] == "net.safetensors"
    assert set(safetensors.torch.load_file(tmp_path / "net.safetensors")) == {"fc.weight", "fc.bias", "shift"}
    loaded = load(path)
    got = Runtime(lower(loaded), dtype="float64").forward()
    assert torch.equal(got["out.out"], expected["out.out"])
    fresh = Runtime(lower(linear_graph()), dtype="float64").forward()  # the seed's weights differ
    assert not torch.allclose(fresh["out.out"], expected["out.out"])
    other = tmp_path / "copy"
    other.mkdir()
    save(loaded, other / "again.json")  # saved elsewhere: the side file goes along
    assert (other / "net.safetensors").is_file()
    assert torch.equal(
        Runtime(lower(load(other / "again.json")), dtype="float64").forward()["out.out"], got["out.out"]
    )


def test_new_weights_take_the_graph_files_name(tmp_path):
    graph = linear_graph()
    graph.weights = trained(graph)
    graph.weights.reference = "anything.safetensors"
    graph.weights.origin = None
    save(graph, tmp_path / "my model.json")
    assert json.loads((tmp_path / "my model.json").read_text())["weights"] == "my_model.safetensors"


def test_graphcore_run_computes_with_the_weights(tmp_path, capsys):
    path = saved(tmp_path)
    expected = Runtime(lower(load(path)), dtype="float64").forward()["out.out"]
    assert main(["run", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert torch.allclose(torch.tensor(report["outputs"]["out.out"], dtype=torch.float64), expected)


def test_training_starts_from_the_weights_and_updates_them():
    from graphcore.training.train import Trainer

    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", 2]}))
    graph.add_node(Node("y", "Input", {"shape": ["N", 1]}))
    graph.add_node(Node("fc", "Linear", {"in_features": 2, "out_features": 1}))
    graph.add_node(Node("loss", "MSELoss", {}))
    graph.connect(PortRef("x", "out"), PortRef("fc", "x"))
    graph.connect(PortRef("fc", "out"), PortRef("loss", "input"))
    graph.connect(PortRef("y", "out"), PortRef("loss", "target"))
    graph.weights = trained(graph)
    graph.training = {
        "dataset": {"name": "xor", "n": 4, "labels": "float"},
        "inputs": {"x": "x", "y": "y"},
        "loss": "loss.out",
        "optimizer": {"name": "sgd", "lr": 0.1},
        "batch_size": 4,
        "steps": 2,
    }
    trainer = Trainer(graph, Path("."))
    start = trainer.module.fc.weight.detach().clone()
    assert torch.equal(start, graph.weights.tensors["fc.weight"].to(start.dtype))
    trainer.step()
    assert not torch.equal(trainer.module.fc.weight.detach(), start)
    trainer.reset_weights()  # starting over starts from the file's values, not the seed's
    assert torch.equal(trainer.module.fc.weight.detach(), start)


def write_raw(folder: Path, header: dict, body: bytes = b"", name: str = "net.safetensors") -> Path:
    text = json.dumps(header).encode()
    (folder / name).write_bytes(struct.pack("<Q", len(text)) + text + body)
    return folder / name


def places(**table: str) -> dict:
    return {"__metadata__": {side_file.PLACES: json.dumps(table), side_file.TIES: "{}"}}


def test_hostile_weights_files_are_refused_with_one_line(tmp_path):
    path = saved(tmp_path)
    weights_file = tmp_path / "net.safetensors"
    good = weights_file.read_bytes()

    def refused(expected: str) -> str:
        with pytest.raises(FileFormatError) as caught:
            Runtime(lower(load(path)), dtype="float32")
        message = str(caught.value)
        assert "\n" not in message and str(weights_file) in message and expected in message, message
        return message

    weights_file.unlink()
    refused("no such file")
    weights_file.write_text("this is not a weights file at all")
    refused("a header of")
    weights_file.write_bytes(struct.pack("<Q", 7) + b"{nope!}")
    refused("not a safetensors file (its header is not JSON)")
    weights_file.write_bytes(good[: len(good) - 10])
    refused("truncated")
    weights_file.write_bytes(good[:30])
    refused("truncated")
    weights_file.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    refused("a header of 1,099,511,627,776 bytes")
    weights_file.write_bytes(b"\x01\x02")
    refused("truncated")
    body = struct.pack("<f", float("nan"))
    write_raw(
        tmp_path,
        {**places(shift="shift"), "shift": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
        body,
    )
    refused("key 'shift': holds NaN or infinite values")
    write_raw(
        tmp_path,
        {**places(shift="shift"), "shift": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}},
        bytes(4),
    )
    refused("key 'shift': dtype F16")
    write_raw(
        tmp_path,
        {**places(shift="ghost"), "shift": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
        bytes(8),
    )
    refused("key 'shift': the graph has no node 'ghost'")
    write_raw(tmp_path, {"shift": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
    refused("key 'shift': graphcore.places does not say which node it belongs to")
    write_raw(
        tmp_path,
        {**places(shift="shift"), "shift": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
        bytes(8),
    )
    refused("key 'shift': data_offsets do not fit its shape")


def refused_at_runtime(tmp_path: Path, tensors: dict, table: dict) -> str:
    path = saved(tmp_path)
    safetensors.torch.save_file(tensors, tmp_path / "net.safetensors", {side_file.PLACES: json.dumps(table)})
    graph = load(path)
    with pytest.raises(side_file.WeightsError) as caught:
        Runtime(lower(graph), dtype="float32")
    message = str(caught.value)
    assert "\n" not in message and "net.safetensors" in message, message
    return message


def test_weights_that_do_not_fit_the_graph_are_refused(tmp_path):
    weight, bias, shift = torch.zeros(2, 3), torch.zeros(2), torch.zeros(2)
    table = {"fc.weight": "fc.weight", "fc.bias": "fc.bias", "shift": "shift"}
    message = refused_at_runtime(
        tmp_path, {"fc.weight": weight, "shift": shift}, {"fc.weight": "fc.weight", "shift": "shift"}
    )
    assert "missing key for node 'fc''s weight 'bias'" in message
    message = refused_at_runtime(
        tmp_path, {"fc.weight": torch.zeros(3, 2), "fc.bias": bias, "shift": shift}, table
    )
    assert "key 'fc.weight': shape [3, 2], but the graph's weight is [2, 3]" in message
    message = refused_at_runtime(
        tmp_path, {"fc.weight": weight, "fc.bias": torch.zeros(2, dtype=torch.long), "shift": shift}, table
    )
    assert "key 'fc.bias': dtype int64, but the graph's weight is float32" in message
    message = refused_at_runtime(
        tmp_path,
        {"fc.weight": weight, "fc.bias": bias, "fc.extra": torch.zeros(2), "shift": shift},
        {**table, "fc.extra": "fc.extra"},
    )
    assert "key 'fc.extra': node 'fc' has no weight 'extra'" in message


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("../../etc/x.safetensors", "names a folder"),
        ("sub/net.safetensors", "names a folder"),
        ("..\\x.safetensors", "names a folder"),
        ("/etc/x.safetensors", "is an absolute path"),
        ("C:x.safetensors", "is an absolute path"),
        ("modèle.safetensors", "ASCII letters"),
        ("net\u202egpj.safetensors", "ASCII letters"),
        ("..safetensors", "ASCII letters"),
        ("net.pt", "ending in .safetensors"),
        (".hidden.safetensors", "ASCII letters"),
        (42, "expected the weights file's name"),
    ],
)
def test_weights_references_name_a_file_beside_the_graph(reference, expected):
    text = json.dumps({"format": "backprop-studio-graph", "version": 2, "nodes": [], "weights": reference})
    with pytest.raises(FileFormatError) as caught:
        loads(text, "g.json")
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_a_reference_without_a_folder_is_refused_by_the_runtime_not_guessed():
    graph = loads(json.dumps({"format": "backprop-studio-graph", "version": 2, "weights": "m.safetensors"}))
    assert graph.weights is not None and graph.weights.tensors is None
    graph.add_node(Node("x", "Input", {"shape": [2]}))
    graph.add_node(Node("w", "Parameter", {"shape": [2], "init": "zeros"}))
    graph.add_node(Node("s", "add", {}))
    graph.connect(PortRef("x", "out"), PortRef("s", "a"))
    graph.connect(PortRef("w", "out"), PortRef("s", "b"))
    with pytest.raises(side_file.WeightsError, match="were not read"):
        Runtime(lower(graph))
