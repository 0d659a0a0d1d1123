"""Memory budget: the bytes a graph needs for one batch, checked before anything is allocated.

Shape inference gives every value's size (symbolic dims such as "N" are the batch); the generated
module, built on torch's "meta" device, gives every weight's size without allocating it. A run holds
the weights, one batch of activations, a gradient for each, and the optimizer's state. When that is
more than the budget (a share of the free memory of the device, or BACKPROP_MEMORY_BUDGET), the run
is refused with one line naming the node that needs the most.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.interpreter import infer_shapes
from graphcore.program import Instr, Program
from graphcore.registry import Shape, show

ENV = "BACKPROP_MEMORY_BUDGET"
MEMINFO = "/proc/meminfo"  # Linux: MemAvailable is what can be allocated without swapping
FREE_SHARE = 0.8  # of the memory free now: the rest is left to the app, torch and the system
FALLBACK_BYTES = 4 * 2**30  # when the free memory cannot be read
GB = 2**30
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
# Optimizer state per parameter, in tensors the size of the parameter (torch.optim's own).
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2}


class MemoryBudgetError(ValueError):
    """A graph needs more memory than the budget; the message is one line naming the node."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass(frozen=True)
class Workload:
    """What a run holds at once: one batch of this size, gradients, optimizer state per weight and,
    for training, the whole data set on the device."""

    batch: int = 4
    optimizer_slots: int = 0
    # Input node -> (shape of its training data, bytes per element; None: the run's dtype)
    data: Mapping[str, tuple[tuple[int, ...], int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Need:
    """Bytes one node needs for one thing (its output, a weight), gradients and state included."""

    node: str
    title: str  # the node's label, else its id
    what: str  # "output [4, 3] (float64) with its gradient", "weight [30000, 30000] (float32)"
    bytes: int


@dataclass(frozen=True)
class Estimate:
    needs: tuple[Need, ...]

    @property
    def total(self) -> int:
        return sum(n.bytes for n in self.needs)

    def by_node(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for need in self.needs:
            totals[need.node] = totals.get(need.node, 0) + need.bytes
        return totals


def optimizer_slots(optimizer: Mapping[str, Any]) -> int:
    """Tensors of state torch.optim keeps per parameter for this optimizer section."""
    name = optimizer.get("name", "sgd")
    slots = OPTIMIZER_SLOTS.get(name, 2)
    if name in ("sgd", "rmsprop") and optimizer.get("momentum"):
        slots += 1  # a momentum buffer
    return slots + bool(optimizer.get("centered")) + bool(optimizer.get("amsgrad"))


# --- sizes -----------------------------------------------------------------------------------------


def show_size(size: int | float) -> str:
    """Bytes as users read them: "7.45 GB", "1,234,567 GB"; below 0.1 GB in MB or KB."""
    if size >= GB * 1000:
        return f"{size / GB:,.0f} GB"
    if size >= GB / 10:
        return f"{size / GB:.3g} GB"
    if size >= 2**20 / 100:
        return f"{size / 2**20:.3g} MB"
    return f"{size / 2**10:.3g} KB"


def parse_size(text: str) -> int:
    """ "4GB", "512 MB", "1.5g", "2TiB" or plain bytes; units are binary (1 GB = 2**30 bytes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if match is None:
        raise ValueError(f"a memory budget is a size such as 4GB or 512MB, not {str(text)[:40]!r}")
    size = float(match[1]) * _UNITS[match[2].lower()]
    if not math.isfinite(size) or size <= 0:
        raise ValueError(f"a memory budget must be more than 0 bytes, not {str(text)[:40]!r}")
    return int(size)


def set_budget(text: str | None) -> None:
    """Set the budget for this process (the CLI's --memory-budget); None goes back to the default."""
    if text is None:
        os.environ.pop(ENV, None)
        return
    parse_size(text)
    os.environ[ENV] = text


def free_bytes(device: Any = None) -> int:
    """Memory free now on `device`: the GPU's free memory for CUDA, MemAvailable for the CPU."""
    if device is not None and torch.device(device).type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        except (RuntimeError, AssertionError, ValueError):
            return FALLBACK_BYTES
    try:
        with open(MEMINFO, encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_BYTES


def budget(device: Any = None) -> int:
    """BACKPROP_MEMORY_BUDGET when set, else a share of the memory free on `device` now."""
    text = os.environ.get(ENV, "").strip()
    if text:
        try:
            return parse_size(text)
        except ValueError as error:
            raise ValueError(f"{ENV}: {error}") from None
    return int(free_bytes(device) * FREE_SHARE)


# --- the estimate ----------------------------------------------------------------------------------


def _dim(dim: int | str, batch: int) -> int:
    """A dim's size: symbolic names ("N", "N*12", "int(N*2.0)") are the batch; an expression this
    cannot read counts as the batch."""
    if isinstance(dim, int):
        return dim
    try:
        return max(0, int(_evaluate(ast.parse(dim, mode="eval").body, batch)))
    except (ValueError, SyntaxError, ArithmeticError, RecursionError):
        return batch


_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
}


def _evaluate(node: ast.AST, batch: int) -> float:
    if isinstance(node, ast.Name):
        return batch
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left, batch), _evaluate(node.right, batch))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "int" and node.args:
        return int(_evaluate(node.args[0], batch))
    raise ValueError(f"cannot size the dimension {ast.unparse(node)!r}")


def numel(shape: Shape, batch: int) -> int:
    return math.prod(max(0, _dim(d, batch)) for d in shape)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _element_size(dtype: Any) -> int:
    return torch.empty((), dtype=dtype, device="meta").element_size()


def weight_shapes(
    module_class: Any, attributes: Mapping[str, str], dtype: Any
) -> dict[str, list[tuple[str, Any]]]:
    """node -> [(name, meta tensor)] for each weight, buffer or constant of the generated module,
    built on the meta device: sizes and dtypes without a byte of storage."""
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        module = module_class(dtype=dtype)
    found: dict[str, list[tuple[str, Any]]] = {}
    for node, attribute in attributes.items():
        value = getattr(module, attribute)
        if isinstance(value, torch.nn.Module):
            tensors = [*value.named_parameters(), *value.named_buffers()]
        elif isinstance(value, torch.Tensor):
            tensors = [(attribute, value)]
        else:
            tensors = []
        found[node] = tensors
    return found


def estimate(
    program: Program, weights: Mapping[str, list[tuple[str, Any]]], dtype: Any, workload: Workload
) -> Estimate:
    """The bytes each node needs: its weights (with a gradient and optimizer state for each trainable
    one) and its outputs for one batch (with a gradient each)."""
    size = _element_size(dtype)
    shapes = infer_shapes(program)
    needs = []
    for instr in program:
        for name, tensor in weights.get(instr.node, []):
            trained = tensor.requires_grad
            copies = 2 + workload.optimizer_slots if trained else 1
            name = name if instr.spec.kind == "layer" else "value"
            what = f"{name} {show(tuple(tensor.shape))} ({_dtype_name(tensor.dtype)})"
            if trained:
                what += " with its gradient" + (" and optimizer state" if workload.optimizer_slots else "")
            needs.append(Need(instr.node, instr.title, what, tensor.numel() * tensor.element_size() * copies))
        if instr.spec.kind in ("parameter", "constant"):
            continue  # their output is the weight itself
        for out in instr.outs:
            needs.append(_output_need(instr, out, shapes[out], dtype, size, workload.batch))
    for node, (shape, element) in workload.data.items():
        instr = program.by_node[node]
        kind = f"int{element * 8}" if element else _dtype_name(dtype)
        what = f"training data {show(shape)} ({kind})"
        needs.append(Need(node, instr.title, what, math.prod(shape) * (element or size)))
    return Estimate(tuple(needs))


def _output_need(instr: Instr, out: str, shape: Shape, dtype: Any, size: int, batch: int) -> Need:
    integer = instr.params.get("dtype") == "long"
    name = "int64" if integer else _dtype_name(dtype)
    resolved = tuple(_dim(d, batch) for d in shape)
    port = out.rpartition(".")[2]
    what = f"{'output' if port == 'out' else 'output ' + port} {show(resolved)} ({name})"
    what += "" if integer else " with its gradient"
    copies = 1 if integer else 2  # a value and its gradient
    return Need(instr.node, instr.title, what, numel(shape, batch) * (8 if integer else size) * copies)


def check(estimate: Estimate, limit: int, what: str = "one batch") -> None:
    """Raise MemoryBudgetError naming the node that needs the most when the total is over `limit`."""
    if estimate.total <= limit or not estimate.needs:
        return
    largest = max(estimate.needs, key=lambda n: n.bytes)
    tail = f"the budget is {show_size(limit)} (set {ENV} to change it)"
    if largest.bytes > limit:
        message = f"{largest.title}: needs {show_size(largest.bytes)} for its {largest.what}; {tail}"
    else:
        message = (
            f"{largest.title}: the graph needs {show_size(estimate.total)} for {what}, "
            f"{show_size(largest.bytes)} of it for this node's {largest.what}; {tail}"
        )
    raise MemoryBudgetError(largest.node, message)


def check_program(
    program: Program,
    module_class: Any,
    attributes: Mapping[str, str],
    dtype: Any,
    device: Any,
    workload: Workload,
) -> Estimate:
    """Estimate a run of `program` and refuse it (MemoryBudgetError) when over the device's budget."""
    found = estimate(program, weight_shapes(module_class, attributes, dtype), dtype, workload)
    check(found, budget(device), f"one batch of {workload.batch}")
    return found


def check_jacobian(
    program: Program, values: Mapping[str, Any], of: list[str], wrt: list[str], seeds: str
) -> None:
    """Refuse a Jacobian whose matrix and one-hot seeds (`seeds`: "of" or "wrt", the side swept one
    element at a time) would not fit in the budget of the device the values are on."""
    rows = sum(values[o].numel() for o in of)
    columns = sum(values[w].numel() for w in wrt)
    swept = max(of if seeds == "of" else wrt, key=lambda v: values[v].numel())
    like = values[swept]
    size = like.element_size()
    need = (2 * rows * columns + like.numel() ** 2) * size  # the matrix, its columns, the seeds
    limit = budget(like.device)
    if need > limit:
        instr = program.producer(swept)
        raise MemoryBudgetError(
            instr.node,
            f"{instr.title}: the Jacobian of {', '.join(of)} with respect to {', '.join(wrt)} needs "
            f"{show_size(need)} ([{rows}, {columns}] and {like.numel()} one-hot seeds of {swept}, "
            f"{_dtype_name(like.dtype)}); the budget is {show_size(limit)} (set {ENV} to change it)",
        )
