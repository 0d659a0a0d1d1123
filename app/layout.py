"""Automatic layered layout: one column per topological generation (graphcore's `generations()`),
left to right, so data flows the way it is read.

Within a column, nodes are ordered by the mean row of the nodes feeding them (the barycentre
heuristic), which untangles most wires in one pass. Separate pieces of the graph (connected
components) are laid out on their own and stacked, so ten small graphs do not become one tall
column of sources. Sizes come from the canvas, since how big a node is drawn is a view matter.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from graphcore.graph import Graph

COLUMN_GAP, ROW_GAP, COMPONENT_GAP, GRID = 80.0, 40.0, 100.0, 20.0
Size = tuple[float, float]


def layered_positions(graph: Graph, sizes: Mapping[str, Size]) -> dict[str, tuple[float, float]]:
    """New top-left positions for every node; the layout keeps the graph's current top-left corner."""
    if not len(graph) or graph.has_cycle():
        return {}
    sources: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    links = nx.Graph()
    links.add_nodes_from(sources)
    for src, dst in graph.edges:
        sources[dst.node].append(src.node)
        links.add_edge(src.node, dst.node)
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    components = sorted(nx.connected_components(links), key=lambda c: min(order[n] for n in c))
    generations = graph.generations()
    left = min(n.pos[0] for n in graph.nodes)
    top = min(n.pos[1] for n in graph.nodes)
    positions: dict[str, tuple[float, float]] = {}
    for component in components:
        columns = [[n for n in generation if n in component] for generation in generations]
        placed = _place([c for c in columns if c], sources, sizes, left, top)
        positions.update(placed)
        top = max(y + sizes[n][1] for n, (_, y) in placed.items()) + COMPONENT_GAP
    return positions


def _place(
    columns: list[list[str]],
    sources: Mapping[str, list[str]],
    sizes: Mapping[str, Size],
    left: float,
    top: float,
) -> dict[str, tuple[float, float]]:
    """Columns left to right, each centred on the tallest, nodes ordered by where their inputs are."""
    row: dict[str, float] = {}
    ordered = []
    for column in columns:
        column = sorted(column, key=lambda n: (_mean([row[s] for s in sources[n] if s in row]), n))
        row.update({node_id: index for index, node_id in enumerate(column)})
        ordered.append(column)
    heights = [sum(sizes[n][1] for n in column) + ROW_GAP * (len(column) - 1) for column in ordered]
    tallest = max(heights)
    positions: dict[str, tuple[float, float]] = {}
    x = left
    for column, height in zip(ordered, heights, strict=True):
        y = top + (tallest - height) / 2
        for node_id in column:
            positions[node_id] = (_snap(x), _snap(y))
            y += sizes[node_id][1] + ROW_GAP
        x += max(sizes[n][0] for n in column) + COLUMN_GAP
    return positions


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else -1.0


def _snap(value: float) -> float:
    return round(value / GRID) * GRID
