"""`detach` in a graph: the path through it adds nothing to a derivative, in every mode, and it
imports from and exports to `x.detach()`."""

from __future__ import annotations

import json

import torch

from graphcore.codegen import python_source
from graphcore.derivatives.api import jacobian
from graphcore.exchange.importer import import_module
from graphcore.files.fileformat import loads
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper

X = [[0.5, -1.5, 2.0]]


def product_graph():
    """sum(x · detach(x)): autograd's gradient is detach(x) = x, not the 2x of sum(x²)."""
    data = {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [1, 3], "value": X}},
            {"id": "stop", "type": "detach"},
            {"id": "product", "type": "mul"},
            {"id": "total", "type": "sum"},
        ],
        "edges": [
            {"from": "x.out", "to": "stop.x"},
            {"from": "x.out", "to": "product.a"},
            {"from": "stop.out", "to": "product.b"},
            {"from": "product.out", "to": "total.x"},
        ],
    }
    return loads(json.dumps(data))


def test_reverse_and_forward_mode_give_autograds_gradient():
    runtime = Runtime(lower(product_graph()))
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad((x * x.detach()).sum(), x)
    for method in ("reverse", "forward"):
        found = jacobian(runtime, ["total.out"], ["x.out"], method)
        torch.testing.assert_close(found.matrix.reshape(expected.shape), expected)
    assert torch.equal(expected, x.detach())  # half of sum(x²)'s gradient: the detached path is gone


def test_the_stepper_passes_a_zero_gradient_through_detach():
    stepper = Stepper(Runtime(lower(product_graph())), of="total.out")
    backward = [e for e in stepper.events() if e.phase == "backward" and e.node == "stop"]
    assert backward, "the stepper takes a backward step at detach"
    (passed,) = backward[0].passed.values()
    assert passed is not None and not passed.any()


def test_x_detach_imports_as_detach_and_exports_as_it():
    class Stopped(torch.nn.Module):
        def forward(self, x):
            return x * torch.detach(x) + x.detach()

    result = import_module(Stopped(), {"x": {"shape": ["N", 3]}})
    assert [n.type for n in result.graph.nodes].count("detach") == 2
    source = python_source(lower(result.graph), "Model", None, 0).source
    assert ".detach()" in source
