"""The main window: the canvas in the middle, docks around it, and the document it shows.

A window shows one Document at a time; New and Open (app/file_commands.py) build a fresh Document
with its own scene and controller, and the window retires the old one only once the new one is in
place (a file that fails to open leaves the window as it was). Each document's unsaved work is
autosaved for crash recovery (app/recovery.py). The `*` in the title comes from the undo stack's
clean state, never from a separate flag. Features around the canvas (menus, export and import, Run,
the derivative lab) see the window only through its Shell (app/shell.py); where the docks sit is
app/dock_layout.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QResizeEvent, QShowEvent, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QUndoView

from app import theme as themes
from app.about_graph import AboutGraph
from app.actions import SHORTCUTS_HELP, Actions
from app.block_commands import BlockCommands
from app.canvas.block_view import BlockNavigator
from app.canvas.breadcrumb import Breadcrumb
from app.canvas.formula_card import FormulaCards
from app.canvas.gradient_flow import GradientFlow
from app.canvas.items import HEADER, MIN_WIDTH
from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.dock_layout import DockLayout
from app.editing.controller import Controller
from app.editing.document import Document
from app.export.actions import ExportTools
from app.export.torch_import import TorchImport
from app.file_commands import FileCommands
from app.icons import decorate_named
from app.input_grads.dock import InputGradients
from app.lab.lab import DerivativeLab
from app.lab.time_gradients import TimeGradients
from app.landscape.tool import LandscapeTool
from app.panels.data_preview import DataPreviewTool
from app.panels.diagnostics import DiagnosticsPanel
from app.panels.inspector import Inspector
from app.panels.minimap import Minimap
from app.panels.palette import Palette
from app.panels.quick_add import QuickAdd
from app.recovery import Autosaver, recovery_folder
from app.run_tools import RunTools
from app.shell import Shell
from app.stepper.practice import Practice
from graphcore.graph import PortRef
from graphcore.registry import load_library
from graphcore.validate import Report
from graphcore.words import plural


class MainWindow(FileCommands, BlockCommands, QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        load_library()
        self.settings = settings if settings is not None else QSettings()
        self.theme = themes.THEMES.get(str(self.settings.value("theme", "light")), themes.LIGHT)
        themes.apply(self.theme)
        self.undo_group = QUndoGroup(self)
        self.view = CanvasView()
        self.setCentralWidget(self.view)
        self.breadcrumb = Breadcrumb(self.view)  # at the canvas' top edge while a block is open
        self.node_palette = Palette(self.theme)
        self.inspector = Inspector()
        self.diagnostics = DiagnosticsPanel()
        self.history = QUndoView(self.undo_group)
        self.history.setEmptyLabel("Opened")
        self.minimap = Minimap()
        self.minimap.bind(self.view)
        self.quick_add = QuickAdd(self.view)
        self._quick: tuple[QPointF, tuple[PortRef, bool] | None] = (QPointF(), None)
        self.counts, self.zoom_label = QLabel(), QLabel()
        self.statusBar().addPermanentWidget(self.counts)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.document: Document | None = None
        self._links: list[tuple[Any, Any]] = []
        self._canvas_links: list[tuple[Any, Any]] = []  # those of the canvas shown: a block's inside too
        self.blocks = BlockNavigator(self, self.breadcrumb, self)  # opening blocks (app/canvas/block_view.py)
        self.recovery = recovery_folder()
        self.autosaver: Autosaver | None = None
        self.ending = False  # closing for a signal: keep the unsaved work for the next start
        self.shell = Shell(self)  # all that the features below see of the window (app/shell.py)
        self.export_tools = ExportTools(self.shell)  # File ▸ Export and the Code dock
        self.import_tools = TorchImport(self.shell)  # File ▸ Import ▸ PyTorch Module
        self.menu = Actions(self.shell, self, self.export_tools, self.import_tools)
        self._docks()
        self.run_tools = RunTools(self.shell)  # Run menu, Train/Stepper toolbars and docks
        self.blocks.inside_shown.connect(self.run_tools.stepper.show_inside)
        self.lab = DerivativeLab(self.shell, self.run_tools.session)  # app/lab: docks, Derivatives menu
        self.about_graph = AboutGraph(self.shell, self.view)  # meta.description, Help menu
        self.time_gradients = TimeGradients(self.shell)  # Derivatives ▸ Gradient per Time Step
        self.data_preview = DataPreviewTool(self.shell)  # Run ▸ Preview Data…
        self.practice = Practice(self.shell, self.run_tools, self.open_path)  # Run ▸ Practice Mode
        self.formula_cards = FormulaCards(self.shell)  # View ▸ Formulas on Nodes
        self.blocks.inside_shown.connect(lambda scene, _: self.formula_cards.follow(scene or self.scene))
        self.input_gradients = InputGradients(
            self.shell, self.run_tools.session
        )  # Derivatives ▸ Input Gradients
        self.landscape = LandscapeTool(self.shell, self.lab.runner)  # Derivatives ▸ Loss Landscape…
        self.gradient_flow = GradientFlow(self.shell, self.run_tools, self.view, self.blocks)  # View menu
        self.decorate()
        self.dock_layout = DockLayout(self, self.shell.docks)
        self.dock_layout.remember_default()
        # the view and panels outlive documents: they reach the current one through self.controller
        self.node_palette.add_requested.connect(lambda t: self.add_entry(t, self._free_spot()))
        self.view.node_dropped.connect(self.add_entry)
        self.view.open_requested.connect(self.open_selected_block)
        self.view.leave_requested.connect(self.blocks.leave)
        self.blocks.message.connect(self.show_message)
        self.quick_add.chosen.connect(self._on_quick_chosen)
        self.view.quick_add_requested.connect(lambda text, at: self._open_quick_add(text, at, None))
        self.diagnostics.node_chosen.connect(self.show_node)
        self.view.view_changed.connect(self._show_zoom)
        self.snap = bool(self.settings.value("snap", True, type=bool))
        self.menu["snap"].setChecked(self.snap)
        self.menu[f"theme_{self.theme.name}"].setChecked(True)
        self.resize(1400, 900)
        self.restoreGeometry(self._saved_bytes("geometry"))
        self.dock_layout.restore(self._saved_bytes("window_state"))
        self._set_document(Document())

    def _saved_bytes(self, key: str) -> QByteArray:
        value = self.settings.value(key, QByteArray())
        return value if isinstance(value, QByteArray) else QByteArray()

    @property
    def docks(self) -> dict[str, QDockWidget]:
        return self.shell.docks

    def _docks(self) -> None:
        add, areas = self.shell.add_dock, Qt.DockWidgetArea
        add("palette", "Nodes", self.node_palette, areas.LeftDockWidgetArea)
        add("minimap", "Overview", self.minimap, areas.LeftDockWidgetArea)
        add("inspector", "Inspector", self.inspector, areas.RightDockWidgetArea)
        add("diagnostics", "Problems", self.diagnostics, areas.BottomDockWidgetArea)
        add("history", "History", self.history, areas.BottomDockWidgetArea, tab_with="diagnostics")
        add("code", "Code", self.export_tools.preview, areas.BottomDockWidgetArea, tab_with="history")
        self.shell.raise_dock("diagnostics")

    def default_layout(self) -> None:
        """View ▸ Reset Layout (and the first start): every dock where the code put it."""
        self.dock_layout.reset()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.dock_layout.keep_canvas_usable()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.dock_layout.keep_canvas_usable()

    def decorate(self) -> None:
        """Icons (in the theme's colours) and shortcut tooltips on the menus' and toolbars' actions."""
        decorate_named({**self.menu.by_name, **self.run_tools.actions})

    # --- the document ---------------------------------------------------------------------------------

    def _set_document(self, document: Document, recovery_file: Path | None = None) -> None:
        """Show `document`. If its scene or a panel cannot take it, the previous document is shown again
        as it was and the error raised: a bad file never leaves the window half-switched."""
        old = (self.document, self.scene, self.controller) if self.document is not None else None
        view = self.view.state()
        # no paint until it is all bound: a panel's synchronous repaint (QProgressBar.reset) would
        # otherwise paint the whole window, a 10,000-node canvas included, before it is framed
        self.setUpdatesEnabled(False)
        try:
            scene = CanvasScene(document, self.theme)
            controller = Controller(document, scene, self.view)
            if old is not None:
                self._unbind()
            self._bind(document, scene, controller)
        except Exception:
            self._unbind()
            document.close()
            document.deleteLater()
            if old is not None:
                self._bind(*old)
                self.view.restore(view)
            raise
        finally:
            self.setUpdatesEnabled(True)
        if old is not None:
            assert self.autosaver is not None
            self.autosaver.close(keep=False)  # replaced on purpose, after the unsaved-changes question
            self._retire(old[0])
        self.autosaver = Autosaver(document, self.recovery, recovery_file)
        self.autosaver.failed.connect(self.show_message)

    def _bind(self, document: Document, scene: CanvasScene, controller: Controller) -> None:
        self.document, self.scene, self.controller = document, scene, controller
        document.setParent(self)
        self.show_canvas(document, scene, controller)
        self.blocks.follow(document, scene, controller)
        self.shell.document_changed(document)  # the features follow it (app/shell.py)
        self.undo_group.addStack(document.stack)
        self.undo_group.setActiveStack(document.stack)
        for signal, slot in ((document.stack.cleanChanged, self._show_title),):
            signal.connect(slot)
            self._links.append((signal, slot))
        self._show_title()
        if not self.view.restore(document.graph.meta.get("view")):
            self.frame_all()

    def _unbind(self) -> None:
        """Nothing the current document emits may reach the window any more (it may be half bound)."""
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = []
        self._unbind_canvas()
        self.blocks.follow(None, None, None)
        self.inspector.unbind()
        self.shell.document_changed(None)
        if self.document is not None:
            self.undo_group.removeStack(self.document.stack)

    def show_canvas(self, document: Document, scene: CanvasScene, controller: Controller) -> None:
        """Show a canvas: the file's graph, or the inside of a block (`document` is then the block's)."""
        self._unbind_canvas()
        self.scene, self.controller, self.shown = scene, controller, document
        scene.snap = self.snap
        self.view.setScene(scene)
        self.minimap.follow_scene()
        self.inspector.bind(document, scene, controller)
        for signal, slot in (
            (controller.message, self.show_message),
            (controller.wire_dropped, self._on_wire_dropped),
            (document.validated, self._on_validated),
        ):
            signal.connect(slot)
            self._canvas_links.append((signal, slot))
        self._on_validated(document.report)

    def _unbind_canvas(self) -> None:
        for signal, slot in self._canvas_links:
            signal.disconnect(slot)
        self._canvas_links = []

    def _retire(self, document: Document) -> None:
        """Let go of a document that is no longer shown."""
        document.close()
        document.deleteLater()

    def _show_title(self) -> None:
        assert self.document is not None
        self.setWindowTitle(f"{self.document.name}{'*' if self.dirty else ''} — Backprop Studio")

    def _on_validated(self, _report: Report) -> None:
        """The problems of the canvas shown (inside a block, those of its inner nodes)."""
        self.diagnostics.show_report(self.shown.report)
        if self.document is not None:
            self.node_palette.set_blocks(list(self.document.graph.blocks))
        self._show_counts()

    def _show_counts(self) -> None:
        """Once per edit, not on every scroll step."""
        if self.document is None:
            return
        graph, problems = self.document.graph, len(self.document.report.diagnostics)
        state = f"{problems} problem{'s' if problems != 1 else ''}" if problems else "valid"
        self.counts.setText(f"{plural(len(graph), 'node')} · {plural(graph.edge_count, 'edge')} · {state}")

    def _show_zoom(self) -> None:
        self.zoom_label.setText(f"zoom {self.view.zoom:.0%}")

    def show_message(self, text: str) -> None:
        self.shell.show_message(text)

    def show_error(self, title: str, text: str, details: str = "") -> None:
        self.shell.show_error(title, text, details)

    @property
    def error_box(self) -> QMessageBox | None:
        """The error box on show, if any (app/shell.py)."""
        return self.shell.error_box

    def end_session(self) -> None:
        """SIGTERM or SIGINT: close without asking; unsaved work stays in the recovery file."""
        self.ending = True
        if self.document is not None:  # not closed already
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.ending and not self.maybe_save():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.dock_layout.save())
        if self.document is not None:
            assert self.autosaver is not None
            self.autosaver.close(keep=self.ending)
            self._unbind()
            self._retire(self.document)
            self.document = None
        self.run_tools.shutdown()  # stop and join the training thread
        self.lab.shutdown()  # after the document is retired: nothing can submit work any more
        event.accept()

    # --- canvas commands that need the window ----------------------------------------------------------

    def frame_all(self) -> None:
        """Home: everything, or, when that is too big to read, the graph from its first node on."""
        items = (self.scene.nodes.get(n.id) for n in self.shown.graph.nodes)
        first = next((item for item in items if item is not None and item.isVisible()), None)
        self.view.frame(self.scene.items_rect(), first.sceneBoundingRect() if first is not None else None)

    def auto_layout(self) -> None:
        self.controller.auto_layout()
        self.frame_all()

    def rename_selected(self) -> None:
        if not self.inspector.focus_label():
            self.show_message("Select one node to rename it")

    def show_node(self, node_id: str) -> None:
        """Select and frame a node (from the problems list); a node in a collapsed group shows its box,
        one inside a block opens the block."""
        item = self.scene.nodes.get(node_id)
        if item is None:
            self.reveal_inner_node(node_id)  # "res1/2/fc": a node inside a block
            return
        if not item.isVisible():
            backdrop = self.scene.backdrops[self.scene.group_of[node_id]]
            self.scene.select([backdrop])
            self.view.frame(backdrop.sceneBoundingRect())
            return
        self.scene.select_nodes([node_id])
        self.view.frame(item.sceneBoundingRect())

    def _open_quick_add(self, text: str, at: QPointF, connect_to: tuple[PortRef, bool] | None) -> None:
        self._quick = (at, connect_to)
        self.quick_add.open_at(self.view.mapFromScene(at), text)

    def _on_wire_dropped(self, port: PortRef, is_output: bool, at: QPointF) -> None:
        """A wire let go on empty canvas: offer a node to connect it to, as Blender and Unreal do."""
        self._open_quick_add("", at, (port, is_output))

    def _free_spot(self) -> QPointF:
        """Where a palette entry lands: the view's centre, or below the nodes already there, so that
        adding several in a row leaves each one in sight (none hides under another)."""
        at = self.view.center()
        taken = [item.sceneBoundingRect() for item in self.scene.nodes.values()]
        for _ in range(len(taken)):
            spot = QRectF(at.x() - MIN_WIDTH / 2, at.y() - HEADER / 2, MIN_WIDTH, 2 * HEADER)
            below = [rect.bottom() for rect in taken if rect.intersects(spot)]
            if not below:
                break
            at = QPointF(at.x(), max(below) + 20 + HEADER / 2)
        return at

    def _on_quick_chosen(self, node_type: str) -> None:
        at, connect_to = self._quick
        self.add_entry(node_type, at, connect_to)
        self.view.setFocus()

    def set_snap(self, on: bool) -> None:
        self.snap = self.scene.snap = on
        self.settings.setValue("snap", on)

    def set_theme(self, name: str) -> None:
        self.theme = themes.THEMES[name]
        self.settings.setValue("theme", name)
        themes.apply(self.theme)
        self.scene.set_theme(self.theme)
        self.node_palette.set_theme(self.theme)
        self.view.resetCachedContent()
        self.minimap.refresh()
        self.decorate()
        self.menu[f"theme_{name}"].setChecked(True)

    def show_shortcuts(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.NoIcon, "Keyboard and mouse", SHORTCUTS_HELP, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
