"""Export and import from the window: File ▸ Export (Python, ONNX, PNG, SVG), File ▸ Import ▸ PyTorch
module, and the Code preview dock.

All the work is graphcore's (export_python, export_onnx, importer); this module asks for files,
writes what graphcore returns and says what went wrong, naming the file and the reason. An import
runs in a worker (app/module_import.py); the window stays live and the graph lands when it is done.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRectF, QRegularExpression, QSize, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QImage,
    QPainter,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.document import Document
from app.module_import import ModuleImporter
from app.panels.lazy import RefreshWhenSeen, on_screen
from graphcore.graph import Graph

if TYPE_CHECKING:
    from app.window import MainWindow

PREVIEW_DELAY_MS = 200
IMAGE_MARGIN = 20


def export_name(document: Document) -> str:
    """The model's name, as `graphcore export` picks it: meta.name, else the file's stem."""
    fallback = document.path.stem if document.path else "Model"
    return str(document.graph.meta.get("name", fallback))


def python_source(document: Document, train: bool = False) -> str:
    """export_python's source for the document (raises InvalidGraph or ExportError)."""
    from graphcore.exchange.export import export_python

    path = document.path
    return export_python(
        document.graph,
        name=export_name(document),
        source_name=path.name if path else "",
        script_name=f"{path.stem}.py" if path else "model.py",
        train=train,
        base_dir=path.parent if path else ".",
    ).source


# --- the code preview -----------------------------------------------------------------------------


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, strings, comments and numbers; enough to read generated code at a glance."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)

        def fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            f.setFontItalic(italic)
            return f

        words = "|".join(map(re.escape, keyword.kwlist))
        self.rules = [
            (QRegularExpression(rf"\b({words})\b"), fmt("#7c4dff", bold=True)),
            (QRegularExpression(r"\b[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\b"), fmt("#d9730d")),
            (QRegularExpression(r"\"[^\"\\]*(\\.[^\"\\]*)*\"|'[^'\\]*(\\.[^'\\]*)*'"), fmt("#2e8b57")),
            (QRegularExpression(r"#[^\n]*"), fmt("#888888", italic=True)),
        ]

    def highlightBlock(self, text: str) -> None:
        for pattern, style in self.rules:  # later rules win: a '#' inside a string is a string
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), style)


class CodePreview(RefreshWhenSeen, QWidget):
    """The graph as the Python file File ▸ Export ▸ Python would write, or the problems that stop it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: Document | None = None
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = PythonHighlighter(self.text.document())
        self.status = QLabel()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the code to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.text)
        self.timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.ensure_fresh)

    def bind(self, document: Document) -> None:
        self.unbind()
        self.document = document
        document.validated.connect(self.changed)
        self.stale = True
        self.changed()

    def unbind(self) -> None:
        if self.document is not None:
            self.document.validated.disconnect(self.changed)
        self.document = None
        self.timer.stop()

    def changed(self, *_: object) -> None:
        """After an edit: regenerate once edits pause, and only while someone can see it."""
        self.stale = True
        if on_screen(self):
            self.timer.start()

    def refresh_now(self) -> None:
        """Show the export of the graph as it is now, or the problems that stop it."""
        from graphcore.exchange.export import ExportError
        from graphcore.validate import InvalidGraph

        if self.document is None:
            return
        self.stale = False
        try:
            source = python_source(self.document)
        except InvalidGraph as error:
            self._show_problems([str(d) for d in error.diagnostics])
            return
        except (ExportError, ValueError) as error:  # anything else export refuses: say it, not crash
            self._show_problems([str(error) or type(error).__name__])
            return
        self.highlighter.setDocument(self.text.document())
        self.text.setPlainText(source)
        self.status.setText(f"{len(source.splitlines())} lines · File ▸ Export ▸ Python writes this")
        self.copy_button.setEnabled(True)

    def _show_problems(self, problems: list[str]) -> None:
        self.highlighter.setDocument(None)  # plain text: no colours for messages
        self.text.setPlainText("\n".join(f"⚠ {p}" for p in problems))
        count = len(problems)
        self.status.setText(f"No code: the graph has {count} problem{'s' if count != 1 else ''}")
        self.copy_button.setEnabled(False)

    def copy(self) -> None:
        QApplication.clipboard().setText(self.text.toPlainText())


# --- import dialog --------------------------------------------------------------------------------


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
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Class", self.class_name)
        form.addRow("Inputs", self.inputs)
        form.addRow("Arguments", self.kwargs)
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


# --- the window's side ----------------------------------------------------------------------------


class ExportTools:
    """File ▸ Export and File ▸ Import and the Code dock, for `window`."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.preview = CodePreview()
        self.with_training = False
        self.report_box: QMessageBox | None = None
        self.importer = ModuleImporter(window)
        self.importer.finished.connect(self._imported)
        window.installEventFilter(self.importer)  # closing the window waits for an import under way
        self.importing = ("", "")  # the file and class of the import under way

    # questions to the user: small methods so tests can answer them
    def ask_export_path(self, title: str, suffix: str, file_filter: str) -> Path | None:
        w = self.window
        document = w.document
        stem = document.path.stem if document and document.path else "graph"
        start = str(w._folder() / f"{stem}{suffix}")
        name, _ = QFileDialog.getSaveFileName(w, title, start, file_filter)
        if not name:
            return None
        path = Path(name)
        return path if path.suffix else path.with_suffix(suffix)

    def ask_import(self) -> tuple[str, str, str, str] | None:
        dialog = ImportDialog(self.window._folder(), self.window)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None

    # --- export ---

    def export_python(self, train: bool | None = None) -> bool:
        from graphcore.exchange.export import ExportError
        from graphcore.validate import InvalidGraph

        w = self.window
        assert w.document is not None
        train = self.with_training if train is None else train
        if train and not w.document.graph.training:
            w.show_error("Cannot export", "The graph has no training section: set one up in the Train dock.")
            return False
        path = self.ask_export_path("Export Python", ".py", "Python (*.py);;All files (*)")
        if path is None:
            return False
        try:
            source = python_source(w.document, train)
        except (InvalidGraph, ExportError) as error:
            return self._failed(path, "the graph cannot be exported", error)
        try:
            path.write_text(source, encoding="utf-8")
        except OSError as error:
            return self._failed(path, "cannot write", error)
        w.show_message(f"Exported {path}" + (" with its training loop" if train else ""))
        return True

    def export_onnx(self) -> bool:
        from graphcore.exchange.export import ExportError
        from graphcore.validate import InvalidGraph

        w = self.window
        assert w.document is not None
        path = self.ask_export_path("Export ONNX", ".onnx", "ONNX (*.onnx);;All files (*)")
        if path is None:
            return False
        try:
            from graphcore.exchange.export_onnx import export_onnx

            result = export_onnx(w.document.graph, path, name=export_name(w.document))
        except InvalidGraph as error:
            return self._failed(path, "the graph cannot be exported", error)
        except ExportError as error:  # OnnxUnavailable says what to install
            return self._failed(path, "cannot export", error)
        except OSError as error:
            return self._failed(path, "cannot write", error)
        except Exception as error:  # torch.onnx.export may refuse an op: say so, never crash
            return self._failed(path, "torch.onnx.export failed", error)
        w.show_message(f"Exported {path}: inputs {', '.join(result.inputs)}; {result.checked}")
        return True

    def export_image(self, kind: str) -> bool:
        """The whole graph as it looks on the canvas (canvas colour behind), 'png' or 'svg'."""
        w = self.window
        suffix = f".{kind}"
        path = self.ask_export_path(
            f"Export {kind.upper()}", suffix, f"{kind.upper()} image (*{suffix});;All files (*)"
        )
        if path is None:
            return False
        source = self.image_rect()
        size = QSize(round(source.width()), round(source.height()))
        selected = w.scene.selectedItems()
        for item in selected:  # no selection highlight in a picture
            item.setSelected(False)
        try:
            ok = (
                self._render_png(path, source, size)
                if kind == "png"
                else self._render_svg(path, source, size)
            )
        finally:
            for item in selected:
                item.setSelected(True)
        if not ok:
            return self._failed(path, "cannot write", "the image could not be saved there")
        w.show_message(f"Exported {path} ({size.width()}×{size.height()})")
        return True

    def image_rect(self) -> QRectF:
        """The part of the scene a picture shows: every node and frame, with a margin."""
        rect = self.window.scene.items_rect()
        if rect.isEmpty():
            rect = QRectF(0, 0, 100, 100)
        return rect.adjusted(-IMAGE_MARGIN, -IMAGE_MARGIN, IMAGE_MARGIN, IMAGE_MARGIN)

    def _paint(self, painter: QPainter, source: QRectF, size: QSize) -> None:
        target = QRectF(0, 0, size.width(), size.height())
        painter.fillRect(target, self.window.theme.color("canvas"))
        self.window.scene.render(painter, target, source)

    def _render_png(self, path: Path, source: QRectF, size: QSize) -> bool:
        image = QImage(size, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self._paint(painter, source, size)
        painter.end()
        return image.save(str(path), "PNG")

    def _render_svg(self, path: Path, source: QRectF, size: QSize) -> bool:
        from PySide6.QtSvg import QSvgGenerator

        try:  # QSvgGenerator reports no write error: check we can write first
            path.write_bytes(b"")
        except OSError:
            return False
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(size)
        generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
        generator.setTitle(self.window.document.name if self.window.document else "graph")
        generator.setDescription("Generated by Backprop Studio")
        painter = QPainter()
        if not painter.begin(generator):
            return False
        self._paint(painter, source, size)
        painter.end()
        return path.stat().st_size > 0

    def _failed(self, path: Path, what: str, error: object) -> bool:
        reason = str(error).strip() or type(error).__name__
        if isinstance(error, OSError):
            reason = error.strerror or reason
        self.window.show_error("Export failed", f"{path}: {what}:\n{reason}")
        return False

    # --- import ---

    def import_dialog(self) -> bool:
        w = self.window
        if not w.maybe_save():
            return False
        answer = self.ask_import()
        return self.import_module(*answer) if answer else False

    def import_module(self, path: str, class_name: str, inputs: str, kwargs: str = "") -> bool:
        """Start importing a module, to open as a new, unsaved document when the worker is done (the
        caller has already offered to save); False when another import is still under way."""
        w = self.window
        if not self.importer.start(path, class_name, inputs, kwargs):
            w.show_message("An import is under way: wait for it to finish")
            return False
        self.importing = (path, class_name)
        w.menu["import_torch"].setEnabled(False)
        where = Path(path).name or "(no file)"
        w.statusBar().showMessage(f"Importing {class_name or 'a module'} from {where}…")  # until it lands
        return True

    def _imported(self, result: Any, error: str) -> None:
        """The worker is done: open the graph, or say why there is none."""
        w = self.window
        (path, class_name), self.importing = self.importing, ("", "")
        w.menu["import_torch"].setEnabled(True)
        if w.document is None:  # the window closed meanwhile
            return
        if result is None:
            w.show_error("Cannot import module", f"{path or '(no file)'}: {error}")
            return
        if not w.maybe_save():  # the graph was edited during the import: offer to save again
            w.show_message(f"Import of {class_name} dropped: the current graph stays open")
            return
        graph: Graph = result.graph
        graph.meta.setdefault("name", class_name)
        w._set_document(Document(graph))
        w.document.stack.resetClean()  # never saved: closing asks first
        w._show_title()
        w.frame_all()
        lines = [
            f"Imported {class_name} from {Path(path).name}: {len(graph)} nodes, {len(graph.edges)} edges"
        ]
        if result.opaque:
            lines.append(f"{len(result.opaque)} call(s) without a node type became Opaque nodes (read-only):")
            lines += [f"  {node}: {target}" for node, target in result.opaque]
        lines += result.notes
        w.show_message(lines[0])
        if len(lines) > 1:
            self.report_box = QMessageBox(
                QMessageBox.Icon.Information,
                "Import report",
                "\n".join(lines),
                QMessageBox.StandardButton.Ok,
                w,
            )
            self.report_box.open()
