"""One interpreter over the Program (torch.fx's Interpreter): walk the instructions in order.

Every way of reading the graph node by node — shape inference, evaluation, stepping, forward-mode
tangents — is a subclass that overrides `run_node` alone. Values given up front (`run(given)`)
are not recomputed, so a partial evaluation from an intermediate value is the same loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphcore.program import Instr, Program, node_errors
from graphcore.registry import Shape


class Interpreter:
    """Runs a program one instruction at a time; `env` maps each value name to what was computed."""

    def __init__(self, program: Program, env: dict[str, Any] | None = None) -> None:
        self.program = program
        self.env: dict[str, Any] = env if env is not None else {}

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One value per output port of `instr` (None: nothing to compute for this node).

        `args` holds the value read through each input port, None where the port is unconnected
        or its source has no value in `env`."""
        raise NotImplementedError

    def steps(self, given: Mapping[str, Any] | None = None) -> Iterator[Instr]:
        """Run the program, yielding after each instruction (a step-by-step event stream)."""
        self.env.clear()  # the same dict throughout: a caller may hold it (ForwardTrace.values)
        self.env.update(given or {})
        for instr in self.program:
            if instr.outs[0] not in self.env:
                args = tuple(self.env.get(a) if a else None for a in instr.args)
                outs = self.run_node(instr, args)
                if outs is not None:
                    self.env.update(zip(instr.outs, outs))
            yield instr

    def run(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the whole program; every value by name."""
        for _ in self.steps(given):
            pass
        return self.env


def as_tuple(result: Any) -> tuple[Any, ...]:
    return result if isinstance(result, tuple) else (result,)


class Evaluator(Interpreter):
    """The values of a runtime's graph, node by node, without recording gradients."""

    def __init__(self, runtime: Any) -> None:  # a graphcore.runtime.Runtime
        super().__init__(runtime.program)
        self.runtime = runtime

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...]:
        from graphcore._torch import torch  # validate imports this module and must not need torch
        from graphcore.codegen import node_function

        if instr.spec.is_source:
            return (self.runtime.source_value(instr).detach(),)
        with torch.no_grad(), node_errors(instr):
            return as_tuple(node_function(instr)(self.runtime.module_of(instr), *args))


class ShapeInterpreter(Interpreter):
    """Shape of every value from the node types' shape rules; a ShapeError propagates."""

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        result: Any = instr.spec.shape(*args, **instr.params)
        if instr.spec.returns_tuple:
            return tuple(tuple(s) for s in result)
        return (tuple(result),)


def infer_shapes(program: Program) -> dict[str, Shape]:
    """Shape of every value of a program; a shape rule's ShapeError propagates with its message."""
    return ShapeInterpreter(program).run()
