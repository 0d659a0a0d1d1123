"""Every shipped example: loads clean, and every execution path and AD mode agrees with autograd.

Agreement is to 1e-9 in float64: the fast path (generated module + autograd), the stepping
engine (one node VJP at a time), reverse mode, forward mode, and plain torch autograd. Random nodes
(Dropout's mask, randn's noise) draw from torch's global generator, so each path starts from the same
seed and draws the same numbers.
"""

from pathlib import Path

import pytest
import torch

from graphcore.derivatives.api import forward_mode, reverse_mode
from graphcore.derivatives.autodiff import trace_forward
from graphcore.files.fileformat import load
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.schedule import differentiable_nodes
from graphcore.stepping import Stepper
from graphcore.validate import validate
from tests.oracles import autograd_reference

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.json"))
SMALL = 64  # forward mode takes one pass per element: differentiate with respect to small sources only


def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def same_noise():
    """Reseed torch's generator before a path runs, so every path draws the same random numbers."""
    torch.manual_seed(0)


@pytest.fixture(params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    graph = load(request.param)
    report = validate(graph)
    assert report.ok, report.diagnostics
    program = lower(graph)
    return program, Runtime(program, dtype="float64", device="cpu")


def outputs_to_check(program, trace):
    return [v for v in program.sinks if trace.values[v].is_floating_point() and trace.values[v].numel() <= 16]


def test_there_are_examples():
    assert {p.stem for p in EXAMPLES} >= {
        "sigmoid_neuron",
        "sigmoid_neuron_l2",
        "path_sum",
        "practice_g_plus_gh",
    }


def test_stepping_forward_equals_fast_path(example):
    program, runtime = example
    same_noise()
    fast = runtime.forward()
    same_noise()
    trace = trace_forward(runtime)
    for value, tensor in fast.items():
        close(trace.values[value], tensor.detach())


def test_fast_path_autograd_equals_stepping_engine(example):
    """Backward through the generated module (autograd) vs the stepper's per-node VJPs."""
    program, runtime = example
    trace = trace_forward(runtime)
    for of in outputs_to_check(program, trace):
        same_noise()
        stepper = Stepper(runtime, of=of)
        stepper.run()
        got = stepper.gradients()
        runtime.module.zero_grad()
        inputs = {
            k: v.detach().clone().requires_grad_(v.is_floating_point()) for k, v in runtime.inputs.items()
        }
        same_noise()
        runtime.forward(inputs)[of].sum().backward()
        for name, attr in runtime.generated.attributes.items():
            instr = program.by_node[name]
            module = getattr(runtime.module, attr)
            if instr.spec.kind == "parameter" and module.grad is not None:
                close(got[f"{name}.out"], module.grad)
            if instr.spec.kind == "layer":
                for weight, p in module.named_parameters():
                    if p.grad is not None:
                        close(got[f"{name}.{weight}"], p.grad)
        for name, tensor in inputs.items():
            if tensor.grad is not None:
                close(got[f"{name}.out"], tensor.grad)


def test_forward_and_reverse_mode_equal_autograd(example):
    program, runtime = example
    if any(instr.spec.jvp_refusal(instr.params, training=True) for instr in program):
        runtime.module.eval()  # Dropout has forward mode in evaluation only: training draws a new mask per run
    same_noise()
    trace = trace_forward(runtime)
    wrt = [
        f"{n}.out"
        for n in differentiable_nodes(program)
        if program.by_node[n].spec.is_source
        and trace.values[f"{n}.out"].is_floating_point()
        and trace.values[f"{n}.out"].numel() <= SMALL
    ]
    if not wrt:
        pytest.skip(f"no source has at most {SMALL} elements (forward mode takes one pass per element)")
    for of in outputs_to_check(program, trace):
        same_noise()
        expected = autograd_reference(runtime, of, wrt)
        reverse = reverse_mode(runtime, of, wrt, trace)
        forward = forward_mode(runtime, of, wrt, trace)
        assert reverse.passes == trace.values[of].numel()
        assert forward.passes == sum(trace.values[w].numel() for w in wrt)
        for w in wrt:
            close(reverse.grads[w], expected[w])
            close(forward.grads[w], expected[w])
