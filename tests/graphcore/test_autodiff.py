"""Reverse mode, forward mode and the stepper on small graphs where the answer is known by hand."""

import json
from pathlib import Path

import pytest
import torch

from graphcore.derivatives.api import forward_mode, reverse_mode
from graphcore.files.fileformat import load, loads
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper, SteppingError
from tests.oracles import autograd_reference

EXAMPLES = Path(__file__).parents[2] / "examples"


def runtime_of(nodes, edges, **kwargs):
    text = json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": nodes,
            "edges": [{"from": a, "to": b} for a, b in edges],
        }
    )
    return Runtime(lower(loads(text)), **kwargs)


def test_path_sum_by_hand():
    runtime = Runtime(lower(load(EXAMPLES / "path_sum.json")))
    for derivative in (
        reverse_mode(runtime, "e.out", ["a.out", "b.out"]),
        forward_mode(runtime, "e.out", ["a.out", "b.out"]),
    ):
        assert derivative.value.item() == 6.0
        assert derivative.grads["a.out"].item() == 2.0  # ∂e/∂a = b + 1
        assert derivative.grads["b.out"].item() == 5.0  # ∂e/∂b = (b + 1) + (a + b)
    assert reverse_mode(runtime, "e.out", ["a.out", "b.out"]).passes == 1
    assert forward_mode(runtime, "e.out", ["a.out", "b.out"]).passes == 2


def test_sigmoid_neuron_matches_the_lecture_formulas():
    runtime = Runtime(lower(load(EXAMPLES / "sigmoid_neuron.json")))
    w, x, b, y = 0.5, 1.5, -0.3, 1.0
    t = 1 / (1 + torch.exp(torch.tensor(-(w * x + b), dtype=torch.float64)))
    dz = -(y - t) * t * (1 - t)  # ∂L/∂z = −(y − σ(z)) σ′(z)
    grads = reverse_mode(runtime, "L.out", ["w.out", "b.out"]).grads
    assert grads["w.out"].item() == pytest.approx((dz * x).item(), abs=1e-15)
    assert grads["b.out"].item() == pytest.approx(dz.item(), abs=1e-15)


def test_vector_output_gives_a_jacobian_with_one_reverse_pass_per_component():
    runtime = runtime_of(
        [
            {"id": "x", "type": "Input", "params": {"shape": [3], "value": [0.1, -0.4, 0.7]}},
            {"id": "W", "type": "Parameter", "params": {"shape": [2, 3], "init": "normal", "std": 0.5}},
            {"id": "y", "type": "matmul"},
            {"id": "t", "type": "tanh"},
        ],
        [("W.out", "y.a"), ("x.out", "y.b"), ("y.out", "t.x")],
    )
    reverse = reverse_mode(runtime, "t.out", ["x.out", "W.out"])
    forward = forward_mode(runtime, "t.out", ["x.out", "W.out"])
    expected = autograd_reference(runtime, "t.out", ["x.out", "W.out"])
    assert (reverse.passes, forward.passes) == (2, 3 + 6)
    assert reverse.grads["W.out"].shape == (2, 2, 3) and reverse.grads["x.out"].shape == (2, 3)
    for key in ("x.out", "W.out"):
        torch.testing.assert_close(reverse.grads[key], expected[key], rtol=0, atol=1e-12)
        torch.testing.assert_close(forward.grads[key], expected[key], rtol=0, atol=1e-12)


def test_derivative_with_respect_to_an_intermediate_value():
    runtime = Runtime(lower(load(EXAMPLES / "path_sum.json")))
    assert reverse_mode(runtime, "e.out", ["c.out"]).grads["c.out"].item() == 2.0  # ∂e/∂c = d
    assert forward_mode(runtime, "e.out", ["c.out"]).grads["c.out"].item() == 2.0


def test_value_that_does_not_reach_the_output_has_zero_derivative():
    runtime = Runtime(lower(load(EXAMPLES / "sigmoid_neuron_l2.json")))
    assert reverse_mode(runtime, "t.out", ["y.out"]).grads["y.out"].item() == 0.0
    assert forward_mode(runtime, "t.out", ["y.out"]).grads["y.out"].item() == 0.0


def test_stepper_reports_each_step_and_layer_weight_gradients():
    runtime = runtime_of(
        [
            {"id": "x", "type": "Input", "params": {"shape": ["N", 3]}},
            {"id": "fc", "type": "Linear", "params": {"in_features": 3, "out_features": 2}},
            {"id": "s", "type": "sum"},
        ],
        [("x.out", "fc.x"), ("fc.out", "s.x")],
        batch=5,
    )
    stepper = Stepper(runtime)
    events = stepper.run()
    assert [(e.phase, e.node) for e in events] == [
        ("forward", "x"),
        ("forward", "fc"),
        ("forward", "s"),
        ("backward", "s"),
        ("backward", "fc"),
    ]
    assert events[1].outputs["fc.out"].shape == (5, 2)
    assert events[4].upstream["s.x"].shape == (5, 2)
    x = runtime.inputs["x"]
    grads = stepper.gradients()
    torch.testing.assert_close(grads["fc.weight"], torch.ones(2, 1, dtype=torch.float64) * x.sum(0))
    torch.testing.assert_close(grads["fc.bias"], torch.full((2,), 5.0, dtype=torch.float64))
    torch.testing.assert_close(grads["x.out"], runtime.module.fc.weight.sum(0).expand(5, 3).detach())


def test_stepper_needs_a_chosen_output_when_there_are_several():
    runtime = runtime_of(
        [
            {"id": "a", "type": "Input", "params": {"shape": [], "value": 1.0}},
            {"id": "p", "type": "exp"},
            {"id": "q", "type": "neg"},
        ],
        [("a.out", "p.x"), ("a.out", "q.x")],
    )
    with pytest.raises(SteppingError, match="the graph has 2 outputs"):
        Stepper(runtime)
    with pytest.raises(SteppingError, match="no output 'nope'"):
        Stepper(runtime, of="p.nope")
    assert Stepper(runtime, of="q").of == "q.out"


def test_float32_runs_in_float32():
    runtime = Runtime(lower(load(EXAMPLES / "sigmoid_neuron.json")), dtype="float32")
    assert runtime.forward()["L.out"].dtype == torch.float32
    assert reverse_mode(runtime, "L.out", ["w.out"]).grads["w.out"].dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_agrees_with_cpu():
    cpu = Runtime(lower(load(EXAMPLES / "sigmoid_neuron_l2.json")), device="cpu")
    gpu = Runtime(lower(load(EXAMPLES / "sigmoid_neuron_l2.json")), device="cuda")
    assert gpu.forward()["L.out"].device.type == "cuda"
    for mode in (reverse_mode, forward_mode):
        torch.testing.assert_close(
            mode(gpu, "L.out", ["w.out"]).grads["w.out"].cpu(),
            mode(cpu, "L.out", ["w.out"]).grads["w.out"],
            rtol=1e-9,
            atol=1e-12,
        )
