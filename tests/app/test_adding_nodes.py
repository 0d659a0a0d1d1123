"""Adding nodes: the palette (search, drag onto the canvas, double-click, Enter) and quick-add."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.canvas.view import NODE_MIME
from app.panels.search import search
from app.window import MainWindow
from graphcore.graph import BLOCK_TYPE
from graphcore.registry import REGISTRY


def drop_on(view, mime: QMimeData, spot: QPoint) -> None:
    """What a drag from the palette delivers to the canvas: enter, move, drop."""
    for event in (
        QDragEnterEvent(
            spot, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
        QDragMoveEvent(
            spot, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
        QDropEvent(
            QPointF(spot),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    ):
        QApplication.sendEvent(view.viewport(), event)


def test_palette_lists_every_registered_type_by_category(window: MainWindow):
    palette = window.node_palette
    offered = [t for t in REGISTRY if t != BLOCK_TYPE]  # a Block comes from the file's blocks (test_blocks)
    assert sorted(palette.types_shown()) == sorted(offered)
    categories = {palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())}
    assert categories == {REGISTRY[t].category for t in offered}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("swish", "SiLU"),  # an alias
        ("dense", "Linear"),  # an alias
        ("squashes to (0, 1)", "sigmoid"),  # the description
        ("SIGM", "sigmoid"),  # a name, any case
    ],
)
def test_search_matches_names_aliases_and_descriptions(window: MainWindow, qtbot, query: str, expected: str):
    if expected not in REGISTRY:
        pytest.skip(f"{expected} is not in this build's node library")
    qtbot.keyClicks(window.node_palette.search, query)
    shown = window.node_palette.types_shown()
    assert expected in shown and len(shown) < len(REGISTRY)
    assert [s.type for s in search(query)] == shown or set(shown) == {s.type for s in search(query)}


def test_exact_names_rank_first(window: MainWindow):
    assert search("add")[0].type == "add"
    assert search("mul")[0].type == "mul"


def test_double_click_adds_at_the_view_centre(window: MainWindow, qtbot):
    palette = window.node_palette
    item = palette.item_for("tanh")
    palette.tree.scrollToItem(item)
    spot = palette.tree.visualItemRect(item).center()
    qtbot.mouseClick(
        palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=spot
    )  # a double-click's first press
    qtbot.mouseDClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    graph = window.document.graph
    assert [n.type for n in graph.nodes] == ["tanh"]
    node_item = window.scene.nodes["tanh"]
    assert (
        node_item.sceneBoundingRect().contains(window.view.center())
        or (node_item.sceneBoundingRect().center() - window.view.center()).manhattanLength() < 120
    )
    assert window.scene.selected_node_ids() == ["tanh"] and window.document.stack.count() == 1


def test_enter_in_the_search_field_adds_the_best_match(window: MainWindow, qtbot):
    qtbot.keyClicks(window.node_palette.search, "sigmoid")
    qtbot.keyClick(window.node_palette.search, Qt.Key.Key_Return)
    assert [n.type for n in window.document.graph.nodes] == ["sigmoid"]


def test_dragging_from_the_palette_drops_a_node_where_released(window: MainWindow):
    palette, view = window.node_palette, window.view
    mime = palette.tree.mimeData([palette.item_for("Linear")])
    assert bytes(mime.data(NODE_MIME).data()) == b"Linear"
    spot = QPoint(300, 200)
    drop_on(view, mime, spot)
    node = window.document.graph.node("linear")
    item = window.scene.nodes["linear"]
    assert item.sceneBoundingRect().adjusted(-20, -20, 20, 20).contains(view.mapToScene(spot))
    assert node.pos == (item.x(), item.y())


def test_drops_that_are_not_node_types_are_ignored(window: MainWindow):
    mime = QMimeData()
    mime.setText("hello")
    drop_on(window.view, mime, QPoint(100, 100))
    assert len(window.document.graph) == 0


def test_tab_opens_quick_add_at_the_cursor_and_keys_choose(window: MainWindow, qtbot):
    view, popup = window.view, window.quick_add
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert popup.isVisible() and popup.edit.hasFocus()
    assert popup.list.count() == len(REGISTRY)
    qtbot.keyClicks(popup.edit, "lu")  # relu, LeakyReLU, SiLU, ...
    matches = [popup.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(popup.list.count())]
    assert "relu" in matches and len(matches) < len(REGISTRY)
    qtbot.keyClick(popup.edit, Qt.Key.Key_Down)
    chosen = popup.list.currentItem().data(Qt.ItemDataRole.UserRole)
    assert chosen == matches[1]
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert [n.type for n in window.document.graph.nodes] == [chosen]


def test_typing_on_the_canvas_starts_a_search(window: MainWindow, qtbot):
    view, popup = window.view, window.quick_add
    view.setFocus()
    qtbot.keyClicks(view, "m")
    assert popup.isVisible() and popup.edit.text() == "m"
    qtbot.keyClicks(popup.edit, "ul")
    assert popup.list.currentItem().data(Qt.ItemDataRole.UserRole) == "mul"
    qtbot.keyClick(popup.edit, Qt.Key.Key_Escape)
    assert not popup.isVisible() and len(window.document.graph) == 0


def test_unknown_types_are_refused_with_a_message(window: MainWindow):
    assert window.controller.add_node("NoSuchNode", QPointF(0, 0)) is None
    assert "NoSuchNode" in window.statusBar().currentMessage()


def test_a_drop_after_opening_another_file_goes_to_that_file_only(window: MainWindow, examples):
    first = window.document.graph
    assert window.open_path(examples / "path_sum.json")
    mime = window.node_palette.tree.mimeData([window.node_palette.item_for("relu")])
    drop_on(window.view, mime, QPoint(200, 200))
    assert [n.type for n in window.document.graph.nodes].count("relu") == 1 and len(first) == 0
