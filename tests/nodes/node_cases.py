"""Building blocks of the registry-driven node tests: examples, tiny graphs, input values, evaluation.

A case is one of a type's declared examples at one concrete batch size: a graph `Input nodes → n`, its
runtime in float64, and input values drawn as the example says (away from kinks and domain edges).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from graphcore.codegen import node_function
from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef
from graphcore.program import Instr, lower
from graphcore.registry import REGISTRY, Example, NodeSpec, Shape, load_library
from graphcore.runtime import Runtime
from graphcore.validate import Report, validate

load_library()
# a Block computes nothing of its own: its ports and numbers are its definition's, inlined before
# anything runs (graphcore.blocks), so the per-type checks skip it and test_contract checks it apart
TYPES = sorted(t for t in REGISTRY if t != BLOCK_TYPE)
OPERATIONS = [t for t in TYPES if not REGISTRY[t].is_source]
LABELS = ("index", "sign")  # value kinds that are labels: held fixed, never differentiated
NODE = "n"


def examples_of(spec: NodeSpec, draws: int = 2) -> list[Example]:
    """The type's examples from `draws` seeded draws, without repeats (stable from run to run)."""
    assert spec.examples is not None, f"{spec.type} declares no examples"
    found: dict[str, Example] = {}
    for draw in range(draws):
        for example in spec.examples(random.Random(f"{spec.type}/{draw}")):
            found.setdefault(repr((sorted(example.params.items()), example.shapes, example.values)), example)
    return list(found.values())


def batch_of(example: Example, index: int) -> int:
    return (2, 3, 5)[(index + len(repr(example.shapes))) % 3]


def concrete_dim(dim: int | str, batch: int) -> int:
    return dim if isinstance(dim, int) else int(eval(dim, {"__builtins__": {}, "int": int}, {"N": batch}))


def concrete(shape: Shape, batch: int) -> tuple[int, ...]:
    return tuple(concrete_dim(d, batch) for d in shape)


def is_label(kind: str) -> bool:
    return kind.split(":")[0] in LABELS


def build_graph(
    spec: NodeSpec, params: dict[str, Any], shapes: tuple[Shape | None, ...], kinds: tuple[str, ...]
) -> Graph:
    """Input nodes (one per connected port) feeding node `n` of type `spec`."""
    graph = Graph()
    for port, shape, kind in zip(spec.inputs, shapes, kinds, strict=True):
        if shape is not None:
            dtype = "long" if kind.startswith("index") else "float"
            graph.add_node(Node(f"in_{port}", "Input", {"shape": list(shape), "dtype": dtype}))
    graph.add_node(Node(NODE, spec.type, dict(params)))
    for port, shape in zip(spec.inputs, shapes, strict=True):
        if shape is not None:
            graph.connect(PortRef(f"in_{port}", "out"), PortRef(NODE, port))
    return graph


def draw_value(kind: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """An input value of `kind` (see graphcore.registry.Example)."""
    name, _, arg = kind.partition(":")
    dtype = torch.float64
    if name == "index":
        return torch.randint(0, int(arg), shape, generator=generator)
    if name == "real":
        return torch.randn(shape, generator=generator, dtype=dtype)
    if name == "positive":
        return torch.rand(shape, generator=generator, dtype=dtype) * 1.5 + 0.5
    if name == "unit":
        return torch.rand(shape, generator=generator, dtype=dtype) * 0.8 + 0.1
    if name == "nonzero":
        sign = torch.randint(0, 2, shape, generator=generator) * 2 - 1
        return sign * (torch.rand(shape, generator=generator, dtype=dtype) * 1.4 + 0.2)
    if name in ("spread", "spread2"):  # distinct values on a grid of step 0.1; spread2's grid is offset
        count = int(torch.Size(shape).numel())
        order = torch.randperm(count, generator=generator).to(dtype)
        offset = 0.013 if name == "spread" else 0.061
        return ((order - count // 2) * 0.1 + offset).reshape(shape)
    if name == "sign":
        return (torch.randint(0, 2, shape, generator=generator) * 2 - 1).to(dtype)
    if name == "probs":
        scores = torch.randn(shape, generator=generator, dtype=dtype)
        return torch.softmax(scores, dim=1 if len(shape) > 1 else 0)
    raise AssertionError(f"unknown value kind {kind!r}")


@dataclass
class Case:
    """One example of a node type at one batch size, ready to run."""

    spec: NodeSpec
    example: Example
    batch: int
    graph: Graph
    report: Report
    runtime: Runtime
    args: tuple[Any, ...]  # one per input port, None where unconnected
    kinds: tuple[str, ...]

    @property
    def instr(self) -> Instr:
        return self.runtime.program.by_node[NODE]

    @property
    def module(self) -> Any:
        return self.runtime.module_of(self.instr)

    def expected_shapes(self) -> list[tuple[int, ...]]:
        return [concrete(self.report.shapes[out], self.batch) for out in self.instr.outs]

    def call(self, *args: Any, seed: int = 0) -> tuple[Any, ...]:
        """The node's own code on `args` (default: the case's inputs), with the global RNG seeded."""
        torch.manual_seed(seed)
        result = node_function(self.instr)(self.module, *(args or self.args))
        return result if isinstance(result, tuple) else (result,)

    def with_weights(self, args: tuple[Any, ...], weights: dict[str, Any], seed: int = 0) -> tuple[Any, ...]:
        """The node's code on `args` with the layer's weights swapped for `weights` (torch.func)."""
        if self.module is None:
            return self.call(*args, seed=seed)
        torch.manual_seed(seed)
        result = torch.func.functional_call(LayerCode(self), weights, args)
        return result if isinstance(result, tuple) else (result,)

    @property
    def float_slots(self) -> list[int]:
        """Inputs that are differentiated: connected, floating point and not labels."""
        return [
            i
            for i, (a, k) in enumerate(zip(self.args, self.kinds, strict=True))
            if a is not None and a.is_floating_point() and not is_label(k)
        ]


class LayerCode(torch.nn.Module):
    """A case's node code as a module over its layer, so functional_call can swap in weights."""

    def __init__(self, case: Case) -> None:
        super().__init__()
        self.layer, self.function = case.module, node_function(case.instr)

    def forward(self, *args: Any) -> Any:
        return self.function(self.layer, *args)


def make_case(
    spec: NodeSpec,
    example: Example,
    batch: int,
    seed: int = 0,
    shapes: tuple[Shape | None, ...] | None = None,
    zero_labels: bool = False,
) -> Case:
    """Build and validate the graph; the runtime is made only when the graph validates."""
    shapes = example.shapes if shapes is None else shapes
    kinds = tuple(example.value_kind(i) for i in range(len(spec.inputs)))
    graph = build_graph(spec, dict(example.params), shapes, kinds)
    report = validate(graph)
    generator = torch.Generator().manual_seed(seed)
    args = []
    for shape, kind in zip(shapes, kinds, strict=True):
        if shape is None:
            args.append(None)
            continue
        value = draw_value(kind, concrete(shape, batch), generator)
        args.append(torch.zeros_like(value) if zero_labels and kind.startswith("index") else value)
    inputs = {f"in_{port}": a for port, a in zip(spec.inputs, args, strict=True) if a is not None}
    if spec.kind == "input":  # the node itself is fed: seeded data with the batch size
        inputs = None
    runtime = None
    if report.ok:
        runtime = Runtime(lower(graph), dtype="float64", inputs=inputs, seed=seed, batch=batch)
    return Case(spec, example, batch, graph, report, runtime, tuple(args), kinds)  # type: ignore[arg-type]


def cases(type_: str, draws: int = 2) -> list[Case]:
    spec = REGISTRY[type_]
    examples = examples_of(spec, draws)
    return [make_case(spec, example, batch_of(example, i)) for i, example in enumerate(examples)]
