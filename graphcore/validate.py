"""Validation: everything that can be wrong with a graph, as a list of diagnostics, never a crash.

Checks run in order of what later checks need: known types, then params and wiring, then cycles,
then shapes (inferred node by node, so one bad node does not hide problems elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphcore import collector
from graphcore.graph import Graph, Node, PortRef
from graphcore.program import output_shapes
from graphcore.registry import REGISTRY, NodeSpec, Shape, ShapeError


@dataclass(frozen=True)
class Diagnostic:
    """A problem at a node (and port or param, when one is to blame)."""

    node: str
    port: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.node}.{self.port}" if self.port else self.node
        return f"{where}: {self.message}"


@dataclass
class Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)  # "node.port" -> inferred shape

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def for_node(self, node_id: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.node == node_id]


class InvalidGraph(ValueError):
    """Raised when a graph that does not validate is asked to run."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(map(str, diagnostics)))
        self.diagnostics = diagnostics


def validate(graph: Graph) -> Report:
    with collector.paused():
        return _validate(graph)


def _validate(graph: Graph) -> Report:
    report = Report()
    problems = report.diagnostics
    broken: set[str] = set()  # nodes whose shapes cannot be inferred
    wiring: dict[str, Wiring] = {}
    for node in graph.nodes:
        spec = REGISTRY.get(node.type)
        if spec is None:
            problems.append(
                Diagnostic(node.id, None, f"unknown node type {node.type!r} (from a newer version?)")
            )
            broken.add(node.id)
            continue
        for param, message in spec.param_problems(node.params):
            problems.append(Diagnostic(node.id, param, message))
            broken.add(node.id)
        sources = graph.sources_of(node.id, spec.inputs)
        for port, source in zip(spec.inputs, sources):
            if source is None and port not in spec.optional_inputs:
                problems.append(Diagnostic(node.id, port, "input is not connected"))
                broken.add(node.id)
        wiring[node.id] = node, spec, sources
    if graph.has_cycle():
        cycle = graph.find_cycle()
        problems.append(Diagnostic(cycle[0], None, "is on a cycle: " + " → ".join([*cycle, cycle[0]])))
        return report
    _infer(graph.topological_order(), wiring, report, broken)
    return report


Wiring = tuple[Node, NodeSpec, list[PortRef | None]]  # a node, its type and what feeds each input port


def _infer(order: list[str], wiring: dict[str, Wiring], report: Report, broken: set[str]) -> None:
    shapes = report.shapes
    for node_id in order:
        if node_id in broken:
            continue
        node, spec, sources = wiring[node_id]
        args = [str(s) if s is not None else None for s in sources]
        if not all(a is None or a in shapes for a in args):
            continue  # an upstream node is already reported
        in_shapes = [shapes[a] if a is not None else None for a in args]
        params = spec.with_defaults(node.params)
        try:
            shapes.update(output_shapes(node_id, spec, params, in_shapes))
        except ShapeError as error:
            report.diagnostics.append(Diagnostic(node_id, None, str(error)))
        except (TypeError, ValueError, KeyError, IndexError, ArithmeticError) as error:
            report.diagnostics.append(Diagnostic(node_id, None, f"cannot infer the output shape: {error}"))


def check(graph: Graph) -> Report:
    """validate(), raising InvalidGraph when there are problems: for code about to run the graph."""
    report = validate(graph)
    if not report.ok:
        raise InvalidGraph(report.diagnostics)
    return report
