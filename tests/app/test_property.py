"""Random sequences of edits, undos and redos; after each step the scene must mirror the model exactly.

Edits go through the controller and the commands, as the user's do; node types are drawn from the
whole registry. Exceptions raised inside Qt slots are captured too, so "nothing raised" covers the
signal-driven half of the canvas as well.
"""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF
from pytestqt.exceptions import capture_exceptions

from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.commands import MoveNodes
from app.controller import Controller
from app.document import Document
from app.groups import groups_of
from app.theme import LIGHT
from graphcore.graph import PortRef
from graphcore.registry import REGISTRY, show
from graphcore.validate import validate

with warnings.catch_warnings():
    # On a failure, hypothesis's pytest plugin imports libcst to write a patch, and that import warns
    # (mypy_extensions.TypedDict); under -W error the warning would replace the failure report.
    warnings.filterwarnings("ignore", "mypy_extensions.TypedDict is deprecated", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:
        pass

TYPES = sorted(REGISTRY)
index = st.integers(min_value=0, max_value=50)
step = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(TYPES), st.integers(-500, 500), st.integers(-500, 500)),
    st.tuples(st.just("connect"), index, index, index, index),
    st.tuples(st.just("disconnect"), index),
    st.tuples(st.just("delete"), st.lists(index, min_size=1, max_size=3)),
    st.tuples(st.just("move"), index, st.integers(-200, 200), st.integers(-200, 200)),
    st.tuples(st.just("label"), index, st.text(max_size=8)),
    st.tuples(st.just("duplicate"), st.lists(index, min_size=1, max_size=3)),
    st.tuples(st.just("group"), st.lists(index, min_size=1, max_size=3)),
    st.tuples(st.just("collapse"), index),
    st.tuples(st.just("ungroup"), index),
    st.tuples(
        st.just("layout"),
    ),
    st.tuples(
        st.just("undo"),
    ),
    st.tuples(
        st.just("redo"),
    ),
)


def apply(step: tuple, document: Document, scene: CanvasScene, controller: Controller) -> None:
    graph, kind = document.graph, step[0]
    ids = [n.id for n in graph.nodes]
    groups = [g["id"] for g in groups_of(graph)]
    if kind == "add":
        controller.add_node(step[1], QPointF(step[2], step[3]))
    elif kind == "undo":
        document.stack.undo()
    elif kind == "redo":
        document.stack.redo()
    elif kind == "layout":
        controller.auto_layout()
    elif kind == "collapse" and groups:
        controller.toggle_collapsed(groups[step[1] % len(groups)])
    elif kind == "ungroup" and groups:
        scene.select([scene.backdrops[groups[step[1] % len(groups)]]])
        controller.ungroup_selection()
    elif kind == "disconnect" and graph.edges:
        scene.select([scene.edges[sorted(graph.edges)[step[1] % len(graph.edges)][1]]])
        controller.delete_selection()
    elif kind == "connect" and ids:
        src, dst = graph.node(ids[step[1] % len(ids)]), graph.node(ids[step[3] % len(ids)])
        outputs, inputs = REGISTRY[src.type].outputs, REGISTRY[dst.type].inputs
        if outputs and inputs:
            controller.connect(
                PortRef(src.id, outputs[step[2] % len(outputs)]),
                PortRef(dst.id, inputs[step[4] % len(inputs)]),
            )
    elif kind == "move" and ids:
        node = graph.node(ids[step[1] % len(ids)])
        document.push(MoveNodes(graph, {node.id: (node.pos[0] + step[2], node.pos[1] + step[3])}))
    elif kind == "label" and ids:
        controller.set_label(ids[step[1] % len(ids)], step[2])
    elif kind in ("delete", "duplicate", "group") and ids:
        scene.select_nodes(sorted({ids[i % len(ids)] for i in step[1]}))
        {
            "delete": controller.delete_selection,
            "duplicate": controller.duplicate,
            "group": controller.group_selection,
        }[kind]()


def check_mirror(document: Document, scene: CanvasScene) -> None:
    graph, report = document.graph, document.report
    assert set(scene.nodes) == {n.id for n in graph.nodes}
    assert {dst: edge.src for dst, edge in scene.edges.items()} == {dst: src for src, dst in graph.edges}
    # no stray items: one per node, an edge with its label pill and text, the frames, and the wire
    assert len(scene.items()) == len(scene.nodes) + 3 * len(scene.edges) + len(scene.backdrops) + 1
    assert report.diagnostics == validate(graph).diagnostics
    groups = {g["id"]: g for g in groups_of(graph)}
    assert set(scene.backdrops) == set(groups)
    for node in graph.nodes:
        item = scene.nodes[node.id]
        assert (item.x(), item.y()) == node.pos and item.node is node
        group = groups.get(scene.group_of.get(node.id, ""))
        assert item.isVisible() == (group is None or not group["collapsed"])
    for dst, edge in scene.edges.items():
        assert edge.path().pointAtPercent(0) == scene.port_scene_pos(edge.src, True)
        assert edge.path().pointAtPercent(1) == scene.port_scene_pos(dst, False)
        shape = report.shapes.get(str(edge.src))
        assert edge.label == (show(shape) if shape is not None else "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=30))
def test_scene_mirrors_model_through_random_edits_undos_and_redos(qapp, steps):
    document = Document()
    scene = CanvasScene(document, LIGHT)
    view = CanvasView()
    view.setScene(scene)
    controller = Controller(document, scene, view)
    try:
        with capture_exceptions() as raised:
            for s in steps:
                apply(s, document, scene, controller)
                assert not raised, f"{s} raised in a slot: {raised[0][1]!r}"
                check_mirror(document, scene)
            while document.stack.canUndo():
                document.stack.undo()
                check_mirror(document, scene)
            assert len(document.graph) == 0 and not raised
    finally:
        view.setScene(None)
        document.close()
        document.deleteLater()
