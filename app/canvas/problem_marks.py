"""Where a canvas marks a report's problems: which node turns red with which tooltip lines, which
input ports, and which node-level problems redden the edges into a node.

A canvas shows either the file's graph or one block's inside, while problems may name a node
inlined from a block instance ("res1/2/fc"). Such a problem marks the node standing for it on this
canvas (the instance res1), its tooltip line naming the inner node ("copy 2 ▸ fc: ..."); port and
edge marks are only for problems of a shown node itself, since the instance's ports are not to blame.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

from app.stepper.blocks import inside_path, shown_node
from graphcore.graph import PortRef
from graphcore.validate import Diagnostic


@dataclass
class ProblemMarks:
    by_node: dict[str, list[str]] = field(default_factory=dict)  # node shown -> its tooltip's problem lines
    bad_ports: dict[PortRef, str] = field(default_factory=dict)  # input port -> its problem
    whole_node: dict[str, str] = field(default_factory=dict)  # node -> its first node-level problem


def problem_marks(diagnostics: Iterable[Diagnostic], nodes: Container[str]) -> ProblemMarks:
    """The marks of `diagnostics` on a canvas showing `nodes` (a problem listed twice marks once)."""
    marks = ProblemMarks()
    for d in dict.fromkeys(diagnostics):
        shown = shown_node(d.node, nodes)
        if shown is None:
            continue
        inner = d.node[len(shown) + 1 :]  # "2/fc" of "res1/2/fc", "" for the node itself
        where = ".".join(part for part in (inside_path(inner), d.port) if part)
        marks.by_node.setdefault(shown, []).append(f"{where}: {d.message}" if where else d.message)
        if inner:
            continue
        if d.port:
            marks.bad_ports[PortRef(d.node, d.port)] = d.message
        else:
            marks.whole_node.setdefault(d.node, d.message)
    return marks
