"""The names the lab writes for nodes and values: what the user called them, not their ids.

A node is named by its label ("w"), or by the name a label defines ("c = a + b" names c); a node
without a label by its id. Where two nodes would read the same, the id follows in parentheses
("ReLU (act_in)"). A node inlined from a block reads as where it is ("Residual ▸ copy 2 ▸ fc"),
not as its flat id "res1/2/fc". A value is its node's name, with ".port" for a node of several outputs, and an
element adds its index ("x[3]"). Inside ∂·/∂· a name of several words is bracketed: ∂L/∂(y − t).
"""

from __future__ import annotations

import re
from collections import Counter

from app.stepper.blocks import where
from graphcore.blocks import SEPARATOR
from graphcore.graph import Graph
from graphcore.program import Program

PLAIN = re.compile(r"[^\s+\-−·*/=,]+|\(.*\)[²³]?")  # reads as one symbol inside ∂·/∂·


def short_name(label: str, node: str) -> str:
    """The name a node goes by: "c" for the label "c = a + b", the label itself, or the id."""
    name, equals, _ = label.partition(" = ")
    return (name if equals and name.strip() else label).strip() or node


class Names:
    """How one program's nodes, values and elements read in the lab's texts."""

    def __init__(self, program: Program, graph: Graph | None = None) -> None:
        """`graph`: the file's graph the program was lowered from, to name nodes inlined from blocks."""
        self._bases = {
            i.node: where(i.node, graph)
            if graph is not None and SEPARATOR in i.node
            else short_name(i.label, i.node)
            for i in program
        }
        count = Counter(self._bases.values())
        self._shared = {n for n, b in self._bases.items() if count[b] > 1}
        self._single = {i.node for i in program if len(i.outs) == 1}

    def node(self, node: str, bracket: bool = False) -> str:
        base = self._bases.get(node, node)
        if bracket and not PLAIN.fullmatch(base):
            base = f"({base})"
        return f"{base} ({node})" if node in self._shared else base

    def value(self, value: str, bracket: bool = False) -> str:
        """ "w.out" as "w"; "stats.mu" of a two-output node as "stats.mu"."""
        node, _, port = value.rpartition(".")
        if not node:
            return value
        name = self.node(node, bracket)
        return name if node in self._single else f"{name}.{port}"

    def element(self, label: str) -> str:
        """A Jacobian row or column ("x.out[3]") as "x[3]"."""
        value, bracket, index = label.partition("[")
        return self.value(value) + bracket + index

    def derivative(self, of: str, wrt: str) -> str:
        """∂of/∂wrt with both named, a name of several words bracketed: ∂L/∂(y − t)."""
        return f"∂{self.value(of, bracket=True)}/∂{self.value(wrt, bracket=True)}"
