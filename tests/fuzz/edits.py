"""Random user edits for the edit fuzz: each draws its arguments from a seeded Random and does what a
user's hand does, through the controller or the window's menu actions (gestures.py has the mouse).

An edit returns a short description for the failure log, or None when it does not apply to the
current graph (nothing to disconnect, no group to collapse).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF

from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.editing.controller import Controller
from app.editing.document import Document
from app.editing.groups import COLORS, groups_of
from graphcore.graph import Node, PortRef
from graphcore.registry import REGISTRY, Param

TYPES = sorted(REGISTRY)
LABELS = ("", "a", "hidden layer", "λ→∂😀", "x" * 60, "  spaced  ", "two\nlines", "sq")
# ids a rename may try: common ones (often taken, or freed by a delete), and ones a file cannot store
IDS = ("x", "y", "fc1", "loss", "renamed", "λ→∂😀", "h 1", "", "  ", "a.b", "tab\there", "i" * 201)


class Canvas:
    """A document on a canvas, as the edits see it: a bare scene and controller, or a real window."""

    document: Document
    scene: CanvasScene
    controller: Controller
    view: CanvasView
    gestures = False  # whether the view is shown, so real mouse events can reach it

    def act(self, name: str) -> None:
        """A menu action by name (see app/actions.py)."""
        controller = self.controller
        {
            "delete": controller.delete_selection,
            "cut": controller.cut,
            "copy": controller.copy,
            "paste": controller.paste,
            "duplicate": controller.duplicate,
            "group": controller.group_selection,
            "ungroup": controller.ungroup_selection,
            "collapse": controller.toggle_selected_groups,
            "layout": controller.auto_layout,
            "select_all": controller.select_all,
            "undo": self.document.stack.undo,
            "redo": self.document.stack.redo,
        }[name]()


# --- drawing arguments ----------------------------------------------------------------------------


def param_value(param: Param, rng: random.Random) -> Any:
    """A value the param's declaration accepts, drawn from small realistic ranges."""
    if param.choices:
        return rng.choice(param.choices)
    if param.optional and rng.random() < 0.15:
        return None
    low = param.min if param.min is not None else -3
    high = param.max if param.max is not None else low + 8
    small = lambda: rng.randint(int(max(low, -3)), int(min(high, max(low, -3) + 8)))  # noqa: E731
    number = lambda: round(rng.uniform(max(low, -3.0), min(high, max(low, -3.0) + 6.0)), 3)  # noqa: E731
    kind = param.kind
    if kind == "int":
        return small()
    if kind == "float":
        return number()
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        return rng.choice(("", "x", "data", "a b"))
    if kind == "shape":
        return [rng.choice((1, 2, 3, 4, "N")) for _ in range(rng.randint(0, 3))]
    if kind == "value":
        return rng.choice((number(), [number(), number()], [[number()], [number()]]))
    if kind in ("ints", "dims"):
        return small() if rng.random() < 0.5 else [small() for _ in range(rng.randint(1, 3))]
    if kind == "list":
        return rng.choice(([], [1, "a"], [[2, 3]]))
    return rng.choice(({}, {"k": 1}))


def port_names(canvas: Canvas, node_id: str, outputs: bool) -> tuple[str, ...]:
    """The node's ports: its type's, or for a placeholder (a type this build does not know) the
    ones its item shows."""
    spec = REGISTRY.get(canvas.document.graph.node(node_id).type)
    if spec is not None:
        return spec.outputs if outputs else spec.inputs
    item = canvas.scene.nodes[node_id]
    return tuple(item.outputs if outputs else item.inputs)


def spec_params(node: Node) -> tuple[Param, ...]:
    """The params a user can edit: none on a placeholder or on a type that records its params."""
    spec = REGISTRY.get(node.type)
    return spec.params if spec is not None and spec.editable else ()


def visible_ids(canvas: Canvas) -> list[str]:
    return [i for i, item in canvas.scene.nodes.items() if item.isVisible()]


def pick_nodes(canvas: Canvas, rng: random.Random, most: int = 3) -> list[str]:
    ids = [n.id for n in canvas.document.graph.nodes]
    return rng.sample(ids, rng.randint(1, min(most, len(ids)))) if ids else []


def pick_ports(
    canvas: Canvas, rng: random.Random, only_visible: bool = False
) -> tuple[PortRef, PortRef] | None:
    """An output and an input of two nodes; often an input that is already fed (a replacing connect),
    often a port of the node added last (the one a user wires next)."""
    graph = canvas.document.graph
    ids = visible_ids(canvas) if only_visible else [n.id for n in graph.nodes]
    outputs = [PortRef(i, p) for i in ids for p in port_names(canvas, i, True)]
    inputs = [PortRef(i, p) for i in ids for p in port_names(canvas, i, False)]
    if not outputs or not inputs:
        return None
    fed = [dst for dst in inputs if graph.source_of(dst) is not None]
    dst = rng.choice(fed) if fed and rng.random() < 0.4 else rng.choice(inputs)
    src = rng.choice(outputs)
    last = ids[-1] if ids else None
    if rng.random() < 0.3:
        src = next((p for p in outputs if p.node == last), src)
    elif rng.random() < 0.3:
        dst = next((p for p in inputs if p.node == last), dst)
    return src, dst


# --- edits through the controller and the menus ------------------------------------------------------


def add_node(canvas: Canvas, rng: random.Random) -> str:
    node_type = rng.choice(TYPES)
    at = QPointF(rng.uniform(-400, 900), rng.uniform(-300, 700))
    ports = pick_ports(canvas, rng)
    connect_to = None
    if ports and rng.random() < 0.3:  # a wire dropped on empty canvas, then a type chosen for it
        connect_to = (ports[0], True) if rng.random() < 0.5 else (ports[1], False)
    canvas.controller.add_node(node_type, at, connect_to)
    return f"add {node_type} at ({at.x():.0f}, {at.y():.0f}) wired to {connect_to}"


def set_param(canvas: Canvas, rng: random.Random) -> str | None:
    graph = canvas.document.graph
    editable = [n for n in graph.nodes if spec_params(n)]
    if not editable:
        return None
    node = rng.choice(editable)
    param = rng.choice(spec_params(node))
    times = rng.choice((1, 1, 2, 3))  # a spin box stepped a few times: the edits merge into one step
    values = [param_value(param, rng) for _ in range(times)]
    if rng.random() < 0.1 and param.name in node.params:
        values.append(node.params[param.name])  # and back where it started: the step disappears
    for value in values:
        accepted = canvas.controller.set_param(node.id, param.name, value)
        assert accepted == (param.problem(value) is None), f"{node.id}.{param.name} = {value!r}"
    return f"set {node.id}.{param.name} to {values!r}"


def set_bad_param(canvas: Canvas, rng: random.Random) -> str | None:
    graph = canvas.document.graph
    nodes = [n for n in graph.nodes if any(p.kind in ("int", "bool") for p in spec_params(n))]
    if not nodes:
        return None
    node = rng.choice(nodes)
    param = rng.choice([p for p in spec_params(node) if p.kind in ("int", "bool")])
    count = canvas.document.stack.count()
    assert not canvas.controller.set_param(node.id, param.name, "not a number")
    assert canvas.document.stack.count() == count
    return f"refused {node.id}.{param.name} = 'not a number'"


def set_label(canvas: Canvas, rng: random.Random) -> str | None:
    ids = pick_nodes(canvas, rng, 1)
    if not ids:
        return None
    label = rng.choice(LABELS)
    canvas.controller.set_label(ids[0], label)
    return f"label {ids[0]} {label!r}"


def rename_node(canvas: Canvas, rng: random.Random) -> str | None:
    """What the inspector's id field does: a new id, taken over by the node's edges, the training
    section's references and its groups, or refused with the reason and no step. Often on the
    selected node, which stays selected under its new id."""
    ids = pick_nodes(canvas, rng, 1)
    if not ids:
        return None
    old = ids[0]
    graph, stack = canvas.document.graph, canvas.document.stack
    new = rng.choice((*IDS, f"{old}_{rng.randint(2, 9)}", rng.choice([n.id for n in graph.nodes])))
    selected = rng.random() < 0.5
    if selected:
        canvas.scene.select_nodes([old])
    allowed, count = graph.why_not_rename(old, new) is None, stack.count()
    assert canvas.controller.rename_node(old, new) == allowed, f"rename {old!r} to {new!r}"
    if not allowed or new == old:
        assert stack.count() == count and old in graph, f"refused rename {old!r} to {new!r} left a trace"
        return f"rename {old!r} to {new!r} (refused)" if not allowed else f"rename {old!r} to itself"
    assert new in graph and old not in graph
    if selected:
        assert canvas.scene.selected_node_ids() == [new], "the renamed node is no longer selected"
    return f"rename {old!r} to {new!r}"


def move(canvas: Canvas, rng: random.Random) -> str | None:
    """What a drag of the selection ends with: items already moved, then the scene reports them."""
    ids = [i for i in pick_nodes(canvas, rng) if canvas.scene.nodes[i].isVisible()]
    if not ids:
        return None
    dx, dy = rng.choice((20, -40, 13.5, 300)), rng.choice((0, 20, -7, 120))
    items = [canvas.scene.nodes[i] for i in ids]
    for item in items:
        item.setPos(item.pos() + QPointF(dx, dy))
    canvas.scene.nodes_shifted(items)
    canvas.scene.nodes_moved.emit({i.node.id: (i.x(), i.y()) for i in items})
    return f"move {ids} by ({dx}, {dy})"


def connect(canvas: Canvas, rng: random.Random) -> str | None:
    ports = pick_ports(canvas, rng)
    if ports is None:
        return None
    canvas.controller.connect(*ports)
    return f"connect {ports[0]} → {ports[1]}"


def wire(canvas: Canvas, rng: random.Random) -> str | None:
    """A wire dragged between two ports as the scene reports it (press, move, release), from either
    end, from a fed input (picking its edge up), or let go on empty canvas."""
    ports = pick_ports(canvas, rng, only_visible=True)
    if ports is None:
        return None
    src, dst = ports
    scene = canvas.scene
    start, start_out, end, end_out = (
        (src, True, dst, False) if rng.random() < 0.6 else (dst, False, src, True)
    )
    if rng.random() < 0.3:
        end_out = not end_out  # onto the wrong kind of port, or a second input (reconnect)
        names = port_names(canvas, end.node, end_out)
        if not names:
            return None
        end = PortRef(end.node, rng.choice(names))
    port = scene.nodes[start.node].port(start.port, start_out)
    scene.wire_pressed.emit(port)
    target = scene.port_scene_pos(end, end_out)
    if rng.random() < 0.2:
        target = QPointF(5000, 5000)  # nowhere: detach the edge, or offer a new node
    scene.wire_moved.emit((scene.port_scene_pos(start, start_out) + target) / 2)
    scene.wire_moved.emit(target)
    scene.wire_released.emit(target)
    return f"wire from {start} ({'out' if start_out else 'in'}) to ({target.x():.0f}, {target.y():.0f})"


def select_edges_and_delete(canvas: Canvas, rng: random.Random) -> str | None:
    edges = sorted(canvas.scene.edges.values(), key=lambda e: (e.src, e.dst))
    if not edges:
        return None
    chosen = rng.sample(edges, rng.randint(1, min(2, len(edges))))
    extra = [canvas.scene.nodes[i] for i in pick_nodes(canvas, rng, 1)] if rng.random() < 0.3 else []
    canvas.scene.select([*chosen, *extra])
    canvas.act("delete")
    return f"delete edges {[str(e.dst) for e in chosen]} and nodes {[i.node.id for i in extra]}"


def on_selection(action: str) -> Callable[[Canvas, random.Random], str | None]:
    """Select a few nodes (or a frame), then run a menu action on the selection."""

    def edit(canvas: Canvas, rng: random.Random) -> str | None:
        scene = canvas.scene
        frames = [b for b in scene.backdrops.values() if b.isVisible()]
        if frames and rng.random() < 0.5:  # a group: its frame, or one of its nodes
            frame = rng.choice(frames)
            members = (
                [m for m in frame.members if m in scene.nodes and scene.nodes[m].isVisible()]
                if rng.random() < 0.4
                else []
            )
            scene.select([scene.nodes[members[0]]] if members else [frame])
            what = members[:1] or frame.group_id
        else:
            ids = pick_nodes(canvas, rng)
            if not ids:
                return None
            scene.select_nodes(ids)
            what = ids
        if action == "paste":
            canvas.act("copy")
        canvas.act(action)
        return f"{action} {what}"

    return edit


def edit_group(canvas: Canvas, rng: random.Random) -> str | None:
    """What the inspector does for a selected group: a new title or colour."""
    chosen = groups_of(canvas.document.graph)
    if not chosen:
        return None
    group_id = rng.choice(chosen)["id"]
    if rng.random() < 0.5:
        canvas.controller.set_group(group_id, "Rename group", title=rng.choice(("", "Encoder", "λ")))
    else:
        canvas.controller.set_group(group_id, "Colour group", color=rng.choice(COLORS))
    return f"edit group {group_id}"


def plain(action: str) -> Callable[[Canvas, random.Random], str]:
    def edit(canvas: Canvas, rng: random.Random) -> str:
        canvas.act(action)
        return action

    return edit


undo, redo = plain("undo"), plain("redo")


def undo_many(canvas: Canvas, rng: random.Random) -> str:
    times = rng.randint(2, 5)
    for _ in range(times):
        canvas.act("undo")
    return f"undo x{times}"


EDITS: list[tuple[Callable[[Canvas, random.Random], str | None], int]] = [
    (add_node, 8),
    (set_param, 10),
    (set_bad_param, 1),
    (set_label, 4),
    (rename_node, 4),
    (move, 4),
    (connect, 9),
    (wire, 6),
    (select_edges_and_delete, 4),
    (on_selection("delete"), 4),
    (on_selection("cut"), 1),
    (on_selection("paste"), 3),
    (on_selection("duplicate"), 2),
    (on_selection("group"), 4),
    (on_selection("ungroup"), 2),
    (on_selection("collapse"), 3),
    (edit_group, 1),
    (plain("layout"), 2),
    (undo, 8),
    (redo, 4),
    (undo_many, 2),
]
HISTORY = {undo, redo, undo_many}
