"""Schedules are plain data: forward in topological order, backward with explicit accumulation."""

from pathlib import Path

from graphcore.files.fileformat import load
from graphcore.program import lower
from graphcore.schedule import backward_schedule, format_schedule, forward_schedule, relevant_nodes

EXAMPLES = Path(__file__).parents[2] / "examples"


def program_of(name: str):
    return lower(load(EXAMPLES / name))


def test_forward_schedule_is_a_topological_order():
    program = program_of("sigmoid_neuron.json")
    steps = forward_schedule(program)
    seen = set()
    for step in steps:
        assert all(read.split(".")[0] in seen for read in step.reads)
        seen.add(step.node)
    assert [s.node for s in steps][-3:] == ["sq", "half", "L"]


def test_path_sum_accumulates_where_b_fans_out():
    program = program_of("path_sum.json")
    steps = backward_schedule(program, "e.out")
    assert format_schedule(steps).splitlines() == [
        "backward   e            e.out -> e.a, e.b",
        "backward   d            e.b -> d.a, d.b",
        "backward   c            e.a -> c.a, c.b",
        "accumulate b            c.b, d.a -> b.out",
    ]


def test_l2_example_accumulates_the_weight_that_feeds_two_nodes():
    program = program_of("sigmoid_neuron_l2.json")
    steps = backward_schedule(program, "L.out", ["w", "b"])
    accumulate = [s for s in steps if s.phase == "accumulate"]
    assert [(s.node, s.reads, s.writes) for s in accumulate] == [("w", ("wx.a", "w2.a"), ("w.out",))]
    # restricted to what lies between w, b and L: x, y and the constants get no gradient
    written = {w for s in steps for w in s.writes}
    assert "wx.b" not in written and "r.a" not in written and "L.a" in written
    assert steps.index(accumulate[0]) == len(steps) - 1


def test_backward_is_restricted_to_nodes_between_wrt_and_of():
    program = program_of("sigmoid_neuron_l2.json")
    assert relevant_nodes(program, "L.out", ["b"]) == {"b", "z", "t", "r", "sq", "data_loss", "L"}
    assert [s.node for s in backward_schedule(program, "t.out", ["b"])] == ["t", "z"]
