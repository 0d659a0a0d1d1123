"""Shell: what the main window offers the features built around its canvas, and nothing more.

Actions (the menus), ExportTools, RunTools and DerivativeLab take a Shell, never the MainWindow: they
add docks, menus and toolbars, say things in the status bar or an error box, ask for the current
document, its scene and folder, and follow each new document through `follow_document`. What a feature
shares with another (RunTools' training session for the lab) is handed over where the window builds
them, so no feature reaches into another's privates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMenu, QMessageBox, QToolBar, QWidget

from app.dock_layout import scrolling
from app.messages import error_box
from app.panels.lazy import RefreshWhenSeen

if TYPE_CHECKING:
    from app.canvas.scene import CanvasScene
    from app.editing.document import Document
    from app.theme import Theme
    from app.window import MainWindow

MESSAGE_MS = 8000  # how long a status-bar message stays


class Shell(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.docks: dict[str, QDockWidget] = {}
        self.error_box: QMessageBox | None = None
        self._panels: QMenu | None = None
        self._followers: list[Callable[[Document | None], None]] = []

    # --- the document -----------------------------------------------------------------------------------

    def follow_document(self, follower: Callable[[Document | None], None]) -> None:
        """Call `follower` with each document the window shows, and with None when it lets one go."""
        self._followers.append(follower)

    def document_changed(self, document: Document | None) -> None:
        """The window shows `document` (None: it lets the old one go). Followers are called directly,
        not through a Qt signal, so one that cannot show the document raises into the window, which
        then puts the old document back."""
        for follower in self._followers:
            follower(document)

    @property
    def document(self) -> Document | None:
        return self._window.document

    @property
    def scene(self) -> CanvasScene | None:
        return self._window.scene if self._window.document is not None else None

    @property
    def theme(self) -> Theme:
        return self._window.theme

    def folder(self) -> Path:
        """Where file dialogs start: the current document's folder, else the working directory."""
        document = self.document
        return document.path.parent if document is not None and document.path else Path.cwd()

    def maybe_save(self) -> bool:
        """Offer to save unsaved changes; True when the current document may be dropped."""
        return self._window.maybe_save()

    def show_unsaved(self, document: Document) -> None:
        """Show a new document that was never saved (closing it asks first)."""
        self._window.show_unsaved(document)

    def show_node(self, node_id: str) -> None:
        """Select and frame a node on the canvas."""
        self._window.show_node(node_id)

    # --- docks, menus, toolbars ------------------------------------------------------------------------

    @property
    def widget(self) -> QWidget:
        """The parent for a feature's dialogs and actions."""
        return self._window

    def add_dock(
        self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea, tab_with: str | None = None
    ) -> QDockWidget:
        """A panel around the canvas, listed in View ▸ Panels; its layout is saved with the window.
        `tab_with`: a dock it shares a place with, as a tab (ignored when there is no such dock)."""
        window = self._window
        dock = QDockWidget(title, window)
        dock.setObjectName(name)
        dock.setWidget(scrolling(widget))
        if isinstance(widget, RefreshWhenSeen):
            dock.visibilityChanged.connect(widget.seen)
        window.addDockWidget(area, dock)
        if self._panels is not None:
            self._panels.addAction(dock.toggleViewAction())
        if tab_with in self.docks:
            window.tabifyDockWidget(self.docks[tab_with], dock)
        self.docks[name] = dock
        return dock

    def split_dock(self, first: str, second: str, orientation: Qt.Orientation) -> None:
        """Put dock `second` beside `first` (below it when vertical)."""
        self._window.splitDockWidget(self.docks[first], self.docks[second], orientation)

    def raise_dock(self, name: str) -> None:
        if name in self.docks:
            self.docks[name].raise_()

    def resize_dock(self, name: str, size: int, orientation: Qt.Orientation) -> None:
        self._window.resizeDocks([self.docks[name]], [size], orientation)

    def list_docks_in(self, menu: QMenu) -> None:
        """View ▸ Panels: every dock, those added already and those to come."""
        self._panels = menu
        for dock in self.docks.values():
            menu.addAction(dock.toggleViewAction())

    def add_menu(self, title: str) -> QMenu:
        """A menu on the menu bar, before Help when there is one (Help stays last)."""
        bar = self._window.menuBar()
        menu = QMenu(title, bar)
        help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_menu is not None:
            bar.insertMenu(help_menu, menu)
        else:
            bar.addMenu(menu)
        return menu

    def menu_named(self, title: str) -> QMenu:
        """The menu bar's menu called `title` (with or without its '&'), added when there is none."""
        plain = title.replace("&", "")
        for action in self._window.menuBar().actions():
            menu = action.menu()
            if action.text().replace("&", "") == plain and isinstance(menu, QMenu):
                return menu
        return self.add_menu(title)

    def add_toolbar(self, toolbar: QToolBar) -> None:
        self._window.addToolBar(toolbar)

    def watch_closing(self, watcher: QObject) -> None:
        """`watcher` sees the window's events first (an import under way holds a close back)."""
        self._window.installEventFilter(watcher)

    # --- messages --------------------------------------------------------------------------------------

    def show_message(self, text: str, ms: int = MESSAGE_MS) -> None:
        """One line in the status bar; ms=0 keeps it until the next message."""
        self._window.statusBar().showMessage(text, ms)

    def show_error(self, title: str, text: str, details: str = "") -> None:
        """Say what went wrong without blocking: one line in the status bar and in a window-modal box,
        the whole text under Show Details. A box is deleted once closed; a newer one replaces it."""
        if self.error_box is not None:
            self.error_box.close()
        box = error_box(self._window, title, text, details)
        self.show_message(box.text())
        box.finished.connect(lambda _=0, box=box: self._forget_box(box))
        self.error_box = box
        box.open()

    def _forget_box(self, box: QMessageBox) -> None:
        if self.error_box is box:
            self.error_box = None
