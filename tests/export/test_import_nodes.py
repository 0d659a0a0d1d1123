"""The NODES table: an export imports with its nodes' ids, labels and positions, and a table that is
not one an export wrote (wrong types, unknown names, duplicate or colliding ids, huge or odd text) is
ignored or refused with one line, never a traceback. Every example's round trip is
tests/export/test_import_torch.py (assert_same_nodes)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from export_cases import assert_same_nodes, graph_from, write_export

from graphcore.exchange.export import export_python
from graphcore.exchange.importer import import_from_file
from graphcore.files.fileformat import dumps, load, loads
from graphcore.graph import BLOCK_TYPE
from graphcore.validate import validate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        h = self.fc(x)
        out = torch.tanh(h)
        return out
"""
CODE_IDS = {"x", "h", "out"}  # what the import names Net's nodes without a table


def imported(tmp_path: Path, table: str):
    path = tmp_path / "net.py"
    path.write_text(NET + ("\n" + textwrap.dedent(table) if table else ""), encoding="utf-8")
    _, result = import_from_file(f"{path}:Net", ["x=[N,3]"], "{}")
    assert validate(result.graph).ok
    assert loads(dumps(result.graph)) is not None  # what it imported can be saved and read back
    return result


def test_a_module_without_a_table_keeps_the_names_of_its_code(tmp_path):
    result = imported(tmp_path, "")
    assert {n.id for n in result.graph.nodes} == CODE_IDS and result.notes == []
    assert all(n.label == "" for n in result.graph.nodes)


def test_a_table_gives_ids_and_labels_back_in_any_script(tmp_path):
    result = imported(
        tmp_path,
        """
        NODES = {
            "Net": {
                "x": {"id": "données", "label": "x ∈ ℝ³"},
                "self.fc": {"id": "affine map", "label": "z = wx + b", "pos": [1, 2]},
                "out": {"id": "hidden", "label": "__import__('os').system('touch pwned')\\n'''"},
            },
        }
        """,
    )
    assert result.notes == []
    nodes = {n.id: n for n in result.graph.nodes}
    assert set(nodes) == {"données", "affine map", "hidden"}
    assert nodes["affine map"].label == "z = wx + b"
    assert nodes["données"].label == "x ∈ ℝ³"
    assert nodes["hidden"].label.startswith("__import__")
    assert nodes["affine map"].pos != (1.0, 2.0)  # not every node has a place: the import lays them out
    assert result.graph.meta.get("outputs") in (None, ["hidden.out"])
    # exported again, the label is a literal of the NODES table and nothing else
    source = export_python(result.graph, name="net").source
    table = next(
        s.value
        for s in ast.parse(source).body
        if isinstance(s, ast.Assign) and getattr(s.targets[0], "id", "") == "NODES"
    )
    assert ast.literal_eval(table)["Net"]["hidden"]["label"] == nodes["hidden"].label


def test_unknown_classes_and_names_are_ignored(tmp_path):
    result = imported(tmp_path, 'NODES = {"Other": {"x": {"id": "q"}}, "Net": {"nothing": {"id": "q"}}}')
    assert {n.id for n in result.graph.nodes} == CODE_IDS and result.notes == []


def test_a_table_id_taken_by_another_node_moves_that_node_aside(tmp_path):
    result = imported(tmp_path, 'NODES = {"Net": {"out": {"id": "x"}}}')
    assert {n.id: n.type for n in result.graph.nodes} == {"x2": "Input", "h": "Linear", "x": "tanh"}
    swapped = imported(tmp_path, 'NODES = {"Net": {"x": {"id": "out"}, "out": {"id": "x"}}}')
    assert {n.id: n.type for n in swapped.graph.nodes} == {"out": "Input", "h": "Linear", "x": "tanh"}
    assert swapped.notes == []


MALFORMED = {
    "not a dict": ("NODES = 5", "expected a dict of classes, not int"),
    "a list of names": ('NODES = {"Net": [1, 2]}', "expected a class name and a dict"),
    "a class that is no string": ("NODES = {3: {}}", "expected a class name"),
    "a name that is no string": ('NODES = {"Net": {1: {"id": "a"}}}', "names are not all strings"),
    "a dict subclass": ('NODES = type("D", (dict,), {})(Net={})', "not D"),
    "an entry that is no dict": ('NODES = {"Net": {"out": "hidden"}}', "Net.out: expected"),
    "an id that is no string": ('NODES = {"Net": {"out": {"id": 5}}}', "Net.out: expected"),
    "a label that is no string": ('NODES = {"Net": {"out": {"id": "a", "label": 5}}}', "label"),
    "a huge label": ('NODES = {"Net": {"out": {"id": "a", "label": "x" * 100_000}}}', "at most 1000"),
    "a huge id": ('NODES = {"Net": {"out": {"id": "a" * 500}}}', "at most 200 characters"),
    "an empty id": ('NODES = {"Net": {"out": {"id": " "}}}', "cannot be empty"),
    "an id with a dot": ('NODES = {"Net": {"out": {"id": "a.b"}}}', "cannot contain '.'"),
    "an id with a newline": ('NODES = {"Net": {"out": {"id": "a\\nb"}}}', "control character"),
    "an id of a lone surrogate": ('NODES = {"Net": {"out": {"id": "\\udcff"}}}', "UTF-8"),
    "a label of a lone surrogate": ('NODES = {"Net": {"out": {"id": "a", "label": "\\udcff"}}}', "UTF-8"),
    "a NaN position": ('NODES = {"Net": {"out": {"id": "a", "pos": [float("nan"), 0]}}}', "pos"),
    "a huge position": ('NODES = {"Net": {"out": {"id": "a", "pos": [10**400, 0]}}}', "pos"),
    "a bool position": ('NODES = {"Net": {"out": {"id": "a", "pos": [True, 0]}}}', "pos"),
    "a position that is text": ('NODES = {"Net": {"out": {"id": "a", "pos": "far"}}}', "pos"),
    "an unknown key": ('NODES = {"Net": {"out": {"id": "a", "code": "os.system(1)"}}}', "unknown key"),
    "a duplicate id": ('NODES = {"Net": {"self.fc": {"id": "a"}, "out": {"id": "a"}}}', "two names"),
    "a huge name": ('NODES = {"Net": {"out" + "\\n" * 10**6: {"id": "a"}}}', None),
    "too many names": ('NODES = {"Net": {str(i): {"id": "a"} for i in range(200_000)}}', "more than"),
}


@pytest.mark.parametrize("table,message", MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_table_is_refused_with_one_line(tmp_path, table, message):
    result = imported(tmp_path, table)
    notes = [note for note in result.notes if note.startswith("NODES:")]
    if message is None:  # a name nothing has: ignored
        assert notes == [] and {n.id for n in result.graph.nodes} == CODE_IDS
        return
    assert len(notes) == 1 and "\n" not in notes[0] and len(notes[0]) < 400, notes
    assert message in notes[0]
    ids = {n.id for n in result.graph.nodes}
    assert len(ids) == 3 and "x" in ids and ids & {"h", "out"}  # what the table could not name stays


# A block whose ids are no Python names: its class's argument and attributes are sanitised names,
# the table gives the ids back, and the Block nodes' edges follow the port's name.
ODD_BLOCK = {
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 4]}},
        {"id": "first block", "type": BLOCK_TYPE, "params": {"block": "Res"}, "label": "once"},
        {"id": "more", "type": BLOCK_TYPE, "params": {"block": "Res", "repeat": 2}, "label": "Res ×2"},
        {"id": "sum", "type": "add", "label": "y = a + b"},
    ],
    "edges": [
        {"from": "x.out", "to": "first block.the input"},
        {"from": "x.out", "to": "more.the input"},
        {"from": "first block.y", "to": "sum.a"},
        {"from": "more.y", "to": "sum.b"},
    ],
    "blocks": {
        "Res": {
            "inputs": ["the input"],
            "outputs": {"y": "2nd.out"},
            "nodes": [
                {"id": "the input", "type": "Input", "params": {"shape": ["N", 4]}, "label": "features"},
                {"id": "fc 1", "type": "Linear", "params": {"in_features": 4, "out_features": 4}},
                {"id": "2nd", "type": "tanh", "label": "z = tanh(wx + b)"},
            ],
            "edges": [{"from": "the input.out", "to": "fc 1.x"}, {"from": "fc 1.out", "to": "2nd.x"}],
        }
    },
}


def test_blocks_keep_their_ids_labels_and_port_names(tmp_path):
    graph = graph_from(ODD_BLOCK)
    assert validate(graph).ok
    path, class_name = write_export(graph, tmp_path, "odd")
    _, result = import_from_file(f"{path}:{class_name}", [], "{}")
    assert result.notes == [] and validate(result.graph).ok
    assert_same_nodes(graph, result.graph)
    assert result.graph.blocks["Res"].inputs == ("the input",)
    assert {(str(s), str(d)) for s, d in result.graph.edges} >= {
        ("x.out", "first block.the input"),
        ("x.out", "more.the input"),
    }
    weights = result.graph.weights
    assert weights is not None and {p.partition(".")[0] for p in weights.places.values()} == {
        "first block/fc 1",
        "more/1/fc 1",
        "more/2/fc 1",
    }


def test_an_export_with_blocks_imported_flat_keeps_its_top_level_ids(tmp_path):
    graph = load(EXAMPLES / "resnet_blocks.json")
    path, class_name = write_export(graph, tmp_path, "res")
    _, result = import_from_file(f"{path}:{class_name}", [], "{}", flat=True)
    assert not result.graph.blocks and validate(result.graph).ok
    top = {(n.id, n.label) for n in graph.nodes if n.type != BLOCK_TYPE}
    assert top <= {(n.id, n.label) for n in result.graph.nodes}
