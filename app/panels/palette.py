"""The node palette: every registered type under its category, with a search field.

Drag a type onto the canvas, double-click it (or press Enter) to add it at the centre of the view.
The list is built from the registry each time it is filtered, so new node families appear by
themselves; the search is `app.panels.search`, shared with the quick-add popup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.canvas.view import NODE_MIME
from app.editing.blocks import entry_for
from app.panels.search import search
from app.theme import Theme
from graphcore.graph import BLOCK_TYPE
from graphcore.registry import REGISTRY, NodeSpec

TYPE_ROLE = Qt.ItemDataRole.UserRole
BLOCKS = "blocks"  # the category of the blocks the open file defines (a bare Block node is not offered)


def describe(spec: NodeSpec) -> str:
    """A type's tooltip: what it does, its formula and the other names it answers to."""
    lines = [f"<b>{escape(spec.type)}</b> ({escape(spec.category)})", escape(spec.doc)]
    if spec.formula:
        lines.append(f"<code>{escape(spec.formula)}</code>")
    if spec.aliases:
        lines.append("also: " + escape(", ".join(spec.aliases)))
    return "<br>".join(lines)


def category_order() -> Callable[[str], tuple[int, int]]:
    """Sort key for categories: those with sources (where a graph starts) first, then registry order."""
    order = list(dict.fromkeys(s.category for s in REGISTRY.values()))
    starts = {s.category for s in REGISTRY.values() if s.is_source}
    return lambda c: (c not in starts, order.index(c) if c in order else len(order))


class _NodeTree(QTreeWidget):
    """A tree whose type items drag out as NODE_MIME (the canvas accepts that)."""

    def mimeTypes(self) -> list[str]:
        return [NODE_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        data = QMimeData()
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        if types:
            data.setData(NODE_MIME, types[0].encode())
        return data


class Palette(QWidget):
    add_requested = Signal(str)  # node type

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.blocks: list[str] = []
        self.search = QLineEdit(placeholderText="Search nodes…", clearButtonEnabled=True)
        self.search.setToolTip("Matches names, aliases and descriptions: 'swish' finds SiLU")
        self.tree = _NodeTree()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self._add_first)
        self.tree.itemActivated.connect(self._on_activated)
        self.refresh()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.refresh()

    def set_blocks(self, names: list[str]) -> None:
        """The blocks of the open file, listed under Blocks so another instance can be added."""
        if names != self.blocks:
            self.blocks = list(names)
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the tree from the registry and the file's blocks, filtered by the search text."""
        self.tree.clear()
        self._add_blocks()
        found = [spec for spec in search(self.search.text()) if spec.type != BLOCK_TYPE]
        by_category: dict[str, list[NodeSpec]] = {}
        for spec in found:
            by_category.setdefault(spec.category, []).append(spec)
        for category in sorted(by_category, key=category_order()):
            header = self._header(category, self.theme.category_color(category))
            for spec in by_category[category]:
                item = QTreeWidgetItem(header, [spec.type])
                item.setData(0, TYPE_ROLE, spec.type)
                item.setToolTip(0, describe(spec))
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
            header.setExpanded(True)

    def _add_blocks(self) -> None:
        wanted = self.search.text().strip().lower()
        names = [n for n in self.blocks if wanted in n.lower() or wanted in BLOCKS.lower()]
        if not names:
            return
        header = self._header(BLOCKS, self.theme.category_color(BLOCKS))
        for name in names:
            item = QTreeWidgetItem(header, [name])
            item.setData(0, TYPE_ROLE, entry_for(name))
            item.setToolTip(
                0, f"<b>{escape(name)}</b> (block of this file): drag it out for another instance"
            )
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
            )

    def _header(self, category: str, color: QColor) -> QTreeWidgetItem:
        header = QTreeWidgetItem(self.tree, [category])
        header.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = header.font(0)
        font.setBold(True)
        header.setFont(0, font)
        header.setIcon(0, self._swatch(color))
        header.setExpanded(True)
        return header

    def types_shown(self) -> list[str]:
        """The types currently listed, top to bottom."""
        shown = []
        for c in range(self.tree.topLevelItemCount()):
            header = self.tree.topLevelItem(c)
            assert header is not None
            shown += [header.child(i).data(0, TYPE_ROLE) for i in range(header.childCount())]  # type: ignore[union-attr]
        return shown

    def item_for(self, entry: str) -> QTreeWidgetItem | None:
        """The item of a node type, or of a block's entry ("block:Name"), if it is listed."""
        for c in range(self.tree.topLevelItemCount()):
            header = self.tree.topLevelItem(c)
            assert header is not None
            found = (header.child(i) for i in range(header.childCount()))
            item = next((i for i in found if i is not None and i.data(0, TYPE_ROLE) == entry), None)
            if item is not None:
                return item
        return None

    def _on_activated(self, item: QTreeWidgetItem) -> None:
        if item.data(0, TYPE_ROLE):
            self.add_requested.emit(item.data(0, TYPE_ROLE))

    def _add_first(self) -> None:
        shown = self.types_shown()
        if shown:
            self.add_requested.emit(shown[0])

    @staticmethod
    def _swatch(color: QColor) -> QIcon:
        pixmap = QPixmap(12, 12)
        pixmap.fill(color)
        return QIcon(pixmap)
