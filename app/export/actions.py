"""File ▸ Export (Python, ONNX, PNG, SVG): ask for a file, write what graphcore returns (export_python,
export_onnx) or the canvas picture (app/export/image.py), and say what went wrong, naming the file
and the reason. Also owns the Code dock's preview, which shows what Export ▸ Python would write."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QFileDialog

from app.export.code_preview import CodePreview
from app.export.image import image_rect, write_image
from app.export.source import export_name, python_source

if TYPE_CHECKING:
    from app.editing.document import Document
    from app.shell import Shell


class ExportTools:
    """File ▸ Export and the Code dock, for `shell`'s document."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.preview = CodePreview()
        self.with_training = False
        shell.follow_document(self._follow)

    def _follow(self, document: Document | None) -> None:
        if document is None:
            self.preview.unbind()
        else:
            self.preview.bind(document)

    # questions to the user: small methods so tests can answer them
    def ask_export_path(self, title: str, suffix: str, file_filter: str) -> Path | None:
        document = self.shell.document
        stem = document.path.stem if document and document.path else "graph"
        start = str(self.shell.folder() / f"{stem}{suffix}")
        name, _ = QFileDialog.getSaveFileName(self.shell.widget, title, start, file_filter)
        if not name:
            return None
        path = Path(name)
        return path if path.suffix else path.with_suffix(suffix)

    def export_python(self, train: bool | None = None) -> bool:
        from graphcore.exchange.export import ExportError
        from graphcore.validate import InvalidGraph

        shell, document = self.shell, self.shell.document
        assert document is not None
        train = self.with_training if train is None else train
        if train and not document.graph.training:
            shell.show_error(
                "Cannot export", "The graph has no training section: set one up in the Train dock."
            )
            return False
        path = self.ask_export_path("Export Python", ".py", "Python (*.py);;All files (*)")
        if path is None:
            return False
        try:
            source = python_source(document, train)
        except (InvalidGraph, ExportError) as error:
            return self._failed(path, "the graph cannot be exported", error)
        try:
            path.write_text(source, encoding="utf-8")
        except OSError as error:
            return self._failed(path, "cannot write", error)
        shell.show_message(f"Exported {path}" + (" with its training loop" if train else ""))
        return True

    def export_onnx(self) -> bool:
        from graphcore.exchange.export import ExportError
        from graphcore.validate import InvalidGraph

        document = self.shell.document
        assert document is not None
        path = self.ask_export_path("Export ONNX", ".onnx", "ONNX (*.onnx);;All files (*)")
        if path is None:
            return False
        try:
            from graphcore.exchange.export_onnx import export_onnx

            result = export_onnx(document.graph, path, name=export_name(document))
        except InvalidGraph as error:
            return self._failed(path, "the graph cannot be exported", error)
        except ExportError as error:  # OnnxUnavailable says what to install
            return self._failed(path, "cannot export", error)
        except OSError as error:
            return self._failed(path, "cannot write", error)
        except Exception as error:  # torch.onnx.export may refuse an op: say so, never crash
            return self._failed(path, "torch.onnx.export failed", error)
        self.shell.show_message(f"Exported {path}: inputs {', '.join(result.inputs)}; {result.checked}")
        return True

    def export_image(self, kind: str) -> bool:
        """The whole graph as it looks on the canvas (canvas colour behind), 'png' or 'svg'."""
        shell = self.shell
        suffix = f".{kind}"
        path = self.ask_export_path(
            f"Export {kind.upper()}", suffix, f"{kind.upper()} image (*{suffix});;All files (*)"
        )
        if path is None:
            return False
        assert shell.scene is not None
        title = shell.document.name if shell.document else "graph"
        size = write_image(shell.scene, shell.theme, path, kind, title)
        if size is None:
            return self._failed(path, "cannot write", "the image could not be saved there")
        shell.show_message(f"Exported {path} ({size.width()}×{size.height()})")
        return True

    def image_rect(self) -> QRectF:
        """The part of the scene a picture shows: every node and frame, with a margin."""
        assert self.shell.scene is not None
        return image_rect(self.shell.scene)

    def _failed(self, path: Path, what: str, error: object) -> bool:
        reason = str(error).strip() or type(error).__name__
        if isinstance(error, OSError):
            reason = error.strerror or reason
        self.shell.show_error("Export failed", f"{path}: {what}:\n{reason}")
        return False
