"""Validation: everything that can be wrong with a graph, as a list of diagnostics, never a crash.

Checks run in order of what later checks need: known types, then params and wiring, then cycles,
then shapes (inferred node by node, so one bad node does not hide problems elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphcore.graph import Graph, PortRef
from graphcore.program import Instr, node_shapes
from graphcore.registry import REGISTRY, Shape, ShapeError


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
    report = Report()
    problems = report.diagnostics
    broken: set[str] = set()  # nodes whose shapes cannot be inferred
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
        for port in spec.inputs:
            if port not in spec.optional_inputs and graph.source_of(PortRef(node.id, port)) is None:
                problems.append(Diagnostic(node.id, port, "input is not connected"))
                broken.add(node.id)
    if graph.has_cycle():
        cycle = graph.find_cycle()
        problems.append(Diagnostic(cycle[0], None, "is on a cycle: " + " → ".join([*cycle, cycle[0]])))
        return report
    _infer(graph, report, broken)
    return report


def _infer(graph: Graph, report: Report, broken: set[str]) -> None:
    for node_id in graph.topological_order():
        if node_id in broken:
            continue
        node = graph.node(node_id)
        spec = REGISTRY[node.type]
        sources = [graph.source_of(PortRef(node_id, p)) for p in spec.inputs]
        if any(s is not None and str(s) not in report.shapes for s in sources):
            continue  # an upstream node is already reported
        in_shapes = [report.shapes[str(s)] if s is not None else None for s in sources]
        instr = Instr(
            node_id, spec, tuple(str(s) if s else None for s in sources), spec.with_defaults(node.params)
        )
        try:
            report.shapes.update(node_shapes(instr, in_shapes))
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
