"""Block definitions in the file: load, save back, and one-line refusals naming where."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from graphcore.files.fileformat import FileFormatError, dumps, graph_to_dict, loads


def residual(name: str = "Res") -> dict[str, Any]:
    return {
        "description": "x + relu(fc(x))",
        "inputs": ["x"],
        "outputs": {"out": "sum.out"},
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", 4]}},
            {"id": "fc", "type": "Linear", "params": {"in_features": 4, "out_features": 4}},
            {"id": "r", "type": "relu"},
            {"id": "sum", "type": "add"},
        ],
        "edges": [
            {"from": "x.out", "to": "fc.x"},
            {"from": "fc.out", "to": "r.x"},
            {"from": "x.out", "to": "sum.a"},
            {"from": "r.out", "to": "sum.b"},
        ],
    }


def document(**blocks: Any) -> dict[str, Any]:
    return {
        "format": "backprop-studio-graph",
        "version": 3,
        "blocks": blocks or {"Res": residual()},
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [2, 4]}},
            {"id": "res1", "type": "Block", "params": {"block": "Res", "repeat": 2}},
            {"id": "res2", "type": "Block", "params": {"block": "Res"}},
        ],
        "edges": [{"from": "x.out", "to": "res1.x"}, {"from": "res1.out", "to": "res2.x"}],
    }


def refusal(data: Any) -> str:
    with pytest.raises(FileFormatError) as caught:
        loads(json.dumps(data), "g.json")
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix("g.json: ")


def test_blocks_load_with_their_ports_and_save_back_unchanged():
    graph = loads(json.dumps(document()))
    definition = graph.blocks["Res"]
    assert definition.inputs == ("x",) and definition.outputs == {"out": "sum.out"}
    assert definition.description == "x + relu(fc(x))"
    assert [n.id for n in definition.graph.nodes] == ["x", "fc", "r", "sum"]
    assert graph.input_ports_of("res1") == ("x",) and graph.output_ports_of("res2") == ("out",)
    text = dumps(graph)
    assert json.loads(text)["version"] == 3
    assert dumps(loads(text)) == text
    assert graph_to_dict(graph)["blocks"]["Res"]["outputs"] == {"out": "sum.out"}


def test_a_file_without_blocks_stays_version_2_byte_for_byte():
    plain = {
        "format": "backprop-studio-graph",
        "version": 2,
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [2]}, "pos": [0.0, 0.0]}],
        "edges": [],
    }
    text = json.dumps(plain, indent=2) + "\n"
    assert dumps(loads(text)) == text


def test_an_edge_to_a_port_the_block_lacks_is_refused_naming_it():
    data = document()
    data["edges"][0]["to"] = "res1.y"
    assert refusal(data) == "edges[0]: res1.y is not an input of block Res"


def with_block(change: Any) -> dict[str, Any]:
    data = document()
    change(data["blocks"]["Res"])
    return data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda b: b.update(outputs={"out": "nowhere.out"}),
            "blocks.Res: outputs.out: there is no node 'nowhere' in the block",
        ),
        (lambda b: b.update(outputs={"out": "fc.nope"}), "blocks.Res: outputs.out: fc has no output 'nope'"),
        (
            lambda b: b.update(outputs={}),
            "blocks.Res.outputs: expected an object of output port names to the inner values they expose"
            " ('node.port'), at least one, got {}",
        ),
        (lambda b: b.update(inputs=["fc"]), "blocks.Res: inputs: 'fc' is not an Input node of the block"),
        (lambda b: b.update(inputs="x"), "blocks.Res.inputs: expected a list, got 'x'"),
        (lambda b: b.pop("nodes"), "blocks.Res: missing key 'nodes'"),
        (
            lambda b: b.update(extra=1),
            "blocks.Res: unknown key 'extra' (expected description, edges, inputs, nodes, outputs)",
        ),
        (
            lambda b: b["nodes"][1]["params"].update(in_features=-3),
            "blocks.Res.nodes[1] (id 'fc').params.in_features: must be >= 1; got -3",
        ),
        (
            lambda b: b["nodes"].append(dict(b["nodes"][0])),
            "blocks.Res.nodes[4] (id 'x').id: duplicate node id",
        ),
        (
            lambda b: b["edges"].append({"from": "ghost.out", "to": "r.x"}),
            "blocks.Res.edges[4].from: dangling edge: there is no node 'ghost'",
        ),
        (
            lambda b: b["edges"].append({"from": "sum.out", "to": "fc.x"}),
            "blocks.Res.edges[4].to: fc.x already has an incoming edge",
        ),
    ],
)
def test_a_broken_definition_is_one_line_naming_where(change, expected):
    assert refusal(with_block(change)) == expected


def test_hostile_blocks_sections():
    assert (
        refusal({**document(), "blocks": []})
        == "blocks: expected an object of block definitions by name, got []"
    )
    assert refusal({**document(), "blocks": {"Res": 7}}).startswith("blocks.Res: expected an object")
    bad_name = document()
    bad_name["blocks"] = {"my block": residual()}
    bad_name["nodes"][1]["params"]["block"] = bad_name["nodes"][2]["params"]["block"] = "my block"
    assert refusal(bad_name).startswith("blocks['my block']: a block name is a Python name")
    unicode = json.loads(json.dumps(document()).replace('"Res"', '"Résidu"'))
    assert list(loads(json.dumps(unicode)).blocks) == ["Résidu"]


def test_an_unknown_block_and_a_huge_or_bad_repeat_are_refused():
    data = document()
    data["nodes"][1]["params"]["block"] = "Nope"
    assert refusal(data) == "nodes[1] (id 'res1').params.block: there is no block 'Nope' in the file"
    for repeat, problem in ((10**6, "must be <= 1000"), (0, "must be >= 1"), (2.5, "expected an integer")):
        data = document()
        data["nodes"][1]["params"]["repeat"] = repeat
        assert refusal(data).startswith(f"nodes[1] (id 'res1').params.repeat: {problem}")


def using(name: str, inner: str) -> dict[str, Any]:
    """A block `name` that only wraps an instance of block `inner`."""
    return {
        "inputs": ["x"],
        "outputs": {"out": "b.out"},
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", 4]}},
            {"id": "b", "type": "Block", "params": {"block": inner}},
        ],
        "edges": [{"from": "x.out", "to": "b.x"}],
    }


def test_a_block_using_itself_is_refused():
    data = document(Res=using("Res", "A"), A=using("A", "Res"))
    assert refusal(data) == "blocks.Res: the block uses itself: Res → A → Res"


def test_blocks_nested_too_deep_are_refused_and_nesting_within_the_limit_loads():
    chain = {f"B{i}": using(f"B{i}", f"B{i + 1}") for i in range(40)}
    chain["B40"] = residual()
    data = document(**chain)
    for node in data["nodes"][1:]:
        node["params"]["block"] = "B0"
    assert refusal(data).startswith("blocks: blocks are nested 41 deep")
    data = document(Outer=using("Outer", "Res"), Res=residual())
    graph = loads(json.dumps(data))
    assert graph.blocks["Outer"].graph.output_ports_of("b") == ("out",)


def test_loading_leaves_the_parsed_data_alone():
    data = document()
    before = copy.deepcopy(data)
    loads(json.dumps(data))
    assert data == before
