"""The window as a user meets it: every example opens readable (File ▸ Open, then Home on the canvas),
a graph too big to read whole opens at its start, a small window keeps a usable canvas, View ▸
Reset Layout undoes a squeezed dock, and the toolbars' tooltips name their shortcuts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QApplication, QToolBar

from app.canvas.items import fonts
from app.main import EXAMPLES
from app.window import MainWindow


def title_pixels(window: MainWindow) -> float:
    """How tall a node title is on screen: the title font's pixel size × the zoom."""
    return QFontInfo(fonts()["title"][0]).pixelSize() * window.view.zoom


def on_screen(window: MainWindow, node_id: str) -> bool:
    view = window.view
    box = view.mapFromScene(window.scene.nodes[node_id].sceneBoundingRect()).boundingRect()
    return view.viewport().rect().contains(box)


def press_home(window: MainWindow, qtbot) -> None:
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.view.zoom_by(0.3)  # the user had zoomed far out
    qtbot.keyClick(window.view, Qt.Key.Key_Home)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_each_example_opens_and_frames_with_readable_titles(window: MainWindow, examples: Path, qtbot, name):
    window.ask_open_path = lambda: examples / name
    window.menu["open"].trigger()
    assert window.document.name == name
    first = window.document.graph.nodes[0].id
    assert title_pixels(window) >= 11 and on_screen(window, first)
    press_home(window, qtbot)
    assert title_pixels(window) >= 11 and on_screen(window, first)


def test_a_thousand_nodes_open_readable_at_their_start(window: MainWindow, tmp_path: Path, qtbot):
    nodes = [
        {
            "id": f"c{i}",
            "type": "Constant",
            "params": {"value": 1.0},
            "pos": [240 * (i % 40), 120 * (i // 40)],
        }
        for i in range(1000)
    ]
    path = tmp_path / "big.json"
    path.write_text(
        json.dumps({"format": "backprop-studio-graph", "version": 1, "nodes": nodes, "edges": []})
    )
    assert window.open_path(path)
    assert title_pixels(window) >= 11 and on_screen(window, "c0") and not on_screen(window, "c999")
    minimap = window.minimap
    minimap.refresh()
    assert len(minimap.boxes) == 1000  # the overview shows the rest
    press_home(window, qtbot)
    assert title_pixels(window) >= 11 and on_screen(window, "c0")


def visible_docks(window: MainWindow) -> dict[str, QRect]:
    """The docks a user sees (a dock behind another's tab is not on the window)."""
    return {
        name: dock.geometry()
        for name, dock in window.docks.items()
        if dock.isVisible() and window.rect().intersects(dock.geometry())
    }


def test_a_small_window_keeps_a_usable_canvas_and_no_dock_overlaps(neuron: MainWindow):
    neuron.resize(640, 420)
    QApplication.processEvents()  # the layout takes the new size
    assert neuron.size().toTuple() == (640, 420)
    assert neuron.view.width() >= 250 and neuron.view.height() >= 150
    shown = {**visible_docks(neuron), "canvas": neuron.view.geometry()}
    assert {"palette", "minimap", "inspector", "diagnostics"} <= shown.keys()
    names = sorted(shown)
    overlaps = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if shown[a].intersects(shown[b])]
    assert overlaps == []


@pytest.mark.parametrize("size", [(1400, 900), (1024, 700)])
def test_reset_layout_gives_the_canvas_half_and_the_plots_room(neuron: MainWindow, examples: Path, size):
    neuron.resize(*size)
    plots = neuron.docks["plots"]
    plots.raise_()
    QApplication.processEvents()  # the layout takes the new size
    neuron.resizeDocks([plots], [90], Qt.Orientation.Vertical)  # the user dragged the plots small
    neuron.resizeDocks([neuron.docks["inspector"]], [size[0] // 2], Qt.Orientation.Horizontal)
    QApplication.processEvents()
    assert plots.height() < 120 and neuron.view.width() < size[0] / 2
    neuron.menu["reset_layout"].trigger()
    plots.raise_()
    QApplication.processEvents()
    assert plots.height() >= 200
    assert neuron.view.width() >= size[0] / 2 and neuron.view.height() >= size[1] / 2
    height, width = plots.height(), neuron.docks["inspector"].width()
    assert neuron.open_path(examples / "two_moons.json")  # opening a file leaves the layout alone
    for node in neuron.document.graph.nodes:  # nor does showing each node in the inspector
        neuron.scene.select_nodes([node.id])
    assert (plots.height(), neuron.docks["inspector"].width()) == (height, width)


def test_toolbar_buttons_have_icons_and_tooltips_that_name_their_shortcut(window: MainWindow):
    seen = 0
    for toolbar in window.findChildren(QToolBar):
        for action in toolbar.actions():
            if action.isSeparator() or not action.text():
                continue
            assert not action.icon().isNull(), action.text()
            keys = action.shortcut().toString()
            assert not keys or keys in action.toolTip(), action.toolTip()
            seen += 1
    assert seen >= 20
    assert window.menu["save"].toolTip() == "Save (Ctrl+S)"
    assert window.run_tools.actions["step"].toolTip().endswith("(F10)")
