"""Groups: a titled, coloured frame that moves with its nodes, collapses to a box with the group's
outside ports, is saved in the file, and never changes what the graph computes."""

from __future__ import annotations

from pathlib import Path

from canvas_gestures import drag
from PySide6.QtCore import QPointF, Qt

from app.window import MainWindow
from graphcore.files.fileformat import load
from graphcore.graph import PortRef
from graphcore.program import lower


def make_group(window: MainWindow, *node_ids: str) -> str:
    window.scene.select_nodes(list(node_ids))
    group = window.controller.group_selection()
    assert group is not None
    return group


def test_grouping_frames_the_nodes_and_changes_no_computation(neuron: MainWindow, qtbot):
    program = str(lower(neuron.document.graph))
    neuron.scene.select_nodes(["wx", "z", "t"])
    neuron.view.setFocus()
    qtbot.keyClick(neuron.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    groups = neuron.document.graph.meta["groups"]
    assert groups == [
        {
            "id": "group1",
            "title": "Group 1",
            "color": groups[0]["color"],
            "nodes": ["wx", "z", "t"],
            "collapsed": False,
        }
    ]
    frame = neuron.scene.backdrops["group1"].sceneBoundingRect()
    assert all(frame.contains(neuron.scene.nodes[n].sceneBoundingRect()) for n in ("wx", "z", "t"))
    assert str(lower(neuron.document.graph)) == program and neuron.document.report.ok
    neuron.document.stack.undo()
    assert "groups" not in neuron.document.graph.meta and neuron.scene.backdrops == {}


def test_the_frame_moves_with_its_nodes_and_drags_them(neuron: MainWindow):
    group = make_group(neuron, "wx", "z")
    backdrop, item = neuron.scene.backdrops[group], neuron.scene.nodes["z"]
    drag(neuron.view, item.mapToScene(QPointF(30, 10)), item.mapToScene(QPointF(30, 210)))
    assert backdrop.sceneBoundingRect().contains(item.sceneBoundingRect())
    graph, stack = neuron.document.graph, neuron.document.stack
    before = {n: graph.node(n).pos for n in ("wx", "z")}
    title = backdrop.mapToScene(QPointF(20, 10))
    steps = stack.count()
    drag(neuron.view, title, title + QPointF(100, 60))
    after = {n: graph.node(n).pos for n in ("wx", "z")}
    assert all(after[n][0] - before[n][0] == 100 and after[n][1] - before[n][1] == 60 for n in after)
    assert stack.count() == steps + 1 and graph.node("t").pos == (660, 120)


def test_collapsing_shows_one_box_with_the_outside_ports(neuron: MainWindow):
    group = make_group(neuron, "wx", "z", "t")
    backdrop = neuron.scene.backdrops[group]
    neuron.menu["collapse"].trigger()
    assert backdrop.collapsed and neuron.document.graph.meta["groups"][0]["collapsed"]
    assert not any(neuron.scene.nodes[n].isVisible() for n in ("wx", "z", "t"))
    assert backdrop.inputs == [PortRef("wx", "a"), PortRef("wx", "b"), PortRef("z", "b")]
    assert backdrop.outputs == [PortRef("t", "out")]
    outside = neuron.scene.edges[PortRef("r", "b")]  # t.out → r.b leaves the group
    assert outside.isVisible() and outside.path().pointAtPercent(0) == backdrop.port_pos(
        PortRef("t", "out"), True
    )
    assert not neuron.scene.edges[PortRef("t", "x")].isVisible()  # z → t is inside
    neuron.scene.select([backdrop])
    assert neuron.scene.selected_node_ids() == ["wx", "z", "t"]
    neuron.document.stack.undo()
    assert all(neuron.scene.nodes[n].isVisible() for n in ("wx", "z", "t")) and not backdrop.collapsed


def test_double_click_on_the_title_toggles_collapse(neuron: MainWindow, qtbot):
    group = make_group(neuron, "wx", "z")
    backdrop = neuron.scene.backdrops[group]
    spot = neuron.view.mapFromScene(backdrop.mapToScene(QPointF(20, 10)))
    qtbot.mouseDClick(neuron.view.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    assert backdrop.collapsed


def test_groups_are_saved_and_reopened(neuron: MainWindow, examples: Path):
    group = make_group(neuron, "wx", "z")
    neuron.controller.set_group(group, "Rename group", title="pre-activation")
    neuron.controller.toggle_collapsed(group)
    assert neuron.save()
    assert load(examples / "sigmoid_neuron.json").meta["groups"][0]["title"] == "pre-activation"
    assert neuron.open_path(examples / "path_sum.json") and neuron.open_path(examples / "sigmoid_neuron.json")
    backdrop = neuron.scene.backdrops[group]
    assert backdrop.title == "pre-activation" and backdrop.collapsed
    assert not neuron.scene.nodes["z"].isVisible()


def test_ungroup_and_deleting_members(neuron: MainWindow):
    group = make_group(neuron, "wx", "z")
    neuron.scene.select_nodes(["z"])
    neuron.controller.delete_selection()
    assert neuron.document.graph.meta["groups"][0]["nodes"] == ["wx"]
    neuron.document.stack.undo()
    assert neuron.document.graph.meta["groups"][0]["nodes"] == ["wx", "z"]
    neuron.scene.select([neuron.scene.backdrops[group]])
    neuron.menu["ungroup"].trigger()
    assert "groups" not in neuron.document.graph.meta and {"wx", "z"} <= set(neuron.scene.nodes)


def test_the_inspector_edits_a_selected_group(neuron: MainWindow, qtbot):
    group = make_group(neuron, "wx", "z")
    inspector = neuron.inspector
    assert inspector.group_id == group
    inspector.title_edit.selectAll()
    qtbot.keyClicks(inspector.title_edit, "affine")
    qtbot.keyClick(inspector.title_edit, Qt.Key.Key_Return)
    assert neuron.scene.backdrops[group].title == "affine"
    assert neuron.scene.backdrops[group].isSelected() and inspector.group_id == group
    inspector.collapsed_box.click()
    assert neuron.scene.backdrops[group].collapsed
