"""The one Interpreter over a Program: full and partial runs, step events, one override per reading."""

from pathlib import Path

import pytest
import torch

from graphcore.derivatives.autodiff import Tracer, forward_sweep, reverse_sweep, trace_forward
from graphcore.files.fileformat import load
from graphcore.interpreter import Evaluator, Interpreter, ShapeInterpreter, infer_shapes
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.validate import validate

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def runtime():
    return Runtime(lower(load(EXAMPLES / "path_sum.json")))  # e = (a + b) · (b + 1), a = 2, b = 1


def test_evaluator_computes_every_value(runtime):
    values = Evaluator(runtime).run()
    assert {k: v.item() for k, v in values.items()} == {
        "a.out": 2.0,
        "b.out": 1.0,
        "one.out": 1.0,
        "c.out": 3.0,
        "d.out": 2.0,
        "e.out": 6.0,
    }
    assert values["e.out"].item() == runtime.forward()["e.out"].item()


def test_a_given_value_is_not_recomputed_and_feeds_what_follows(runtime):
    values = Evaluator(runtime).run({"c.out": torch.tensor(10.0, dtype=torch.float64)})
    assert values["c.out"].item() == 10.0
    assert values["e.out"].item() == 20.0  # 10 · (b + 1)


def test_steps_yield_each_instruction_in_program_order(runtime):
    evaluator = Evaluator(runtime)
    seen = []
    for instr in evaluator.steps():
        seen.append(instr.node)
        assert all(out in evaluator.env for out in instr.outs)  # its values are there when it is yielded
    assert seen == [i.node for i in runtime.program]


def test_a_subclass_overrides_run_node_alone(runtime):
    class Depth(Interpreter):
        """How many nodes deep each value sits."""

        def run_node(self, instr, args):
            return tuple(1 + max((a for a in args if a is not None), default=-1) for _ in instr.outs)

    assert Depth(runtime.program).run()["e.out"] == 2


def test_shape_inference_walks_the_program_as_validate_does(runtime):
    graph = load(EXAMPLES / "residual_mlp.json")
    assert infer_shapes(lower(graph)) == validate(graph).shapes
    assert ShapeInterpreter(runtime.program).run()["e.out"] == ()


def test_tracer_keeps_pullbacks_and_both_sweeps_agree(runtime):
    trace = trace_forward(runtime)
    assert set(trace.calls) == {"c", "d", "e"} and trace.values["e.out"].item() == 6.0
    swept = reverse_sweep(runtime.program, trace, "e.out", torch.ones((), dtype=torch.float64))
    assert swept.of_value("b.out").item() == 5.0
    tangents = forward_sweep(runtime, trace.values, {"b.out": torch.ones((), dtype=torch.float64)})
    assert tangents["e.out"].item() == 5.0
    assert "a.out" not in tangents  # constant with respect to the seed: never computed


def test_a_tracer_fills_the_trace_it_is_given_as_it_goes(runtime):
    tracer = Tracer(runtime)
    for instr in tracer.steps():
        assert tracer.trace.values is tracer.env and instr.outs[0] in tracer.trace.values
