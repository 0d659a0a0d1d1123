"""Automatic layered layout: data flows left to right in columns, and no wire runs under a node.

Columns come from graphcore's topological generations, except that a source (a parameter, an
input, a target) moves to the column just before its first consumer: `y` feeding the loss sits
beside the loss, not three columns away with its wire drawn under everything between. Within a
column, nodes are ordered by the mean row of the nodes feeding them (the barycentre heuristic),
which untangles most wires in one pass. A wire that still crosses a node (a skip connection)
pushes that node, and the nodes below it in its column, down until the wire runs clear.
Separate pieces of the graph (connected components) are laid out on their own and stacked.
Sizes and port positions come from the canvas, since how a node is drawn is a view matter.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF

from app.canvas.edges import curve
from graphcore.graph import Graph, PortRef

if TYPE_CHECKING:
    import networkx as nx

COLUMN_GAP, ROW_GAP, COMPONENT_GAP, GRID, CLEARANCE = 80.0, 40.0, 100.0, 20.0, 12.0
Size = tuple[float, float]
Point = tuple[float, float]
PortOffset = Callable[[PortRef, bool], Point]  # (port, is_output) -> offset from the node's top-left


def layered_positions(
    graph: Graph, sizes: Mapping[str, Size], port_offset: PortOffset | None = None
) -> dict[str, Point]:
    """New top-left positions for every node; the layout keeps the graph's current top-left corner."""
    import networkx as nx  # on first layout, not at start-up

    if not len(graph) or graph.has_cycle():
        return {}
    offset = port_offset or (
        lambda ref, is_output: (sizes[ref.node][0] if is_output else 0.0, sizes[ref.node][1] / 2)
    )
    sources: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    links: nx.Graph[str] = nx.Graph()
    links.add_nodes_from(sources)
    for src, dst in graph.edges:
        sources[dst.node].append(src.node)
        links.add_edge(src.node, dst.node)
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    components = sorted(nx.connected_components(links), key=lambda c: min(order[n] for n in c))
    layer = _layers(graph, sources)
    left = min(n.pos[0] for n in graph.nodes)
    top = min(n.pos[1] for n in graph.nodes)
    positions: dict[str, Point] = {}
    for component in components:
        columns = [sorted(n for n in component if layer[n] == k) for k in range(max(layer.values()) + 1)]
        placed = _place([c for c in columns if c], sources, sizes, left, top)
        _clear_wires(placed, [e for e in graph.edges if e[0].node in component], sizes, offset)
        positions.update(placed)
        top = max(y + sizes[n][1] for n, (_, y) in positions.items() if n in component) + COMPONENT_GAP
    return positions


def _layers(graph: Graph, sources: Mapping[str, list[str]]) -> dict[str, int]:
    """Each node's column: its generation, a source moved up to just before its first consumer."""
    layer = {node: k for k, generation in enumerate(graph.generations()) for node in generation}
    consumers: dict[str, list[str]] = {n: [] for n in layer}
    for node, feeding in sources.items():
        for source in feeding:
            consumers[source].append(node)
    for node in layer:
        if not sources[node] and consumers[node]:
            layer[node] = min(layer[c] for c in consumers[node]) - 1
    return layer


def _place(
    columns: list[list[str]],
    sources: Mapping[str, list[str]],
    sizes: Mapping[str, Size],
    left: float,
    top: float,
) -> dict[str, Point]:
    """Columns left to right, each centred on the tallest, nodes ordered by where their inputs are."""
    row: dict[str, float] = {}
    ordered = []
    for column in columns:
        column = sorted(column, key=lambda n: (_mean([row[s] for s in sources[n] if s in row]), n))
        row.update({node_id: index for index, node_id in enumerate(column)})
        ordered.append(column)
    heights = [sum(sizes[n][1] for n in column) + ROW_GAP * (len(column) - 1) for column in ordered]
    tallest = max(heights)
    positions: dict[str, Point] = {}
    x = left
    for column, height in zip(ordered, heights, strict=True):
        y = top + (tallest - height) / 2
        for node_id in column:
            positions[node_id] = (_snap(x), _snap(y))
            y += sizes[node_id][1] + ROW_GAP
        x += max(sizes[n][0] for n in column) + COLUMN_GAP
    return positions


def _clear_wires(
    positions: dict[str, Point],
    edges: list[tuple[PortRef, PortRef]],
    sizes: Mapping[str, Size],
    offset: PortOffset,
) -> None:
    """Push down each node a wire runs under (and what is below it in its column) until none is.

    Nodes only ever move down, so pushing one may put it under a wire already checked: passes over
    the wires repeat until one pushes nothing. Columns never move sideways, so each wire is tested
    only against the columns it spans. The bound stops a pathological graph from looping, leaving
    the crossings it could not clear.
    """
    columns: dict[float, list[str]] = {}
    for node, (x, _) in positions.items():
        columns.setdefault(x, []).append(node)
    xs = sorted(columns)
    widest = max(sizes[n][0] for n in positions) + 4
    budget = 4 * len(positions) ** 2
    for _ in range(len(positions) + 1):
        pushed = False
        for src, dst in edges:
            start, end = _port(positions, src, True, offset), _port(positions, dst, False, offset)
            low, high = min(start.x(), end.x()), max(start.x(), end.x())
            spanned = xs[bisect.bisect_left(xs, low - widest) : bisect.bisect_right(xs, high + 4)]
            candidates = [n for x in spanned for n in columns[x] if n not in (src.node, dst.node)]
            while candidates and budget > 0:
                crossing = _crossing(positions, src, dst, candidates, sizes, offset)
                if crossing is None:
                    break
                budget -= 1
                pushed = True
                node, below = crossing
                x, y = positions[node]
                shift = math.ceil((below - y) / GRID) * GRID  # on the grid, so snapping cannot undo it
                for other in columns[x]:
                    if positions[other][1] >= y:
                        positions[other] = (x, positions[other][1] + shift)
        if not pushed or budget <= 0:
            return


def _crossing(
    positions: Mapping[str, Point],
    src: PortRef,
    dst: PortRef,
    candidates: list[str],
    sizes: Mapping[str, Size],
    offset: PortOffset,
) -> tuple[str, float] | None:
    """The first candidate node the wire src → dst runs under, with the y its top must move to."""
    start, end = _port(positions, src, True, offset), _port(positions, dst, False, offset)
    hull = curve(start, end).controlPointRect()  # the curve stays inside its control points' box
    points: list[QPointF] = []
    for node in candidates:
        x, y = positions[node]
        rect = QRectF(x, y, *sizes[node]).adjusted(-4, -CLEARANCE, 4, CLEARANCE)
        if not rect.intersects(hull):
            continue
        points = points or _samples(start, end)
        inside = [p for p in points if rect.contains(p)]
        if inside:
            return node, max(p.y() for p in inside) + CLEARANCE + 1
    return None


def _samples(start: QPointF, end: QPointF) -> list[QPointF]:
    """65 points along the wire from start to end. Its shape depends only on end − start, and a graph
    has few of those (a chain repeats one), so each is sampled once: passes test the wires again."""
    return [start + p for p in _shape_samples(end.x() - start.x(), end.y() - start.y())]


@lru_cache(maxsize=65536)
def _shape_samples(dx: float, dy: float) -> tuple[QPointF, ...]:
    path = curve(QPointF(0, 0), QPointF(dx, dy))
    return tuple(path.pointAtPercent(i / 64) for i in range(65))


def _port(positions: Mapping[str, Point], ref: PortRef, is_output: bool, offset: PortOffset) -> QPointF:
    x, y = positions[ref.node]
    dx, dy = offset(ref, is_output)
    return QPointF(x + dx, y + dy)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else -1.0


def _snap(value: float) -> float:
    return round(value / GRID) * GRID
