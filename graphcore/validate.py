"""Validation: everything that can be wrong with a graph, as a list of diagnostics, never a crash.

Checks run in order of what later checks need: known types, then params and wiring, then cycles,
then shapes (inferred node by node, so one bad node does not hide problems elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphcore import collector
from graphcore.blocks import (
    SEPARATOR,
    FlattenError,
    block_problems,
    flatten_with_ports,
    instances,
)
from graphcore.graph import Graph, Node, PortRef, output_ports
from graphcore.interpreter import ShapeInterpreter
from graphcore.program import Instr, Program
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

    def as_dict(self) -> dict[str, str | None]:
        """The diagnostic as the CLI's JSON writes it."""
        return {"node": self.node, "port": self.port, "message": self.message}


@dataclass
class Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)  # "node.port" -> inferred shape

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def for_node(self, node_id: str) -> list[Diagnostic]:
        """The node's problems; for a block instance, also those of the nodes inlined from it."""
        inside = node_id + SEPARATOR
        return [d for d in self.diagnostics if d.node == node_id or d.node.startswith(inside)]


class InvalidGraph(ValueError):
    """Raised when a graph that does not validate is asked to run."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(map(str, diagnostics)))
        self.diagnostics = diagnostics


def validate(graph: Graph) -> Report:
    """Every problem of the graph. A graph with block instances is checked as it runs, inlined
    (graphcore.blocks.flatten): problems inside name the inlined node ("res1/fc.x"), and each
    instance's ports get the shapes of the inner values they expose."""
    with collector.paused():
        if not instances(graph):
            return _validate(graph)
        if problems := block_problems(graph):
            return Report([Diagnostic(node, None, message) for node, message in problems])
        try:
            flat, exposed = flatten_with_ports(graph)
        except FlattenError as error:
            return Report([Diagnostic(instances(graph)[0].id, None, str(error))])
        report = _validate(flat)
        for port, inner in exposed.items():
            if inner in report.shapes:
                report.shapes[port] = report.shapes[inner]
        return report


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
    _check_sources(wiring, problems, broken)
    if graph.has_cycle():
        cycle = graph.find_cycle()
        problems.append(Diagnostic(cycle[0], None, "is on a cycle: " + " → ".join([*cycle, cycle[0]])))
        return report
    _infer(graph.topological_order(), wiring, report, broken)
    return report


Wiring = tuple[Node, NodeSpec, list[PortRef | None]]  # a node, its type and what feeds each input port


def _check_sources(wiring: dict[str, Wiring], problems: list[Diagnostic], broken: set[str]) -> None:
    """Every edge starts at a port its node has: a param edit (chunk's chunks) can take ports away."""
    for node, spec, sources in wiring.values():
        for port, source in zip(spec.inputs, sources):
            if source is None or source.node not in wiring:
                continue
            src_node, src_spec, _ = wiring[source.node]
            ports = output_ports(src_spec, src_node)
            if source.port not in ports:
                problems.append(
                    Diagnostic(
                        node.id,
                        port,
                        f"reads {source}, which {src_node.id} does not have (its outputs are {', '.join(ports)})",
                    )
                )
                broken.add(node.id)


class _Shapes(ShapeInterpreter):
    """Shape inference that reports instead of raising, and skips nodes downstream of a reported one."""

    def __init__(self, program: Program, report: Report) -> None:
        super().__init__(program)
        self.report = report

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if any(a is not None and a not in self.env for a in instr.args):
            return None  # an upstream node is already reported
        try:
            return super().run_node(instr, args)
        except ShapeError as error:
            message = str(error)
        except (TypeError, ValueError, KeyError, IndexError, ArithmeticError) as error:
            message = f"cannot infer the output shape: {error}"
        self.report.diagnostics.append(Diagnostic(instr.node, None, message))
        return None


def _infer(order: list[str], wiring: dict[str, Wiring], report: Report, broken: set[str]) -> None:
    """Shapes of the well-formed nodes, walked as a program of just those nodes."""
    instrs = []
    for node_id in order:
        if node_id in broken:
            continue
        node, spec, sources = wiring[node_id]
        args = tuple(str(s) if s is not None else None for s in sources)
        instrs.append(Instr(node_id, spec, args, spec.with_defaults(node.params), node.label))
    report.shapes.update(_Shapes(Program(tuple(instrs)), report).run())


def check(graph: Graph) -> Report:
    """validate(), raising InvalidGraph when there are problems: for code about to run the graph."""
    report = validate(graph)
    if not report.ok:
        raise InvalidGraph(report.diagnostics)
    return report
