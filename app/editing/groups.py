"""Groups (backdrops): titled, coloured frames around nodes, kept in `Graph.meta["groups"]`.

A group is layout only: a list of member ids with a title, a colour and a collapsed flag. Its
frame is derived from where its members are, so it moves with them and nothing is stored twice.
These helpers are pure: each returns a new list, which an undo command then puts in the graph.
The format is documented in docs/file-format.md, section "meta".
"""

from __future__ import annotations

import copy
import re
from typing import Any

from graphcore.graph import Graph, PortRef

KEY = "groups"
COLORS = ("#5b8def", "#43a981", "#e0a43a", "#c65ad1", "#e06c6c", "#4bb3c6")

Group = dict[str, Any]


def groups_of(graph: Graph) -> list[Group]:
    """The graph's groups, skipping entries a hand-edited file got wrong (meta is free-form)."""
    found = graph.meta.get(KEY, [])
    if not isinstance(found, list):
        return []
    return [
        g
        for g in found
        if isinstance(g, dict) and isinstance(g.get("id"), str) and isinstance(g.get("nodes"), list)
    ]


def group_of(groups: list[Group], node_id: str) -> Group | None:
    return next((g for g in groups if node_id in g["nodes"]), None)


def find(groups: list[Group], group_id: str) -> Group:
    return next(g for g in groups if g["id"] == group_id)


def with_new_group(groups: list[Group], node_ids: list[str], title: str = "") -> tuple[list[Group], str]:
    """Group `node_ids`, taking them out of any group they were in; returns (groups, new group id)."""
    taken = {g["id"] for g in groups}
    number = 1 + max((int(m[1]) for g in taken if (m := re.fullmatch(r"group(\d+)", g))), default=0)
    group_id = f"group{number}"
    members = set(node_ids)
    kept = pruned(groups, members)
    kept.append(
        {
            "id": group_id,
            "title": title or f"Group {number}",
            "color": COLORS[(number - 1) % len(COLORS)],
            "nodes": list(node_ids),
            "collapsed": False,
        }
    )
    return kept, group_id


def without_group(groups: list[Group], group_id: str) -> list[Group]:
    return [copy.deepcopy(g) for g in groups if g["id"] != group_id]


def with_changes(groups: list[Group], group_id: str, **changes: Any) -> list[Group]:
    result = copy.deepcopy(groups)
    find(result, group_id).update(changes)
    return result


def pruned(groups: list[Group], removed: set[str]) -> list[Group]:
    """Groups without the removed nodes; a group left empty disappears."""
    result = []
    for group in copy.deepcopy(groups):
        group["nodes"] = [n for n in group["nodes"] if n not in removed]
        if group["nodes"]:
            result.append(group)
    return result


def external_ports(graph: Graph, members: set[str]) -> tuple[list[PortRef], list[PortRef]]:
    """Ports of the members wired to the outside: what a collapsed group shows.

    Returns (inputs fed from outside, outputs read outside), each once, in edge order.
    """
    inputs: dict[PortRef, None] = {}
    outputs: dict[PortRef, None] = {}
    for src, dst in graph.edges:
        if dst.node in members and src.node not in members:
            inputs[dst] = None
        elif src.node in members and dst.node not in members:
            outputs[src] = None
    return list(inputs), list(outputs)
