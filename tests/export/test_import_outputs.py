"""An imported graph's outputs are exactly the values forward returns, in order: a returned value that
other nodes read too stays an output (a VAE's mu and logvar), a value forward does not return is none
(an LSTM's final h and c), and import -> export -> import keeps them, through a saved file."""

from __future__ import annotations

import json

import pytest
import torch
from export_cases import load_file, write_export
from test_import_weights import MODULES, built, example, returned
from torch import nn

from graphcore.exchange.importer import import_module
from graphcore.files.fileformat import FileFormatError, load, loads, save
from graphcore.program import lower
from graphcore.runtime import Runtime


class LeNetWithProbabilities(nn.Module):
    """LeNet-5's head returning its logits, which the softmax reads too, and the probabilities."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 12)
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        logits = self.fc2(torch.tanh(self.fc1(x)))
        return logits, torch.softmax(logits, dim=1)


class StateOnly(nn.Module):
    """Returns the LSTM's final state before its output: the order is forward's, not the graph's."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return c, out


def outputs_of(graph, inputs: dict) -> tuple:
    """What the graph computes for its outputs (the program's sinks), in order."""
    runtime = Runtime(lower(graph), dtype="float32")
    runtime.module.eval()
    with torch.no_grad():
        values = runtime.forward(inputs)
    return tuple(values[v] for v in lower(graph).sinks)


def assert_same(got: tuple, expected: tuple) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", MODULES)
def test_the_graphs_outputs_are_what_forward_returns_in_order(name, tmp_path):
    module = built(name)
    result = import_module(module, MODULES[name][1])
    save(result.graph, tmp_path / "model.json")
    graph = load(tmp_path / "model.json")
    assert lower(graph).sinks == tuple(result.returned)
    inputs = example(name)
    assert_same(outputs_of(graph, inputs), returned(module, inputs))


def test_a_returned_value_read_by_other_nodes_stays_an_output():
    torch.manual_seed(0)
    module = LeNetWithProbabilities().eval()
    result = import_module(module, {"x": {"shape": ["N", 16]}})
    logits, probabilities = lower(result.graph).sinks
    assert result.graph.consumers_of(_port(logits))  # the softmax reads the logits
    x = torch.randn(3, 16)
    assert_same(outputs_of(result.graph, {"x": x}), returned(module, {"x": x}))


def test_an_lstm_state_forward_does_not_return_is_no_output():
    torch.manual_seed(0)
    module = built("TextLSTM")
    result = import_module(module, MODULES["TextLSTM"][1])
    (lstm,) = [n.id for n in result.graph.nodes if n.type == "LSTM"]
    sinks = lower(result.graph).sinks
    assert len(sinks) == 1 and not any(v.startswith(f"{lstm}.") for v in sinks)


def test_forwards_order_is_kept_when_it_differs_from_the_graphs():
    torch.manual_seed(0)
    module = StateOnly().eval()
    result = import_module(module, {"x": {"shape": [5, "N", 3]}})
    (lstm,) = [n.id for n in result.graph.nodes if n.type == "LSTM"]
    assert lower(result.graph).sinks == (f"{lstm}.c", f"{lstm}.out")
    x = torch.randn(5, 2, 3)
    assert_same(outputs_of(result.graph, {"x": x}), returned(module, {"x": x}))


OWN = {  # module, its forward arguments, example values
    "LeNetWithProbabilities": (LeNetWithProbabilities, {"x": {"shape": ["N", 16]}}, {"x": (3, 16)}),
    "StateOnly": (StateOnly, {"x": {"shape": [5, "N", 3]}}, {"x": (5, 3, 3)}),
}


@pytest.mark.parametrize("name", [*OWN, "VAE", "TextLSTM"])
def test_import_export_import_keeps_forwards_returns(name, tmp_path):
    torch.manual_seed(0)
    if name in OWN:
        cls, declared, shapes = OWN[name]
        first, inputs = cls().eval(), {k: torch.randn(shape) for k, shape in shapes.items()}
    else:
        first, declared, inputs = built(name), MODULES[name][1], example(name)
    save(import_module(first, declared).graph, tmp_path / "first.json")
    path, class_name = write_export(load(tmp_path / "first.json"), tmp_path, "model")
    exported = getattr(load_file(path), class_name)().eval()
    exported.load_state_dict(first.state_dict())
    expected = returned(first, inputs)
    assert_same(returned(exported, inputs), expected)
    again = import_module(exported, declared)
    assert_same(outputs_of(again.graph, inputs), expected)


def test_outputs_that_the_graph_no_longer_has_give_way_to_the_unread_values():
    torch.manual_seed(0)
    result = import_module(LeNetWithProbabilities().eval(), {"x": {"shape": ["N", 16]}})
    graph = result.graph
    graph.meta["outputs"] = ["gone.out"]
    unread = [v for v, readers in lower(graph).consumers.items() if not readers]
    assert lower(graph).sinks == tuple(unread)


def _port(value: str):
    from graphcore.graph import PortRef

    return PortRef.parse(value)


HOSTILE = {
    "a word": ("x", "meta.outputs: expected"),
    "a number": ([1], "meta.outputs[0]: expected 'node.port'"),
    "empty text": ([""], "meta.outputs[0]: expected 'node.port'"),
    "no port": (["fc"], "meta.outputs[0]: expected 'node.port'"),
    "control characters": (["fc.\u0000"], "meta.outputs[0]: expected 'node.port'"),
    "nested": ([[["fc.out"]]], "meta.outputs[0]: expected 'node.port'"),
    "huge": (["fc.out"] * 5000, "meta.outputs: expected"),
    "an object": ({"fc": "out"}, "meta.outputs: expected"),
    "non-finite": ([float("inf")], "meta.outputs"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_outputs_list_is_one_line_naming_it(case):
    value, message = HOSTILE[case]
    text = json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 2,
            "nodes": [],
            "edges": [],
            "meta": {"outputs": value},
        }
    )
    with pytest.raises(FileFormatError) as error:
        loads(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_unicode_outputs_load_and_name_the_value():
    graph = loads(
        json.dumps(
            {
                "format": "backprop-studio-graph",
                "version": 2,
                "nodes": [{"id": "х₁", "type": "Input", "params": {"shape": [2]}}],
                "edges": [],
                "meta": {"outputs": ["х₁.out"]},
            }
        )
    )
    assert lower(graph).sinks == ("х₁.out",)
