"""The canvas must mirror the model exactly: what the edit fuzz checks after every step.

Each check compares what the scene shows with what the graph holds, computed afresh from the
graph (a node item is compared with one built new from its node), so a view that missed an event,
kept a stale item or drew an old title or param fails here with the node or port named.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF

from app.canvas.formula_card import FormulaCard
from app.canvas.items import HEADER, PAD, NodeItem
from app.canvas.problem_marks import problem_marks
from app.canvas.scene import CanvasScene
from app.editing.blocks import block_ports
from app.editing.document import Document
from app.editing.groups import external_ports, groups_of
from graphcore.graph import Node, PortRef
from graphcore.registry import REGISTRY, show
from graphcore.validate import Report, validate


def check_mirror(document: Document, scene: CanvasScene, text: str) -> None:
    """Assert that `scene` shows `document.graph` and its current report, and nothing else; `text`
    is the graph's file text (validation results are reused for a state seen before)."""
    graph = document.graph
    report = _REPORTS.get(text)
    if report is None:
        if len(_REPORTS) > 500:
            _REPORTS.clear()
        report = _REPORTS[text] = validate(graph)
    assert document.report.diagnostics == report.diagnostics, "the document's report is stale"
    assert document.report.shapes == report.shapes, "the document's shapes are stale"
    nodes, edges = graph.nodes, graph.edges  # each sorts: ask once
    _check_nodes(document, scene, nodes, edges)
    _check_edges(document, scene, edges)
    _check_groups(document, scene)
    wire = scene.wire
    assert not wire.isVisible(), "the dragged wire is still shown"
    expected = (
        len(scene.nodes) + 3 * len(scene.edges) + len(scene.backdrops) + 1
    )  # an edge has a pill and text
    cards = [i for i in scene.items() if isinstance(i, FormulaCard)]  # a decoration, one at most
    assert len(cards) <= 1 and len(scene.items()) - len(cards) == expected, "stale items in the scene"
    for item in scene.selectedItems():
        assert item.scene() is scene


Edge = tuple[PortRef, PortRef]
_REPORTS: dict[str, Report] = {}
_DRAWN: dict[str, tuple] = {}


def _drawn(item: NodeItem) -> tuple:
    return (
        item.width,
        item.height,
        item.title,
        item.type_name,
        item.param_lines,
        *map(list, (item.inputs, item.outputs)),
    )


def _fresh(node: Node, scene: CanvasScene) -> tuple:
    """What a new item for `node` draws (items for equal nodes are built once). A placeholder (a type
    this build does not know) gets the ports its item made as edges asked for them, in that order."""
    spec = REGISTRY.get(node.type)
    item = scene.nodes[node.id]
    ports = () if spec is not None else (tuple(item.inputs), tuple(item.outputs))
    inner = block_ports(scene.graph, node)  # a Block's ports are its definition's
    key = repr((node.id, node.type, node.label, node.params, ports, inner))
    if key not in _DRAWN:
        color = scene.category_color(spec.category if spec else "")
        fresh = NodeItem(node, spec, scene.theme, color, inner)
        for names, is_output in zip(ports, (False, True)):
            for name in names:
                fresh.port(name, is_output)
        _DRAWN[key] = _drawn(fresh)
    return _DRAWN[key]


def _check_nodes(document: Document, scene: CanvasScene, nodes: list[Node], edges: list[Edge]) -> None:
    report = document.report
    assert set(scene.nodes) == {n.id for n in nodes}, "node items differ from the graph's nodes"
    fed, used = {dst for _, dst in edges}, {src for src, _ in edges}
    for ref in fed:
        assert ref.port in scene.nodes[ref.node].inputs, f"{ref}: no port drawn for the edge"
    for ref in used:
        assert ref.port in scene.nodes[ref.node].outputs, f"{ref}: no port drawn for the edge"
    # a problem inside a block instance ("res/1/fc1") is shown at the instance, as "copy 1 ▸ fc1: ..."
    problems = problem_marks(report.diagnostics, scene.nodes).by_node
    for node in nodes:
        item = scene.nodes[node.id]
        assert item.node is node and item.scene() is scene, f"{node.id}: the item shows another node"
        assert (item.x(), item.y()) == node.pos, f"{node.id}: item at {item.pos()}, node at {node.pos}"
        assert _drawn(item) == _fresh(node, scene), f"{node.id}: the item draws an old title, params or ports"
        assert item.problems == problems.get(node.id, []), f"{node.id}: problems shown are stale"
        for port in item.ports():
            assert port.connected == (port.ref in (used if port.is_output else fed)), (
                f"{port.ref}: connected mark"
            )
            assert port.highlight is None, f"{port.ref}: still highlighted"


def _check_edges(document: Document, scene: CanvasScene, edges: list[Edge]) -> None:
    report = document.report
    model = {dst: src for src, dst in edges}
    assert {dst: e.src for dst, e in scene.edges.items()} == model, "edge items differ from the graph's edges"
    around: dict[str, set] = {node_id: set() for node_id in scene.nodes}
    for dst, edge in scene.edges.items():
        assert edge.dst == dst and edge.scene() is scene
        around[edge.src.node].add(edge)
        around[dst.node].add(edge)
        path = edge.path()
        assert path.pointAtPercent(0) == scene.port_scene_pos(edge.src, True), f"{edge.src} → {dst}: start"
        assert path.pointAtPercent(1) == scene.port_scene_pos(dst, False), f"{edge.src} → {dst}: end"
        shape = report.shapes.get(str(edge.src))
        assert edge.label == (show(shape) if shape is not None else ""), f"{edge.src} → {dst}: label"
        group = scene.group_of.get(edge.src.node)
        inside = (
            group is not None and group == scene.group_of.get(dst.node) and scene.backdrops[group].collapsed
        )
        assert edge.isVisible() == (not inside), f"{edge.src} → {dst}: visibility"
    for node_id, item in scene.nodes.items():
        assert item.edges == around[node_id], f"{node_id}: the item tracks other edges"


def _check_groups(document: Document, scene: CanvasScene) -> None:
    graph = document.graph
    groups = {g["id"]: g for g in groups_of(graph)}
    assert set(scene.backdrops) == set(groups), "frames differ from meta.groups"
    assert scene.group_of == {m: g["id"] for g in groups.values() for m in g["nodes"]}
    for group_id, group in groups.items():
        backdrop = scene.backdrops[group_id]
        assert backdrop.scene() is scene
        assert backdrop.members == group["nodes"], f"{group_id}: members"
        assert backdrop.collapsed == bool(group.get("collapsed", False)), f"{group_id}: collapsed"
        assert backdrop.title == str(group.get("title", group_id)), f"{group_id}: title"
        present = [m for m in group["nodes"] if m in graph]
        assert backdrop.isVisible() == bool(present), f"{group_id}: visibility"
        if not present:
            continue
        if backdrop.collapsed:
            assert (backdrop.inputs, backdrop.outputs) == external_ports(graph, set(group["nodes"])), (
                f"{group_id}: the collapsed box shows old ports"
            )
        members = QRectF()
        for member in present:
            item = scene.nodes[member]
            assert item.isVisible() == (not backdrop.collapsed), f"{member}: visibility in {group_id}"
            members = members.united(QRectF(item.pos(), QSizeF(item.width, item.height)))
        corner = members.topLeft() - (QPointF() if backdrop.collapsed else QPointF(2 * PAD, 2 * PAD + HEADER))
        assert backdrop.pos() == corner, f"{group_id}: the frame is not around its members"
    for node_id, item in scene.nodes.items():
        if node_id not in scene.group_of:
            assert item.isVisible(), f"{node_id}: hidden outside any collapsed group"
