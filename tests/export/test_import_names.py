"""An exported graph imports with its node names: each call takes the name of the variable its line
assigns (`h1 = torch.tanh(fc1)` makes node h1, not tanh), where forward assigns that name once; a
hand-written forward that reassigns `x` line after line keeps the calls' own names."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_cases import write_export

from graphcore.exchange.importer import assigned_once, import_from_file
from graphcore.files.fileformat import load
from graphcore.registry import REGISTRY

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def titles(graph) -> set[str]:
    """What the canvas shows on each computing node: its label, else its id."""
    sources = ("input", "parameter", "constant")
    return {n.label or n.id for n in graph.nodes if REGISTRY[n.type].kind not in sources}


@pytest.mark.parametrize("name", ["xor", "digits_mlp", "digits_cnn", "cnn_bars_stripes", "two_moons"])
def test_an_exported_graph_imports_with_the_names_it_shows(name, tmp_path):
    graph = load(EXAMPLES / f"{name}.json")
    path, class_name = write_export(graph, tmp_path, "model")
    _, result = import_from_file(f"{path}:{class_name}", [], "{}")
    assert titles(result.graph) == titles(graph)


def test_xor_keeps_its_ids(tmp_path):
    graph = load(EXAMPLES / "xor.json")
    path, class_name = write_export(graph, tmp_path, "model")
    _, result = import_from_file(f"{path}:{class_name}", [], "{}")
    assert {n.id for n in result.graph.nodes} == {n.id for n in graph.nodes}


NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        hidden = torch.tanh(
            self.fc2(x)
        )
        return hidden * 2
"""


def test_a_reassigned_variable_names_nothing_and_the_last_call_of_a_line_takes_its_name(tmp_path):
    source = tmp_path / "net.py"
    source.write_text(NET)
    _, result = import_from_file(f"{source}:Net", ["x=[N,3]"], "{}")
    ids = {n.id: n.type for n in result.graph.nodes}
    assert ids["hidden"] == "tanh" and ids["fc2"] == "Linear"  # the call inside the line keeps its name
    assert "x_1" not in ids and "relu" in ids


@pytest.mark.parametrize("text", ["", "def f(:\n", "\udcff", "x = 1\n" * 3])
def test_a_file_that_does_not_parse_names_nothing(text, tmp_path):
    source = tmp_path / "odd.py"
    source.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert assigned_once(source) == {}
