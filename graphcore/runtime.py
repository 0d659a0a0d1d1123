"""The fast path: the graph as one generated nn.Module, on a chosen device and dtype.

The module is the code `graphcore.codegen` writes, compiled in-process, so the app runs exactly
what an export contains. The stepping engine and the derivative interpreters borrow its weights
(`Runtime.module_of`, `Runtime.source_value`), so every path sees the same numbers.
"""

from __future__ import annotations

import ast
import traceback
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from graphcore._torch import torch
from graphcore.codegen import GeneratedModule, class_name_from, exec_source, python_source
from graphcore.feeds import as_tensors, check_given, default_inputs
from graphcore.memory import Estimate, Workload, check_program
from graphcore.program import Instr, NodeError, Program

DTYPES = ("float32", "float64")


def resolve_device(name: str | None = None) -> Any:
    """'cuda' when asked for and present, 'cpu' otherwise; None or 'auto' picks cuda when there is one.
    cuda:N past the GPUs there are is refused here, not by the first tensor moved there."""
    if name in (None, "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name[:40]!r} was asked for but torch sees no CUDA GPU here")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name[:40]!r}: use cpu, cuda or cuda:N") from None
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if device.index is not None and device.type == "cuda" and device.index >= count:
        raise ValueError(
            f"device {name!r} was asked for but torch sees {count} CUDA GPU(s) here (cuda:0 to cuda:{count - 1})"
        )
    return device


def resolve_dtype(name: str) -> Any:
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    return getattr(torch, name)


class Runtime:
    """A program made runnable: its generated module, weights built from a seed, and input data.

    Before any weight or input is allocated, the run (`workload`: one batch of `batch` by default,
    with gradients) is checked against the memory budget: MemoryBudgetError names the node.
    `given`: arrays for some Inputs (by id), checked against their declarations (a FeedError says
    why one does not fit); their sizes bind symbolic dims such as N for the Inputs generated.
    """

    def __init__(
        self,
        program: Program,
        *,
        dtype: str = "float64",
        device: str | None = "cpu",
        seed: int = 0,
        name: str = "Model",
        outputs: Sequence[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        batch: int = 4,
        workload: Workload | None = None,
        given: Mapping[str, Any] | None = None,
    ) -> None:
        self.program = program
        self.dtype, self.device = resolve_dtype(dtype), resolve_device(device)
        fed, dims = check_given(program, given or {})
        self.generated: GeneratedModule = python_source(program, class_name_from(name), outputs, seed)
        cls = exec_source(self.generated.source, self.generated.class_name)[self.generated.class_name]
        self.memory: Estimate = check_program(
            program,
            cls,
            self.generated.attributes,
            self.dtype,
            self.device,
            workload or Workload(max([batch, *dims.values()])),
        )
        self.module = cls(dtype=self.dtype).to(self.device)
        self.load_weights(self.module)
        self.inputs = (
            dict(inputs)
            if inputs is not None
            else default_inputs(program, self.dtype, self.device, batch=batch, seed=seed, dims=dims)
        )
        self.inputs.update(as_tensors(fed, self.dtype, self.device))

    def load_weights(self, module: Any) -> None:
        """Put the graph's weights, when it has a side file of them, into `module` (built from the
        seed, on this device): what a trained or imported model computes with."""
        if self.program.weights is not None:
            from graphcore.files.weights import apply

            apply(self.program.weights, module, self.generated.attributes)

    def forward(self, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the generated module: value name -> tensor for each of its outputs. What a node
        raises comes out as a NodeError naming it."""
        data = {**self.inputs, **(inputs or {})}
        try:
            result = self.module(*(data[node] for node in self.generated.inputs))
        except Exception as error:  # torch's errors, out of memory included, named by node
            instr = self.failing_node(error)
            if instr is None:
                raise
            raise NodeError(instr, error) from error
        results = result if len(self.generated.outputs) > 1 else (result,)
        return dict(zip(self.generated.outputs, results))

    @cached_property
    def _forward_lines(self) -> dict[int, str]:
        """Line of the generated forward -> the node whose code it is (one statement per node)."""
        tree = ast.parse(self.generated.source)
        name = self.generated.class_name  # helpers may define classes of their own before it
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
        forward = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward")
        statements = forward.body[:-1]  # the last one returns the outputs
        computed = [i.node for i in self.program if not i.spec.is_source]
        if len(statements) != len(computed):
            return {}
        return {
            line: node
            for statement, node in zip(statements, computed)
            for line in range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)
        }

    def failing_node(self, error: BaseException) -> Instr | None:
        """The node whose line of the generated module raised `error` (None when it came from
        elsewhere, such as autograd's backward pass)."""
        code = type(self.module).forward.__code__
        lines = [line for frame, line in traceback.walk_tb(error.__traceback__) if frame.f_code is code]
        node = self._forward_lines.get(lines[-1]) if lines else None
        return self.program.by_node[node] if node else None

    def module_of(self, instr: Instr) -> Any:
        """The nn.Module of a layer node (None for other nodes)."""
        if instr.spec.kind != "layer":
            return None
        return getattr(self.module, self.generated.attributes[instr.node])

    def source_value(self, instr: Instr) -> Any:
        """The current value of a source node: its input data, parameter or constant."""
        if instr.spec.kind == "input":
            return self.inputs[instr.node]
        return getattr(self.module, self.generated.attributes[instr.node])


def use_float64_draws(runtime: Runtime, seed: int, batch: int) -> None:
    """Give a runtime the initial weights and generated inputs a float64 one draws from the same seed,
    rounded to its dtype: torch draws different numbers at float32 (kaiming_uniform_, randn), so a
    float32 answer would otherwise be to another question. Saved weights stay as they were."""
    if runtime.dtype == torch.float64:
        return
    reference = type(runtime.module)(dtype=torch.float64)  # drawn on the CPU, from the class's seed
    runtime.load_weights(reference)
    runtime.module.load_state_dict(reference.state_dict())
    drawn = default_inputs(runtime.program, torch.float64, "cpu", batch=batch, seed=seed)
    for node, tensor in drawn.items():
        if tensor.is_floating_point() and node in runtime.inputs:
            runtime.inputs[node] = tensor.to(runtime.device, runtime.dtype)
