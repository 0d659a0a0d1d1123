"""File ▸ Import ▸ PyTorch Module: ask for the file, the class and its inputs, import in a worker
(app/export/module_import.py) while the window stays live, and open the graph as a new, unsaved document
when it lands, with a report of what could not become a node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from app.editing.document import Document
from app.export.module_import import ModuleImporter
from graphcore.graph import Graph

if TYPE_CHECKING:
    from app.shell import Shell


class ImportDialog(QDialog):
    """File, class name and input shapes, as `graphcore import-torch FILE:Class --args x=[N,3]`."""

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch module")
        self.folder = folder
        self.file = QLineEdit(placeholderText="net.py")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        self.class_name = QLineEdit(placeholderText="Net")
        self.inputs = QLineEdit(placeholderText="x=[N,3] tokens=[N,12]:long  (empty: the file's INPUTS)")
        self.kwargs = QLineEdit(placeholderText='{"hidden": 16}')
        self.flat = QCheckBox("Flat: every call a node of its own, no blocks")
        self.flat.setToolTip(
            "Unchecked, a module class used several times becomes one block (an nn.Sequential of "
            "them one repeated block), as graphcore import-torch does without --flat"
        )
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Class", self.class_name)
        form.addRow("Inputs", self.inputs)
        form.addRow("Arguments", self.kwargs)
        form.addRow("", self.flat)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "PyTorch module", str(self.folder), "Python (*.py)")
        if name:
            self.file.setText(name)

    def values(self) -> tuple[str, str, str, str]:
        return (
            self.file.text().strip(),
            self.class_name.text().strip(),
            self.inputs.text(),
            self.kwargs.text(),
        )


class TorchImport(QObject):
    """Imports a module for `shell`, one at a time."""

    importing = Signal(bool)  # an import started (True) or ended (False)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.report_box: QMessageBox | None = None
        self.importer = ModuleImporter(shell.widget)
        self.importer.finished.connect(self._imported)
        shell.watch_closing(self.importer)  # closing the window waits for an import under way
        self.request = ("", "")  # the file and class of the import under way

    def ask_import(self) -> tuple[str, str, str, str, bool] | None:
        """The dialog's answer and whether to import flat, or None (tests replace this method)."""
        dialog = ImportDialog(self.shell.folder(), self.shell.widget)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return (*dialog.values(), dialog.flat.isChecked())

    def import_dialog(self) -> bool:
        if not self.shell.maybe_save():
            return False
        answer = self.ask_import()
        return self.import_module(*answer) if answer else False

    def import_module(
        self, path: str, class_name: str, inputs: str, kwargs: str = "", flat: bool = False
    ) -> bool:
        """Start importing a module (`flat`: without blocks), to open as a new, unsaved document when
        the worker is done (the caller has already offered to save); False when another import is
        still under way."""
        shell = self.shell
        if not self.importer.start(path, class_name, inputs, kwargs, flat):
            shell.show_message("An import is under way: wait for it to finish")
            return False
        self.request = (path, class_name)
        self.importing.emit(True)
        where = Path(path).name or "(no file)"
        shell.show_message(f"Importing {class_name or 'a module'} from {where}…", 0)  # until it lands
        return True

    def _imported(self, result: Any, error: str) -> None:
        """The worker is done: open the graph, or say why there is none."""
        shell = self.shell
        (path, class_name), self.request = self.request, ("", "")
        self.importing.emit(False)
        if shell.document is None:  # the window closed meanwhile
            return
        if result is None:
            shell.show_error("Cannot import module", f"{path or '(no file)'}: {error}")
            return
        if not shell.maybe_save():  # the graph was edited during the import: offer to save again
            shell.show_message(f"Import of {class_name} dropped: the current graph stays open")
            return
        graph: Graph = result.graph
        graph.meta.setdefault("name", class_name)
        shell.show_unsaved(Document(graph))
        blocks = f", {len(graph.blocks)} blocks" if graph.blocks else ""
        lines = [
            f"Imported {class_name} from {Path(path).name}: {len(graph)} nodes, {len(graph.edges)} edges"
            + blocks
        ]
        if result.opaque:
            lines.append(f"{len(result.opaque)} call(s) without a node type became Opaque nodes (read-only):")
            lines += [f"  {node}: {target}" for node, target in result.opaque]
        lines += result.notes
        shell.show_message(lines[0])
        if len(lines) > 1:
            self.report_box = QMessageBox(
                QMessageBox.Icon.Information,
                "Import report",
                "\n".join(lines),
                QMessageBox.StandardButton.Ok,
                shell.widget,
            )
            self.report_box.open()
