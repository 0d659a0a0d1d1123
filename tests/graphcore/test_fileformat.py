"""File format v1: round trips, and one clear line for every kind of bad file."""

import json
from pathlib import Path

import pytest

from graphcore.fileformat import FileFormatError, dumps, graph_to_dict, load, loads, save

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.json"))


def doc(**changes):
    base = {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [
            {
                "id": "w",
                "type": "Parameter",
                "params": {"shape": [], "init": "value", "value": 0.5},
                "label": "w",
                "pos": [0, 0],
            },
            {"id": "x", "type": "Input", "params": {"shape": [], "value": 1.5}},
            {"id": "z", "type": "mul"},
        ],
        "edges": [{"from": "w.out", "to": "z.a"}, {"from": "x.out", "to": "z.b"}],
    }
    base.update(changes)
    return json.dumps(base)


def test_the_issue_example_loads():
    graph = loads(doc())
    assert [n.id for n in graph.nodes] == ["w", "x", "z"]
    assert graph.node("w").label == "w" and graph.node("x").pos == (0.0, 0.0)
    assert len(graph.edges) == 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip_exactly(path, tmp_path):
    graph = load(path)
    save(graph, tmp_path / "again.json")
    again = load(tmp_path / "again.json")
    assert graph_to_dict(again) == graph_to_dict(graph)
    assert graph_to_dict(graph)["nodes"] == [
        {**n, "pos": [float(p) for p in n.get("pos", [0, 0])]} for n in json.loads(path.read_text())["nodes"]
    ]


def test_training_and_meta_are_kept():
    training = {"dataset": {"name": "xor"}, "inputs": {"x": "x"}, "loss": "z.out"}
    graph = loads(doc(training=training, meta={"groups": []}))
    again = loads(dumps(graph))
    assert again.training == training and again.meta == {"groups": []}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "f.json: not valid JSON (line 1, column 2"),
        ("[]", "f.json: top level: expected a JSON object"),
        (doc(format="other"), "f.json: format: expected 'backprop-studio-graph', got 'other'"),
        (doc(version="1"), "f.json: version: expected a format version (1, 2, ...), got '1'"),
        (doc(colour=1), "f.json: top level: unknown key 'colour'"),
        (
            doc(nodes=[{"id": "a.b", "type": "neg"}], edges=[]),
            "f.json: nodes[0].id: expected a non-empty string",
        ),
        (
            doc(nodes=[{"id": "n", "type": "Linear", "params": {"in_features": "3"}}], edges=[]),
            "f.json: nodes[0] (id 'n').params.in_features: expected an integer, got '3'",
        ),
        (
            doc(nodes=[{"id": "n", "type": "neg", "params": {"bogus": 1}}], edges=[]),
            "f.json: nodes[0] (id 'n').params.bogus: neg has no param 'bogus'",
        ),
        (
            doc(nodes=[{"id": "n", "type": "neg", "pos": [1]}], edges=[]),
            "f.json: nodes[0] (id 'n').pos: expected [x, y]",
        ),
        (
            doc(nodes=[{"id": "n", "type": "neg"}, {"id": "n", "type": "neg"}], edges=[]),
            "f.json: nodes[1] (id 'n').id: duplicate node id",
        ),
        (
            doc(edges=[{"from": "w.out", "to": "ghost.a"}]),
            "f.json: edges[0].to: dangling edge: there is no node 'ghost'",
        ),
        (
            doc(edges=[{"from": "w.nope", "to": "z.a"}]),
            "f.json: edges[0]: w.nope is not an output of Parameter",
        ),
        (
            doc(edges=[{"from": "w.out", "to": "z.a"}, {"from": "x.out", "to": "z.a"}]),
            "f.json: edges[1].to: z.a already has an incoming edge",
        ),
        (doc(edges=[{"from": "w", "to": "z.a"}]), "f.json: edges[0].from: expected 'node.port', got 'w'"),
    ],
)
def test_bad_files_give_one_line_naming_what_and_where(text, message):
    with pytest.raises(FileFormatError) as caught:
        loads(text, "f.json")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        load(tmp_path / "absent.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FileFormatError, match="cannot read"):
        load(tmp_path / "binary.json")


def test_loading_never_evaluates_code(tmp_path):
    hostile = doc(
        nodes=[{"id": "n", "type": "Constant", "params": {"value": "__import__('os').system('touch x')"}}],
        edges=[],
    )
    with pytest.raises(FileFormatError, match="expected a number or a rectangular nested list"):
        loads(hostile)


def test_save_is_atomic_and_leaves_no_temporary(tmp_path):
    graph = loads(doc())
    target = tmp_path / "g.json"
    save(graph, target)
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]
    assert load(target).node("w").params["value"] == 0.5
