"""The window's menus and shortcuts, in one table-like place.

Canvas edits (delete, copy, paste, F, ...) take their shortcuts only while the canvas has focus, so
the same keys keep working as usual in the palette's search field and the inspector's fields;
undo and redo, file commands and view toggles work everywhere. The File toolbar repeats the
commands used most; icons and shortcut tooltips are put on by the window (app/icons.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QMenu, QToolBar

if TYPE_CHECKING:
    from app.canvas.view import CanvasView
    from app.editing.controller import Controller
    from app.export.actions import ExportTools
    from app.export.torch_import import TorchImport
    from app.shell import Shell

Keys = str | QKeySequence.StandardKey | list[str] | None
TOOLBAR = ("new", "open", "save", None, "undo", "redo", None, "frame_all", "zoom_in", "zoom_out", "layout")

SHORTCUTS_HELP = """<table>
<tr><td><b>Tab</b> or type</td><td>quick-add a node at the cursor</td></tr>
<tr><td><b>Drag</b> port → port</td><td>connect (green: allowed, red: refused)</td></tr>
<tr><td><b>Drag</b> from a wired input</td><td>pick the wire up; drop on nothing to remove it</td></tr>
<tr><td><b>Wheel</b></td><td>zoom around the cursor</td></tr>
<tr><td><b>Middle-drag</b>, <b>Space+drag</b></td><td>pan</td></tr>
<tr><td><b>F</b> / <b>Home</b></td><td>frame selection / frame all</td></tr>
<tr><td><b>Ctrl+D</b>, <b>Ctrl+C</b>, <b>Ctrl+V</b></td><td>duplicate, copy, paste</td></tr>
<tr><td><b>Ctrl+G</b>, <b>Ctrl+Shift+G</b></td><td>group, ungroup</td></tr>
<tr><td><b>Ctrl+E</b>, double-click a frame's title</td><td>collapse or expand a group</td></tr>
<tr><td><b>Ctrl+B</b></td><td>make a block of the selection</td></tr>
<tr><td><b>Enter</b>, double-click a block</td><td>open the block; <b>Esc</b> goes back out</td></tr>
<tr><td><b>Ctrl+L</b></td><td>automatic layout</td></tr>
<tr><td><b>F2</b></td><td>rename the selected node</td></tr>
<tr><td><b>Ctrl+Z</b>, <b>Ctrl+Shift+Z</b></td><td>undo, redo</td></tr>
</table>"""


class Commands(Protocol):
    """What the menus call: the window's file and canvas commands (MainWindow is one)."""

    undo_group: QUndoGroup
    view: CanvasView
    controller: Controller

    def new_document(self) -> bool: ...
    def open_dialog(self) -> bool: ...
    def open_path(self, path: str | Path) -> bool: ...
    def save(self) -> bool: ...
    def save_as(self) -> bool: ...
    def save_weights(self) -> bool: ...
    def close(self) -> bool: ...
    def recent_files(self) -> list[str]: ...
    def example_files(self) -> list[Path]: ...
    def rename_selected(self) -> None: ...
    def auto_layout(self) -> None: ...
    def frame_all(self) -> None: ...
    def set_snap(self, on: bool) -> None: ...
    def set_theme(self, name: str) -> None: ...
    def default_layout(self) -> None: ...
    def show_shortcuts(self) -> None: ...
    def make_block(self) -> str | None: ...
    def open_selected_block(self) -> bool: ...
    def delete_selection(self, cut: bool = False) -> None: ...


class Actions:
    """Builds the menu bar through `shell` and keeps the actions tests and other code need by name;
    the menus call `commands` and, for File ▸ Export and Import, `tools` and `imports`."""

    def __init__(self, shell: Shell, commands: Commands, tools: ExportTools, imports: TorchImport) -> None:
        self.shell = shell
        self.commands = w = commands
        self.by_name: dict[str, QAction] = {}

        file = shell.add_menu("&File")
        self._add(file, "new", "&New", QKeySequence.StandardKey.New, w.new_document)
        self._add(file, "open", "&Open…", QKeySequence.StandardKey.Open, w.open_dialog)
        self.recent = file.addMenu("Open &Recent")
        self.recent.aboutToShow.connect(self._fill_recent)
        self.examples = file.addMenu("&Examples")
        self.examples.aboutToShow.connect(self._fill_examples)
        file.addSeparator()
        self._add(file, "save", "&Save", QKeySequence.StandardKey.Save, w.save)
        self._add(file, "save_as", "Save &As…", QKeySequence.StandardKey.SaveAs, w.save_as)
        self._add(file, "save_weights", "Save &Weights…", None, w.save_weights)
        file.addSeparator()
        export = file.addMenu("&Export")
        self._add(export, "export_python", "&Python…", None, lambda: tools.export_python())
        training = self._add(export, "export_with_training", "  with &Training Loop", None, None)
        training.setCheckable(True)
        training.setToolTip(
            "Export Python writes the training section as code too (graphcore export --train)"
        )
        training.toggled.connect(lambda on: setattr(tools, "with_training", on))
        self._add(export, "export_onnx", "&ONNX…", None, lambda: tools.export_onnx())
        export.addSeparator()
        self._add(export, "export_png", "Image (P&NG)…", None, lambda: tools.export_image("png"))
        self._add(export, "export_svg", "Image (&SVG)…", None, lambda: tools.export_image("svg"))
        export.aboutToShow.connect(
            lambda: training.setEnabled(shell.document is not None and bool(shell.document.graph.training))
        )
        import_menu = file.addMenu("&Import")
        importing = self._add(import_menu, "import_torch", "&PyTorch Module…", None, imports.import_dialog)
        imports.importing.connect(lambda busy: importing.setEnabled(not busy))
        file.addSeparator()
        self._add(file, "quit", "&Quit", QKeySequence.StandardKey.Quit, w.close)

        edit = shell.add_menu("&Edit")
        undo = w.undo_group.createUndoAction(shell.widget, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = w.undo_group.createRedoAction(shell.widget, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addActions([undo, redo])
        self.by_name.update(undo=undo, redo=redo)
        edit.addSeparator()
        canvas: list[tuple[str, str, Keys, Callable[[], object]] | None] = [
            ("cut", "Cu&t", QKeySequence.StandardKey.Cut, lambda: w.delete_selection(cut=True)),
            ("copy", "&Copy", QKeySequence.StandardKey.Copy, lambda: w.controller.copy()),
            ("paste", "&Paste", QKeySequence.StandardKey.Paste, lambda: w.controller.paste()),
            ("duplicate", "&Duplicate", "Ctrl+D", lambda: w.controller.duplicate()),
            ("delete", "De&lete", ["Delete", "Backspace"], lambda: w.delete_selection()),
            (
                "select_all",
                "Select &All",
                QKeySequence.StandardKey.SelectAll,
                lambda: w.controller.select_all(),
            ),
            ("rename", "&Rename", "F2", w.rename_selected),
            None,
            ("group", "&Group", "Ctrl+G", lambda: w.controller.group_selection()),
            ("ungroup", "U&ngroup", "Ctrl+Shift+G", lambda: w.controller.ungroup_selection()),
            ("collapse", "Collapse / &Expand Group", "Ctrl+E", lambda: w.controller.toggle_selected_groups()),
            ("layout", "Auto &Layout", "Ctrl+L", w.auto_layout),
            None,
            ("make_block", "Make &Block from Selection", "Ctrl+B", w.make_block),
            ("open_block", "&Open Block (Enter)", None, w.open_selected_block),
        ]
        for entry in canvas:
            if entry is None:
                edit.addSeparator()
                continue
            name, text, keys, slot = entry
            action = self._add(edit, name, text, keys, slot)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.view.addAction(action)

        view = shell.add_menu("&View")
        for name, text, keys, slot in (
            ("frame", "&Frame Selection", "F", w.view.frame_selection),
            ("frame_all", "Frame &All", "Home", w.frame_all),
            ("zoom_in", "Zoom &In", QKeySequence.StandardKey.ZoomIn, lambda: w.view.zoom_by(1.25)),
            ("zoom_out", "Zoom &Out", QKeySequence.StandardKey.ZoomOut, lambda: w.view.zoom_by(0.8)),
            ("zoom_reset", "Actual &Size", "Ctrl+0", lambda: w.view.zoom_by(1 / w.view.zoom)),
        ):
            action = self._add(view, name, text, keys, slot)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.view.addAction(action)
        snap = self._add(view, "snap", "&Snap to Grid", None, w.set_snap)
        snap.setCheckable(True)
        view.addSeparator()
        themes = view.addMenu("&Theme")
        choice = QActionGroup(shell.widget)
        for name in ("light", "dark"):
            action = self._add(
                themes, f"theme_{name}", name.title(), None, lambda _=False, name=name: w.set_theme(name)
            )
            action.setCheckable(True)
            choice.addAction(action)
        view.addSeparator()
        self.panels = view.addMenu("&Panels")
        shell.list_docks_in(self.panels)
        self._add(view, "reset_layout", "&Reset Layout", None, w.default_layout)

        help_menu = shell.add_menu("&Help")
        self._add(help_menu, "shortcuts", "&Keyboard and Mouse", "F1", w.show_shortcuts)
        self.toolbar = self._toolbar()

    def _toolbar(self) -> QToolBar:
        bar = QToolBar("File", self.shell.widget)
        bar.setObjectName("file_toolbar")  # saveState finds it by name
        for name in TOOLBAR:
            if name is None:
                bar.addSeparator()
            else:
                bar.addAction(self.by_name[name])
        self.shell.add_toolbar(bar)
        return bar

    def _add(
        self, menu: QMenu, name: str, text: str, keys: Keys, slot: Callable[..., object] | None
    ) -> QAction:
        action = QAction(text, self.shell.widget)
        if isinstance(keys, list):
            action.setShortcuts([QKeySequence(k) for k in keys])
        elif keys is not None:
            action.setShortcut(QKeySequence(keys))
        if slot is not None:
            action.triggered.connect(slot)
        menu.addAction(action)
        self.by_name[name] = action
        return action

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def _fill_recent(self) -> None:
        self.recent.clear()
        paths = self.commands.recent_files()
        for path in paths:
            action = self.recent.addAction(path)
            action.triggered.connect(lambda _=False, path=path: self.commands.open_path(path))
        if not paths:
            self.recent.addAction("(none yet)").setEnabled(False)

    def _fill_examples(self) -> None:
        self.examples.clear()
        for path in self.commands.example_files():
            action = self.examples.addAction(path.stem.replace("_", " "))
            action.setToolTip(str(path))
            action.triggered.connect(lambda _=False, path=path: self.commands.open_path(path))
