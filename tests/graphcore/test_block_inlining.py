"""Blocks in the core: flatten inlines instances under "{instance}/{inner}" ids, block_problems names
what stops it in one line at the instance, block_from_selection makes a block of nodes, and a block
graph computes exactly what the same network built flat computes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from graphcore.blocks import (
    MAX_FLAT_NODES,
    MAX_REPEAT,
    BlockDef,
    FlattenError,
    block_from_selection,
    block_problems,
    flatten,
    flatten_with_ports,
    has_flat_node,
    instance_paths,
)
from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef
from graphcore.program import lower
from graphcore.registry import load_library
from graphcore.runtime import Runtime
from graphcore.validate import validate

load_library()

Edge = tuple[str, str]


def build(
    nodes: list[tuple[str, str, dict[str, Any]]], edges: list[Edge], graph: Graph | None = None
) -> Graph:
    graph = graph if graph is not None else Graph()
    for node_id, type_, params in nodes:
        graph.add_node(Node(node_id, type_, params))
    for src, dst in edges:
        graph.connect(PortRef.parse(src), PortRef.parse(dst), check_cycle=False)
    return graph


def residual(width: int = 4) -> BlockDef:
    """x + relu(fc(x)): one input, one output."""
    inner = build(
        [
            ("x", "Input", {"shape": ["N", width]}),
            ("fc", "Linear", {"in_features": width, "out_features": width}),
            ("r", "relu", {}),
            ("sum", "add", {}),
        ],
        [("x.out", "fc.x"), ("fc.out", "r.x"), ("x.out", "sum.a"), ("r.out", "sum.b")],
    )
    return BlockDef("Res", inner, ("x",), {"out": "sum.out"})


def pair() -> BlockDef:
    """Two inputs, two outputs: a * b and a + b."""
    inner = build(
        [
            ("a", "Input", {"shape": ["N", 4]}),
            ("b", "Input", {"shape": ["N", 4]}),
            ("m", "mul", {}),
            ("s", "add", {}),
        ],
        [("a.out", "m.a"), ("b.out", "m.b"), ("a.out", "s.a"), ("b.out", "s.b")],
    )
    return BlockDef("Pair", inner, ("a", "b"), {"prod": "m.out", "total": "s.out"})


def with_blocks(*definitions: BlockDef) -> Graph:
    graph = Graph()
    for definition in definitions:
        graph.set_block(definition.name, definition)
    return graph


def inside(graph: Graph) -> Graph:
    """An empty definition graph that sees `graph`'s blocks, as the loader makes one."""
    inner = Graph()
    inner.blocks = graph.blocks
    return inner


def chain(repeat: int | Any = 1, instance: str = "res1") -> Graph:
    """x → Res (repeated) → sum."""
    graph = with_blocks(residual())
    return build(
        [
            ("x", "Input", {"shape": [2, 4]}),
            (instance, BLOCK_TYPE, {"block": "Res", "repeat": repeat}),
            ("total", "sum", {}),
        ],
        [("x.out", f"{instance}.x"), (f"{instance}.out", "total.x")],
        graph,
    )


def ids(graph: Graph) -> list[str]:
    return [node.id for node in graph.nodes]


def edges(graph: Graph) -> set[Edge]:
    return {(str(src), str(dst)) for src, dst in graph.edges}


def problems(graph: Graph) -> list[str]:
    found = [f"{node}: {message}" for node, message in block_problems(graph)]
    assert all("\n" not in line for line in found)
    return found


def only_diagnostic(graph: Graph) -> str:
    (diagnostic,) = validate(graph).diagnostics
    assert "\n" not in diagnostic.message
    return str(diagnostic)


# --- flatten ---------------------------------------------------------------------------------------


def test_an_instance_is_inlined_under_its_id_with_the_inner_input_replaced_by_what_feeds_it():
    flat = flatten(chain())
    assert ids(flat) == ["x", "res1/fc", "res1/r", "res1/sum", "total"]
    assert edges(flat) == {
        ("x.out", "res1/fc.x"),
        ("res1/fc.out", "res1/r.x"),
        ("x.out", "res1/sum.a"),
        ("res1/r.out", "res1/sum.b"),
        ("res1/sum.out", "total.x"),
    }
    assert validate(flat).ok and flat.blocks == {}


def test_a_graph_without_instances_is_returned_as_it_is():
    graph = build([("x", "Input", {"shape": [2]}), ("s", "sum", {})], [("x.out", "s.x")])
    assert flatten(graph) is graph


def test_a_repeat_chains_its_copies_each_under_its_number():
    flat = flatten(chain(3))
    assert [i for i in ids(flat) if i.endswith("/fc")] == ["res1/1/fc", "res1/2/fc", "res1/3/fc"]
    assert ("x.out", "res1/1/fc.x") in edges(flat)
    assert ("res1/1/sum.out", "res1/2/fc.x") in edges(flat) and ("res1/1/sum.out", "res1/2/sum.a") in edges(
        flat
    )
    assert ("res1/3/sum.out", "total.x") in edges(flat)
    assert len(flat.nodes) == 2 + 3 * 3


def test_a_block_inside_a_block_nests_its_ids():
    graph = with_blocks(residual())
    outer_inner = build(
        [
            ("x", "Input", {"shape": ["N", 4]}),
            ("deep", BLOCK_TYPE, {"block": "Res", "repeat": 2}),
            ("neg", "neg", {}),
        ],
        [("x.out", "deep.x"), ("deep.out", "neg.x")],
        inside(graph),
    )
    graph.set_block("Outer", BlockDef("Outer", outer_inner, ("x",), {"out": "neg.out"}))
    build(
        [
            ("x", "Input", {"shape": [2, 4]}),
            ("o", BLOCK_TYPE, {"block": "Outer", "repeat": 2}),
            ("t", "sum", {}),
        ],
        [("x.out", "o.x"), ("o.out", "t.x")],
        graph,
    )
    flat = flatten(graph)
    assert "o/2/deep/1/fc" in ids(flat) and "o/1/neg" in ids(flat)
    assert ("o/1/neg.out", "o/2/deep/1/fc.x") in edges(flat)
    assert ("o/2/neg.out", "t.x") in edges(flat)
    assert validate(graph).ok
    assert instance_paths(graph) == {"Outer": ["o"], "Res": ["o/1/deep", "o/2/deep"]}
    assert has_flat_node(graph, "o/2/deep/1/fc") and not has_flat_node(graph, "o/3/deep/1/fc")


def test_a_two_in_two_out_block_wires_each_port_and_says_where_its_outputs_went():
    graph = with_blocks(pair())
    build(
        [
            ("u", "Input", {"shape": [2, 4]}),
            ("v", "Input", {"shape": [2, 4]}),
            ("p", BLOCK_TYPE, {"block": "Pair"}),
            ("t1", "sum", {}),
            ("t2", "sum", {}),
        ],
        [("u.out", "p.a"), ("v.out", "p.b"), ("p.prod", "t1.x"), ("p.total", "t2.x")],
        graph,
    )
    flat, exposed = flatten_with_ports(graph)
    assert exposed == {"p.prod": "p/m.out", "p.total": "p/s.out"}
    assert {("u.out", "p/m.a"), ("v.out", "p/m.b"), ("p/m.out", "t1.x"), ("p/s.out", "t2.x")} <= edges(flat)
    assert validate(graph).shapes["p.total"] == (2, 4)


def test_meta_outputs_and_the_training_section_name_the_inlined_values():
    graph = chain(2)
    graph.meta["outputs"] = ["res1.out", "total.out", 7]
    graph.training = {
        "loss": "total.out",
        "predict": "res1.out",
        "objectives": [{"name": "a", "loss": "res1.out"}, "not an object"],
        "inputs": {"x": "x"},
    }
    flat = flatten(graph)
    assert flat.meta["outputs"] == ["res1/2/sum.out", "total.out", 7]
    assert flat.training["predict"] == "res1/2/sum.out" and flat.training["loss"] == "total.out"
    assert flat.training["objectives"] == [{"name": "a", "loss": "res1/2/sum.out"}, "not an object"]
    assert flat.training["inputs"] == {"x": "x"}
    assert graph.training["predict"] == "res1.out" and graph.meta["outputs"][0] == "res1.out"


def test_each_instance_and_each_copy_has_parameters_of_its_own():
    graph = chain(2)
    build([("res2", BLOCK_TYPE, {"block": "Res"})], [("res1.out", "res2.x")], graph)
    layers = [instr.node for instr in lower(graph) if instr.spec.kind == "layer"]
    assert layers == ["res1/1/fc", "res1/2/fc", "res2/fc"]
    runtime = Runtime(lower(graph), dtype="float64")
    weights = [runtime.module_of(instr).weight for instr in lower(graph) if instr.spec.kind == "layer"]
    assert len({id(w) for w in weights}) == 3


# --- block_problems: hostile graphs ------------------------------------------------------------------


def test_an_instance_of_no_block_is_one_line_naming_the_known_ones():
    graph = chain()
    graph.node("res1").params["block"] = "Nope"
    assert problems(graph) == ["res1: there is no block 'Nope' (the file defines: Res)"]
    assert only_diagnostic(graph) == "res1: there is no block 'Nope' (the file defines: Res)"


@pytest.mark.parametrize(
    "repeat, message",
    [
        (0, "repeat: must be >= 1; got 0"),
        (-1, "repeat: must be >= 1; got -1"),
        (MAX_REPEAT + 1, f"repeat: must be <= {MAX_REPEAT}"),
        (10**12, "repeat: 1000000000000 is too large"),
        (2.5, "repeat: expected an integer, got 2.5"),
        ("3", "repeat: expected an integer, got '3'"),
        (True, "repeat: expected an integer, got True"),
    ],
)
def test_a_bad_repeat_is_one_line_at_the_instance(repeat, message):
    line = only_diagnostic(chain(repeat))
    assert line.startswith(f"res1: {message}")


def test_a_block_that_uses_itself_is_refused_before_inlining():
    graph = chain()
    inner = graph.blocks["Res"].graph
    build([("again", BLOCK_TYPE, {"block": "Res"})], [("x.out", "again.x")], inner)
    assert problems(graph) == ["res1: block Res uses itself: Res → Res"]
    with pytest.raises(FlattenError, match="block Res uses itself"):
        flatten(graph)
    assert instance_paths(graph) == {}


def test_two_blocks_using_each_other_are_a_cycle_named_once():
    graph = Graph()
    for name, other in (("A", "B"), ("B", "A")):
        calls = build(
            [("x", "Input", {"shape": ["N", 4]}), ("c", BLOCK_TYPE, {"block": other})], [], inside(graph)
        )
        graph.set_block(name, BlockDef(name, calls, ("x",), {"out": "c.out"}))
    for definition in graph.blocks.values():
        build([], [("x.out", "c.x")], definition.graph)
    build([("x", "Input", {"shape": [2, 4]}), ("a", BLOCK_TYPE, {"block": "A"})], [("x.out", "a.x")], graph)
    assert problems(graph) == ["a: block A uses itself: A → B → A"]
    assert only_diagnostic(graph) == "a: block A uses itself: A → B → A"


def test_a_repeat_of_a_block_with_two_inputs_says_why_it_cannot_chain():
    graph = with_blocks(pair())
    build(
        [("u", "Input", {"shape": [2, 4]}), ("p", BLOCK_TYPE, {"block": "Pair", "repeat": 2})],
        [("u.out", "p.a"), ("u.out", "p.b")],
        graph,
    )
    assert problems(graph) == [
        "p: repeat 2 chains copies output to input, so block Pair needs one input and one output (it has 2 and 2)"
    ]


def test_an_unconnected_block_input_is_named_at_the_instance():
    graph = with_blocks(pair())
    build(
        [("u", "Input", {"shape": [2, 4]}), ("p", BLOCK_TYPE, {"block": "Pair"})], [("u.out", "p.a")], graph
    )
    assert problems(graph) == ["p: input b is not connected"]


def test_nested_repeats_past_the_flat_limit_are_refused_without_building_them():
    graph = chain(MAX_REPEAT)
    wrapper = build(
        [("x", "Input", {"shape": ["N", 4]}), ("many", BLOCK_TYPE, {"block": "Res", "repeat": MAX_REPEAT})],
        [("x.out", "many.x")],
        inside(graph),
    )
    graph.set_block("Wide", BlockDef("Wide", wrapper, ("x",), {"out": "many.out"}))
    graph.node("res1").params.update(block="Wide", repeat=MAX_REPEAT)
    (line,) = problems(graph)
    assert line.startswith("res1: the blocks inline to ") and f"more than {MAX_FLAT_NODES:,}" in line
    assert only_diagnostic(graph) == line


def test_an_inner_id_with_the_separator_is_refused_naming_the_block():
    graph = chain()
    build([("a/b", "relu", {})], [("x.out", "a/b.x")], graph.blocks["Res"].graph)
    assert problems(graph) == [
        "res1: block Res: node id 'a/b' has a '/', which joins the ids of nodes inlined from blocks; rename it"
    ]


def test_a_top_level_id_that_an_inlined_id_would_take_is_named_not_a_crash():
    graph = chain()
    build([("res1/fc", "relu", {})], [("x.out", "res1/fc.x")], graph)
    assert problems(graph) == [
        "res1/fc: its id would clash with the nodes inlined from res1 (res1/…); rename it"
    ]
    assert only_diagnostic(graph).startswith("res1/fc: its id would clash")


def test_an_instance_id_with_the_separator_is_refused():
    graph = chain(instance="a/1")
    assert problems(graph) == [
        "a/1: a block instance's id has a '/', which joins the ids of nodes inlined from blocks; rename it"
    ]


def test_a_shape_problem_inside_an_instance_names_the_inlined_node():
    graph = chain()
    graph.node("x").params["shape"] = [2, 5]
    report = validate(graph)
    assert [str(d) for d in report.diagnostics] == ["res1/fc: Linear in_features=4 but x has 5 features"]
    assert report.for_node("res1") == report.diagnostics


# --- has_flat_node: what a weights file's keys may name ---------------------------------------------


@pytest.mark.parametrize(
    "flat_id, present",
    [
        ("res1/2/fc", True),
        ("total", True),
        ("res1/fc", False),  # repeated: copies are numbered
        ("res1/4/fc", False),
        ("res1/02/fc", False),
        ("res1/2/x", False),  # the inner Input is the outer value, not a node
        ("res1/2", False),
        ("res1", False),
        ("nope/1/fc", False),
        ("", False),
    ],
)
def test_has_flat_node_agrees_with_flatten(flat_id, present):
    graph = chain(3)
    assert has_flat_node(graph, flat_id) is present
    assert (flat_id in flatten(graph)) is present


# --- block_from_selection ----------------------------------------------------------------------------


def mlp() -> Graph:
    """x → fc → r → out1, with x also read by skip (fan-in) and r also read by out2 (fan-out)."""
    return build(
        [
            ("x", "Input", {"shape": [2, 4]}),
            ("fc", "Linear", {"in_features": 4, "out_features": 4}),
            ("r", "relu", {}),
            ("skip", "add", {}),
            ("out1", "sum", {}),
            ("out2", "mean", {}),
        ],
        [
            ("x.out", "fc.x"),
            ("fc.out", "r.x"),
            ("x.out", "skip.a"),
            ("r.out", "skip.b"),
            ("skip.out", "out1.x"),
            ("r.out", "out2.x"),
        ],
    )


def make_block(graph: Graph, chosen: list[str], name: str = "Res") -> Graph:
    """What the app's Ctrl+B does with block_from_selection's answer, on a copy of the graph's nodes."""
    definition, instance, outside = block_from_selection(graph, chosen, name)
    result = with_blocks(definition)
    build([(n.id, n.type, n.params) for n in graph.nodes if n.id not in chosen], [], result)
    result.add_node(instance)
    for src, dst in graph.edges:
        if src.node not in chosen and dst.node not in chosen:
            result.connect(src, dst)
    for src, dst in outside:
        result.connect(src, dst)
    return result


def test_a_selection_read_twice_inside_and_outside_becomes_one_input_and_its_outputs():
    graph = mlp()
    definition, instance, outside = block_from_selection(graph, ["fc", "r", "skip"], "Res")
    assert definition.inputs == ("x",) and definition.outputs == {"skip": "skip.out", "r": "r.out"}
    assert definition.graph.node("x").params == {"shape": [2, 4]}
    assert instance.type == BLOCK_TYPE and instance.params == {"block": "Res", "repeat": 1}
    assert {(str(s), str(d)) for s, d in outside} == {
        ("x.out", "res.x"),
        ("res.skip", "out1.x"),
        ("res.r", "out2.x"),
    }


def test_a_selection_made_a_block_computes_what_it_did():
    graph = mlp()
    blocked = make_block(graph, ["fc", "r", "skip"])
    assert validate(blocked).ok
    before, after = Runtime(lower(graph)), Runtime(lower(blocked))
    layer = after.module_of(after.program.by_node["res/fc"])
    layer.load_state_dict(before.module_of(before.program.by_node["fc"]).state_dict())
    expected, got = before.forward(), after.forward()
    assert torch.equal(expected["out1.out"], got["out1.out"]) and torch.equal(
        expected["out2.out"], got["out2.out"]
    )


def test_the_instance_id_leaves_room_for_the_inlined_ids():
    graph = mlp()
    build([("res/fc", "relu", {})], [("x.out", "res/fc.x")], graph)
    _, instance, _ = block_from_selection(graph, ["fc", "r"], "Res")
    assert instance.id == "res2"
    assert validate(make_block(graph, ["fc", "r"])).ok


@pytest.mark.parametrize(
    "chosen, name, message",
    [
        ([], "Res", "select the nodes to make a block of"),
        (["fc"], "9lives", "a block name is a Python name"),
        (["fc"], "class", "a block name is a Python name"),
        (["ghost"], "Res", "there is no node 'ghost'"),
        (["x", "fc"], "Res", "x is an Input of the graph"),
        (["fc", "skip"], "Res", "the block would make a cycle through r"),
        (["out1"], "Res", "nothing outside reads the selection"),
    ],
)
def test_a_selection_that_cannot_be_a_block_is_one_line(chosen, name, message):
    with pytest.raises(ValueError, match=message) as caught:
        block_from_selection(mlp(), chosen, name)
    assert "\n" not in str(caught.value)


def test_a_selected_id_with_the_separator_is_refused():
    graph = mlp()
    build([("a/b", "relu", {}), ("t", "sum", {})], [("x.out", "a/b.x"), ("a/b.out", "t.x")], graph)
    with pytest.raises(ValueError, match="a/b has a '/'"):
        block_from_selection(graph, ["a/b"], "Res")


def test_a_name_already_defined_is_refused():
    graph = mlp()
    graph.set_block("Res", residual())
    with pytest.raises(ValueError, match="there is already a block 'Res'"):
        block_from_selection(graph, ["fc"], "Res")


def loss_graph() -> Graph:
    graph = mlp()
    build(
        [("y", "Input", {"shape": [2, 4]}), ("loss", "MSELoss", {}), ("aux", "MSELoss", {})],
        [
            ("skip.out", "loss.input"),
            ("y.out", "loss.target"),
            ("r.out", "aux.input"),
            ("y.out", "aux.target"),
        ],
        graph,
    )
    return graph


@pytest.mark.parametrize(
    "training, blamed",
    [
        ({"loss": "loss.out"}, "loss is the training section's loss"),
        ({"loss": "out1.out", "predict": "skip.out"}, "skip is the training section's predict"),
        (
            {"objectives": [{"name": "a", "loss": "out1.out"}, {"name": "b", "loss": "loss.out"}]},
            "objectives[1].loss",
        ),
    ],
)
def test_a_selection_holding_what_the_training_section_names_is_refused(training, blamed):
    graph = loss_graph()
    graph.training = training
    with pytest.raises(ValueError, match=blamed.replace("[", r"\[").replace("]", r"\]")):
        block_from_selection(graph, ["fc", "r", "skip", "loss"], "Res")


def test_a_loss_the_training_section_does_not_name_may_go_into_a_block():
    graph = loss_graph()
    graph.training = {"loss": "loss.out"}
    blocked = make_block(graph, ["fc", "r", "aux"])
    assert validate(blocked).ok
    assert "res/aux.out" in lower(blocked).sinks


# --- a block graph computes what the flat network computes ----------------------------------------


def hand_flat(repeat: int) -> Graph:
    """chain(repeat) written out by hand, with the ids flatten gives."""
    nodes: list[tuple[str, str, dict[str, Any]]] = [("x", "Input", {"shape": [2, 4]})]
    wiring: list[Edge] = []
    previous = "x.out"
    for k in range(1, repeat + 1):
        p = f"res1/{k}/" if repeat > 1 else "res1/"
        nodes += [
            (f"{p}fc", "Linear", {"in_features": 4, "out_features": 4}),
            (f"{p}r", "relu", {}),
            (f"{p}sum", "add", {}),
        ]
        wiring += [
            (previous, f"{p}fc.x"),
            (f"{p}fc.out", f"{p}r.x"),
            (previous, f"{p}sum.a"),
            (f"{p}r.out", f"{p}sum.b"),
        ]
        previous = f"{p}sum.out"
    nodes.append(("total", "sum", {}))
    wiring.append((previous, "total.x"))
    return build(nodes, wiring)


@pytest.mark.parametrize("repeat", [1, 3])
def test_run_and_grad_of_a_block_graph_equal_the_flat_network(repeat):
    blocked, flat = Runtime(lower(chain(repeat)), seed=3), Runtime(lower(hand_flat(repeat)), seed=3)
    assert blocked.generated.attributes == flat.generated.attributes
    state = blocked.module.state_dict()
    assert all(torch.equal(state[k], v) for k, v in flat.module.state_dict().items())
    assert torch.equal(blocked.inputs["x"], flat.inputs["x"])
    values = []
    for runtime in (blocked, flat):
        runtime.module.zero_grad()
        x = runtime.inputs["x"].clone().requires_grad_(True)
        out = runtime.forward({"x": x})["total.out"]
        out.backward()
        values.append((out, x.grad, [p.grad for p in runtime.module.parameters()]))
    (out_b, dx_b, grads_b), (out_f, dx_f, grads_f) = values
    assert torch.equal(out_b, out_f) and torch.equal(dx_b, dx_f)
    assert len(grads_b) == 2 * repeat and all(
        torch.equal(a, b) for a, b in zip(grads_b, grads_f, strict=True)
    )


def test_nested_repeats_of_blocks_that_inline_to_nothing_are_refused_without_inlining_them():
    """A block that passes its input straight through adds no node, but nesting a thousand copies of
    it in a thousand copies is still work: the limit counts the copies too."""
    graph = Graph()
    passing = build([("x", "Input", {"shape": ["N", 4]})], [], inside(graph))
    graph.set_block("Pass", BlockDef("Pass", passing, ("x",), {"out": "x.out"}))
    previous = "Pass"
    for level in range(3):
        wrapper = build(
            [
                ("x", "Input", {"shape": ["N", 4]}),
                ("c", BLOCK_TYPE, {"block": previous, "repeat": MAX_REPEAT}),
            ],
            [("x.out", "c.x")],
            inside(graph),
        )
        previous = f"Wrap{level}"
        graph.set_block(previous, BlockDef(previous, wrapper, ("x",), {"out": "c.out"}))
    build(
        [("x", "Input", {"shape": [2, 4]}), ("w", BLOCK_TYPE, {"block": previous})], [("x.out", "w.x")], graph
    )
    (line,) = problems(graph)
    assert line.startswith("w: the blocks inline to ")
    assert only_diagnostic(graph) == line
