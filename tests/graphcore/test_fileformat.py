"""File format v1: round trips, and one clear line for every kind of bad file."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcore.files.fileformat import FileFormatError, dumps, graph_to_dict, load, loads, save
from graphcore.graph import PortRef

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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_folders_and_special_files_are_refused_without_reading(tmp_path):
    with pytest.raises(FileFormatError, match=r"is a folder, not a graph file$"):
        load(tmp_path)
    os.mkfifo(tmp_path / "pipe.json")  # reading it would block for ever
    with pytest.raises(FileFormatError, match=r"pipe\.json: is not a regular file$"):
        load(tmp_path / "pipe.json")


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


# --- limits: each with its own one-line message ----------------------------------------------------


def refusal(text: str) -> str:
    with pytest.raises(FileFormatError) as caught:
        loads(text, "f.json")
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    return message


def node_doc(**node):
    return doc(nodes=[{"id": "n", "type": "neg", **node}], edges=[])


def test_deep_nesting_is_refused_not_a_recursion_error():
    assert "nest too deep" in refusal('{"meta": ' + "[" * 100_000 + "]" * 100_000 + "}")
    meta = json.loads(doc())
    text = json.dumps(meta)[:-1] + ', "meta": {"deep": ' + "[" * 1000 + "]" * 1000 + "}}"
    assert refusal(text).startswith("f.json: ")
    constant = doc(nodes=[{"id": "c", "type": "Constant", "params": {"value": "V"}}], edges=[]).replace(
        '"V"', "[" * 500 + "1" + "]" * 500
    )
    message = refusal(constant)
    assert (
        message.startswith("f.json: nodes[0] (id 'c').params.value[0][0]")
        and "nested more than 64" in message
    )


def test_integers_past_pythons_digit_limit_and_absurd_params():
    text = doc().replace('"value": 0.5', '"value": ' + "9" * 5000)
    column = text.index("9999") + 1
    assert (
        refusal(text)
        == f"f.json: line 1, column {column}: an integer of more than 4300 digits; at most 4300 are read"
    )
    assert "is too large" in refusal(doc(nodes=[{"id": "n", "type": "neg", "pos": [10**30, 0]}], edges=[]))
    linear = {"id": "n", "type": "Linear", "params": {"in_features": 10**12, "out_features": 2}}
    assert refusal(doc(nodes=[linear], edges=[])) == (
        "f.json: nodes[0] (id 'n').params.in_features: 1000000000000 is too large (at most 2,147,483,647 in size)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            node_doc(pos=[float("nan"), 0]),
            "f.json: nodes[0] (id 'n').pos[0]: expected a finite number, got nan",
        ),
        (
            node_doc(pos=[0, float("-inf")]),
            "f.json: nodes[0] (id 'n').pos[1]: expected a finite number, got -inf",
        ),
        (
            doc(meta={"view": {"center": [0, 0], "zoom": float("inf")}}),
            "f.json: meta.view.zoom: expected a finite number, got inf",
        ),
        (
            doc(nodes=[{"id": "x", "type": "Input", "params": {"shape": [float("nan")]}}], edges=[]),
            "f.json: nodes[0] (id 'x').params.shape[0]: expected a finite number, got nan",
        ),
    ],
)
def test_non_finite_numbers_are_refused(text, message):
    assert "NaN" in text or "Infinity" in text
    assert refusal(text) == message


def test_a_lone_surrogate_is_refused_on_load():
    assert refusal(node_doc(label="ab\ud800")) == (
        "f.json: nodes[0] (id 'n').label: character 2 is a lone surrogate ('\\ud800'), "
        "which cannot be saved as UTF-8"
    )
    assert loads(node_doc(label="λ→∂😀")).node("n").label == "λ→∂😀"  # a real pair is fine
    assert refusal(doc(edges=[{"from": "w.out", "to": "z.\ud800"}])) == (
        "f.json: edges[0].to: character 2 is a lone surrogate ('\\ud800'), which cannot be saved as UTF-8"
    )


def test_meta_keys_the_app_reads_are_type_checked():
    assert refusal(doc(meta={"name": 5})) == "f.json: meta.name: expected a string, got 5"
    assert refusal(doc(meta={"view": {"center": [0], "zoom": 1}})).startswith(
        "f.json: meta.view.center: expected [x, y], got [0]"
    )
    assert loads(doc(meta={"groups": [{"id": 1}]})).meta == {"groups": [{"id": 1}]}  # the editor skips it


def test_long_strings_and_long_values_are_shortened():
    assert refusal(node_doc(label="x" * 200_000)) == (
        "f.json: nodes[0] (id 'n').label: a string of 200,000 characters; at most 100,000 are allowed"
    )
    assert refusal(node_doc(label="x" * 5000)) == (
        "f.json: nodes[0] (id 'n').label: a string of 5,000 characters; at most 1,000 are allowed"
    )
    message = refusal(node_doc(pos=["y" * 50_000, 0]))
    assert (
        message.startswith("f.json: nodes[0] (id 'n').pos[0]: expected a number, got 'yyy")
        and "..." in message
    )


def test_file_size_and_counts_have_their_own_limits(tmp_path, monkeypatch):
    from graphcore.files import fileformat

    big = tmp_path / "big.json"
    big.write_text(doc())
    monkeypatch.setattr(fileformat, "MAX_FILE_BYTES", 100)
    with pytest.raises(FileFormatError, match=r"big\.json: is 0 MB; at most 0 MB are read$"):
        load(big)
    monkeypatch.setattr(fileformat, "MAX_FILE_BYTES", 2**20)
    monkeypatch.setattr(fileformat, "MAX_NODES", 2)
    assert refusal(doc()) == "f.json: nodes: 3 entries; at most 2 are read"
    monkeypatch.setattr(fileformat, "MAX_EDGES", 1)
    assert refusal(doc(nodes=[])) == "f.json: edges: 2 entries; at most 1 are read"


def test_the_training_section_is_checked_when_the_file_loads():
    assert refusal(doc(training={"optimizer": "sgd"})) == "f.json: training.dataset: is required"
    section = {"dataset": {"name": "xor"}, "inputs": {"x": "x"}, "loss": "z.out", "batch_size": 0}
    assert refusal(doc(training=section)).startswith(
        "f.json: training.batch_size: must be a positive integer"
    )


def test_a_cycle_names_an_edge_on_it():
    nodes = [{"id": "a", "type": "neg"}, {"id": "b", "type": "neg"}]
    edges = [{"from": "a.out", "to": "b.x"}, {"from": "b.out", "to": "a.x"}]
    assert refusal(doc(nodes=nodes, edges=edges)) == "f.json: edges[0]: a.out → b.x would make a cycle"


# --- placeholders and versions ---------------------------------------------------------------------


def test_unknown_node_types_are_kept_as_placeholders_and_saved_unchanged():
    from graphcore.validate import validate

    future = {
        "id": "q",
        "type": "Quux",
        "params": {"whatever": [1, {"a": None}]},
        "label": "Q",
        "pos": [5, 6],
    }
    base = json.loads(doc())
    text = doc(nodes=[*base["nodes"], future], edges=[*base["edges"], {"from": "z.out", "to": "q.in"}])
    graph = loads(text)
    assert [str(s) for s in graph.consumers_of(graph.source_of(PortRef("q", "in")))] == ["q.in"]
    report = validate(graph)
    assert "q: unknown node type 'Quux' (from a newer version?)" in [str(d) for d in report.diagnostics]
    assert graph_to_dict(graph)["nodes"][3] == {**future, "pos": [5.0, 6.0]}
    assert graph_to_dict(loads(dumps(graph))) == graph_to_dict(graph)


def test_a_newer_version_opens_and_is_written_back_as_it_came():
    text = doc(version=4, plugins={"colour": "red"})
    graph = loads(text)
    again = graph_to_dict(graph)
    assert again["version"] == 4 and again["plugins"] == {"colour": "red"}
    assert refusal(doc(version=1, plugins={})).startswith("f.json: top level: unknown key 'plugins'")


# --- the schema ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_fits_the_schema(path):
    from jsonschema import Draft202012Validator

    from graphcore.files.fileformat import schema

    Draft202012Validator.check_schema(schema())
    assert list(Draft202012Validator(schema()).iter_errors(json.loads(path.read_text()))) == []


def test_the_schema_is_published_in_the_docs():
    from graphcore.files.fileformat import schema

    text = (Path(__file__).parents[2] / "docs" / "file-format.md").read_text(encoding="utf-8")
    published = text.split("```json schema\n", 1)[1].split("```", 1)[0]
    assert json.loads(published) == schema()


NODE_PARTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=3),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NODE_KEYS = st.sampled_from(["id", "type", "params", "label", "pos", "extra"])


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.dictionaries(NODE_KEYS, NODE_PARTS | st.sampled_from(["a.b", "n", "x" * 201])))
def test_the_quick_node_check_never_accepts_what_the_schema_refuses(entry):
    """_plain_node skips jsonschema for speed; it must only ever accept nodes the schema accepts."""
    from graphcore.files.fileformat import _plain_node, _validator

    if _plain_node(entry):
        assert _validator("node").is_valid(entry), entry


def test_param_values_typed_in_the_app_meet_the_same_limits():
    """Param.problem is what the inspector and the loader both ask."""
    from graphcore.registry import Param

    value, name = Param("value", "value", 0.0), Param("name", "str", "")
    assert value.problem([[[[1]]]]) is None
    assert value.problem(json.loads("[" * 40 + "1" + "]" * 40)) == "nested more than 32 levels deep"
    assert value.problem(2**60).startswith("expected a number or a rectangular nested list")
    assert value.problem(float("nan")).startswith("expected a number")
    assert (
        name.problem("ok\ud800") == "holds a string that cannot be saved (a lone surrogate such as \\ud800)"
    )
    assert name.problem("x" * 10_001) == "is 10,001 characters long; at most 10,000 are allowed"
    assert Param("dim", "int", 0).problem(-(2**40)) == (
        "-1099511627776 is too large (at most 2,147,483,647 in size)"
    )
    assert (
        Param("k", "ints", 1).problem([1, 2**31]) == "2147483648 is too large (at most 2,147,483,647 in size)"
    )
    long_list = Param("n", "int", 0).problem(list(range(10**6)))
    assert long_list.startswith("expected an integer, got [0, 1, 2") and len(long_list) < 120


def test_a_failed_save_raises_save_error_and_keeps_the_old_file(tmp_path):
    from graphcore.files.atomic_write import SaveError

    graph = loads(doc())
    target = tmp_path / "g.json"
    save(graph, target)
    graph.set_attr("w", "label", "bad\ud800")  # what a file could once smuggle in
    with pytest.raises(
        SaveError, match=r"^cannot save .*g\.json: character \d+ \('\\ud800'\) cannot be written"
    ):
        save(graph, target)
    assert load(target).node("w").label == "w" and sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]
    graph.set_attr("w", "label", "new")
    save(graph, target)
    assert load(target).node("w").label == "new" and load(tmp_path / "g.json.bak").node("w").label == "w"


NESTED = [[[[[[[[1]]]]]]]]
LIMIT_PARTS = NODE_PARTS | st.sampled_from(
    [float("nan"), float("inf"), 2**64, -(2**64), "a\ud800", "x" * 100_001, NESTED * 8, [[1] * 3] * 70]
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(
    st.dictionaries(NODE_KEYS, LIMIT_PARTS | st.dictionaries(st.text(max_size=3), LIMIT_PARTS, max_size=3)),
    st.sampled_from(
        [{"from": "n.out", "to": "m.x"}, {"from": "n.out", "to": "m.\ud800"}, {"from": "n", "to": 1}]
    ),
)
def test_the_quick_file_check_never_accepts_what_the_limits_or_the_schema_refuse(entry, edge):
    """_plain stands in for the limits and the schema together; whatever it accepts, both accept."""
    from graphcore.files.fileformat import _check_limits, _check_schema, _plain

    for params in (None, entry.get("params")):
        node = entry if params is None else {"id": "n", "type": "neg", "params": params}
        data = {"format": "backprop-studio-graph", "version": 1, "nodes": [node], "edges": [edge]}
        if _plain(data):
            _check_limits(data)
            _check_schema(data, newer=False)
