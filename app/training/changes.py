"""What makes a run stale: the graph it trains is no longer the document's graph.

A Trainer is built from a snapshot of the graph. Edits of the training section reach it (Trainer.retune),
but a node added, deleted or given new params, or a wire made or removed, cannot: the run would go on
training a graph the user no longer sees. Positions, labels, groups and the training section are not
part of what it trains.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from graphcore.graph import Graph

SHOWN = 3  # changes named in the notice; the rest are counted


@dataclass(frozen=True)
class Structure:
    """The part of a graph a Trainer is built from, copied so that later edits cannot reach it."""

    nodes: dict[str, tuple[str, dict[str, Any]]]  # id -> (type, params)
    edges: frozenset[tuple[str, str]]  # ("node.port", "node.port")
    titles: dict[str, str]  # id -> the name the user reads

    @classmethod
    def of(cls, graph: Graph, copied: bool = True) -> Structure:
        """The graph's structure (`copied=False`: sharing its params, to compare and let go)."""
        keep = copy.deepcopy if copied else (lambda params: params)
        return cls(
            {node.id: (node.type, keep(node.params)) for node in graph.nodes},
            frozenset((str(src), str(dst)) for src, dst in graph.edges),
            {node.id: node.title for node in graph.nodes},
        )

    def change(self, graph: Graph) -> str:
        """How `graph` differs, in a few words ("deleted fc2"); "" when it trains the same."""
        now = Structure.of(graph, copied=False)
        if (now.nodes, now.edges) == (self.nodes, self.edges):
            return ""
        gone = [node for node in self.nodes if node not in now.nodes]
        new = [node for node in now.nodes if node not in self.nodes]
        untouched = set(self.nodes) & set(now.nodes)
        edited = [
            f"set {now.titles[node]}.{key}"
            if now.nodes[node][0] == self.nodes[node][0]
            else f"made {now.titles[node]} a {now.nodes[node][0]}"
            for node in now.nodes
            if node in untouched
            for key in _changed_params(self.nodes[node], now.nodes[node])
        ]

        def wire(edge: tuple[str, str], titles: dict[str, str]) -> str:
            src, dst = (ref.split(".", 1) for ref in edge)
            return f"{titles[src[0]]}.{src[1]} → {titles[dst[0]]}.{dst[1]}"

        def between_untouched(edges: frozenset[tuple[str, str]]) -> list[tuple[str, str]]:
            return sorted(e for e in edges if {r.split(".", 1)[0] for r in e} <= untouched)

        changes = [
            *(f"deleted {self.titles[node]}" for node in gone),
            *(f"added {now.titles[node]}" for node in new),
            *edited,
            *(f"disconnected {wire(e, self.titles)}" for e in between_untouched(self.edges - now.edges)),
            *(f"connected {wire(e, now.titles)}" for e in between_untouched(now.edges - self.edges)),
        ]
        more = len(changes) - SHOWN
        return ", ".join(changes[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def _changed_params(old: tuple[str, dict[str, Any]], new: tuple[str, dict[str, Any]]) -> list[str]:
    """The params whose values differ (a new type counts as one change, named "type")."""
    if old[0] != new[0]:
        return ["type"]
    return [key for key in {**old[1], **new[1]} if old[1].get(key) != new[1].get(key)]
