"""Test oracles: the same derivatives computed another way, for the tests to compare against."""

from __future__ import annotations

from typing import Any

import torch

from graphcore.codegen import node_function
from graphcore.interpreter import Interpreter, as_tuple
from graphcore.program import Instr
from graphcore.runtime import Runtime


class _AutogradValues(Interpreter):
    """Forward evaluation recording a torch autograd graph, with the `wrt` values as leaves."""

    def __init__(self, runtime: Runtime, wrt: list[str]) -> None:
        super().__init__(runtime.program)
        self.runtime, self.wrt = runtime, wrt
        self.leaves: dict[str, Any] = {}

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if instr.spec.is_source:
            outs = (self.runtime.source_value(instr).detach().clone(),)
        else:
            outs = as_tuple(node_function(instr)(self.runtime.module_of(instr), *args))
        result = []
        for name, value in zip(instr.outs, outs):
            if name in self.wrt:  # an intermediate value: differentiate with respect to it as a leaf
                value = self.leaves[name] = value.detach().requires_grad_(True)
            result.append(value)
        return tuple(result)


def autograd_reference(runtime: Runtime, of: str, wrt: list[str]) -> dict[str, Any]:
    """The Jacobians d(of)/d(wrt) by plain torch autograd over the node code."""
    interpreter = _AutogradValues(runtime, wrt)
    output = interpreter.run()[of]
    leaves = interpreter.leaves
    rows: dict[str, list[Any]] = {w: [] for w in wrt}
    for index in range(output.numel()):
        found = torch.autograd.grad(
            output.reshape(-1)[index], [leaves[w] for w in wrt], retain_graph=True, allow_unused=True
        )
        for w, g in zip(wrt, found):
            rows[w].append(g if g is not None else torch.zeros_like(leaves[w]))
    return {w: torch.stack(r).reshape((*output.shape, *leaves[w].shape)) for w, r in rows.items()}
