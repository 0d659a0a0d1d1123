"""The quick-add popup: Tab (or just typing) on the canvas opens a search list at the cursor.

As in Blender and Nuke: type a few letters, move with the arrow keys, Enter adds the node where
the popup opened, Escape or clicking elsewhere closes it. It is an overlay inside the canvas (a
child widget, as ComfyUI's search box is), not a separate window, so it never fights the window
manager for focus. Results come from `app.panels.search`, the palette's search.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.canvas.scene import CanvasScene, DraggedWire
from app.panels.palette import TYPE_ROLE
from app.panels.search import search
from graphcore.registry import NodeSpec

NAVIGATION = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}


class QuickAdd(QFrame):
    chosen = Signal(str)  # node type

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._watching = False  # following application focus while open
        self.wire: DraggedWire | None = None  # the wire it was opened for, if any
        self.hide()
        self.edit = QLineEdit(placeholderText="Add node…")
        self.list = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.resize(280, 320)
        self.edit.textChanged.connect(self._fill)
        self.edit.installEventFilter(self)
        self.list.itemActivated.connect(self._choose)

    def open_at(self, pos: QPoint, text: str = "") -> None:
        """Open at `pos` (in the parent's coordinates), kept inside the parent. Opened for a wire
        let go on the canvas, it lists only the types that can take that wire."""
        self.wire = self._dragged_wire()
        if self.wire is None:
            self.edit.setPlaceholderText("Add node…")
        elif self.wire.from_output:
            self.edit.setPlaceholderText(f"Add a node fed by {self.wire.anchor}…")
        else:
            self.edit.setPlaceholderText(f"Add a node feeding {self.wire.anchor}…")
        self.edit.setText(text)
        self._fill(text)
        parent = self.parentWidget()
        assert parent is not None  # made on the canvas view
        area = parent.rect()
        self.move(
            max(0, min(pos.x(), area.width() - self.width())),
            max(0, min(pos.y(), area.height() - self.height())),
        )
        self.show()
        self.raise_()
        self.edit.setFocus()
        if not self._watching:
            _application().focusChanged.connect(self._on_focus_changed)
            self._watching = True

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if new is None or not self.isAncestorOf(new):
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._watching:
            _application().focusChanged.disconnect(self._on_focus_changed)
            self._watching = False
        super().closeEvent(event)

    def _dragged_wire(self) -> DraggedWire | None:
        view = self.parentWidget()
        scene = view.scene() if isinstance(view, QGraphicsView) else None
        return scene.dragged_wire if isinstance(scene, CanvasScene) else None

    def takes_wire(self, spec: NodeSpec) -> bool:
        """Whether a node of this type can be wired to the wire the popup was opened for."""
        if self.wire is None:
            return True
        return bool(spec.inputs if self.wire.from_output else spec.outputs)

    def _fill(self, text: str) -> None:
        self.list.clear()
        for spec in filter(self.takes_wire, search(text)):
            item = QListWidgetItem(f"{spec.type}    ({spec.category})")
            item.setData(TYPE_ROLE, spec.type)
            item.setToolTip(spec.doc)
            self.list.addItem(item)
        self.list.setCurrentRow(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Arrow keys move through the list while the cursor stays in the search field."""
        if watched is self.edit and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in NAVIGATION:
                self.list.keyPressEvent(event)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose(self.list.currentItem())
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)

    def _choose(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.close()
        self.chosen.emit(item.data(TYPE_ROLE))


def _application() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app
