"""The window's File commands: new, open, restore, save, the unsaved-changes question and the
recent files. MainWindow mixes this in; the questions to the user are small methods so tests can
answer them, and each file that cannot be opened or saved is refused with a sentence naming it.
"""

from __future__ import annotations

import traceback
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.editing.document import Document
from app.examples import example_files
from app.recovery import Autosaver, Recovered, ask_restore
from app.training.worker import TrainingProcessError
from graphcore.files.atomic_write import SaveError
from graphcore.files.fileformat import FileFormatError, load, loads, save
from graphcore.files.weights import SUFFIX, WeightsError, check_reference, reference_for, write

if TYPE_CHECKING:
    from app.canvas.view import CanvasView
    from app.run_tools import RunTools
    from app.shell import Shell

FILE_FILTER = "Backprop Studio graphs (*.json);;All files (*)"
WEIGHTS_FILTER = "Weights (*.safetensors)"
BUSY = ("starting", "running", "pausing", "stopping", "busy")  # a run that may be changing the weights
MAX_RECENT = 10


class FileCommands:
    """File ▸ New, Open, Open Recent, Save and Save As for a window with one document at a time."""

    if TYPE_CHECKING:  # what MainWindow provides
        document: Document | None
        settings: QSettings
        shell: Shell
        view: CanvasView
        autosaver: Autosaver | None
        run_tools: RunTools

        def _set_document(self, document: Document, recovery_file: Path | None = None) -> None: ...
        def _show_title(self) -> None: ...
        def show_message(self, text: str) -> None: ...
        def show_error(self, title: str, text: str, details: str = "") -> None: ...
        def frame_all(self) -> None: ...

    @property
    def dirty(self) -> bool:
        return self.document is not None and not self.document.stack.isClean()

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        self._set_document(Document())
        return True

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        path = self.ask_open_path()
        return self._open(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        """Open a graph file, first offering to save unsaved changes. False if nothing was opened."""
        return self.maybe_save() and self._open(Path(path))

    def _open(self, path: Path) -> bool:
        try:
            graph = load(path)
            self._set_document(Document(graph, path))
        except Exception as error:  # whatever a hostile file gets past the loader, the window says so
            self._refuse(path, error)
            self._forget_recent(path)
            return False
        self._remember_recent(path)
        self.show_message(f"Opened {path.name}: {len(graph)} nodes, {graph.edge_count} edges")
        return True

    def _refuse(self, path: Path, error: Exception) -> None:
        if isinstance(error, FileFormatError):
            self.show_error("Cannot open file", str(error))
            return
        self.show_error(
            "Cannot open file",
            f"{path}: cannot open this file ({type(error).__name__}: {error})",
            "".join(traceback.format_exception(error)),
        )

    def show_unsaved(self, document: Document) -> None:
        """A new document that was never saved (an imported module): closing it asks first."""
        self._set_document(document)
        document.stack.resetClean()
        self._show_title()
        self.frame_all()

    def restore(self, recovered: Recovered) -> bool:
        """Show a recovered document as unsaved work, under the name of the file it came from."""
        file = recovered.claim()
        if file is None:
            self.show_message(f"{recovered.name} is being restored by another Backprop Studio")
            return False
        try:
            document = Document(loads(recovered.text, str(file)), recovered.source)
            document.stack.resetClean()  # nothing to undo, but not saved either: the title shows *
            self._set_document(document, file)
        except Exception as error:  # a damaged recovery file: set it aside, never offer it again
            with suppress(OSError):
                file.replace(file.with_suffix(".unreadable"))
            self._refuse(file, error)
            return False
        self.show_message(f"Restored the unsaved changes to {recovered.name}")
        return True

    def save(self) -> bool:
        assert self.document is not None
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        if not path:
            return False
        if path.suffix == "":
            path = path.with_suffix(".json")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        """Save atomically (fileformat.save); on failure the document stays unsaved and says why."""
        assert self.document is not None
        graph = self.document.graph
        graph.meta["view"] = self.view.state()
        try:
            save(graph, path)
        except (OSError, ValueError) as error:  # SaveError names the path; an encoding error may not
            reason = getattr(error, "strerror", None) or error
            self.show_error(
                "Cannot save file", str(error) if isinstance(error, SaveError) else f"{path}: {reason}"
            )
            return False
        self.document.path = path
        self.document.stack.setClean()
        assert self.autosaver is not None
        self.autosaver.discard()
        self._remember_recent(path)
        self._show_title()
        self.show_message(f"Saved {path}")
        return True

    def save_weights(self) -> bool:
        """File ▸ Save Weights…: the weights training reached, in a safetensors file beside the graph
        file, which the graph then names and is saved with; reopening it and pressing Start resumes
        from them, and the stepper and inspector show them."""
        assert self.document is not None
        session = self.run_tools.session
        if session.info is None or session.state == "idle":
            self.show_message("Train first: there are no trained weights to save")
            return False
        if session.state in BUSY:
            self.show_message("Pause training before saving its weights")
            return False
        if self.document.path is None and not self.save_as():
            return False
        assert self.document.path is not None
        folder = self.document.path.parent
        path = self.ask_save_weights_path(folder / reference_for(self.document.path))
        if not path:
            return False
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        try:
            if path.resolve().parent != folder.resolve():
                raise WeightsError(f"{path}: weights are kept beside the graph file, in {folder}")
            graph = self.document.graph
            reference = check_reference(path.name, "Save Weights")
            places = graph.weights.places if graph.weights is not None else {}
            weights = session.worker.query("weights", (reference, places))
            if weights is None:
                self.show_message("Train first: there are no trained weights to save")
                return False
            write(folder, weights)
        except (OSError, ValueError, TrainingProcessError) as error:  # each names the file or cause
            self.show_error("Cannot save weights", str(error))
            return False
        graph.weights = weights
        return self._write(self.document.path)

    def ask_save_weights_path(self, suggested: Path) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self.shell.widget, "Save weights", str(suggested), WEIGHTS_FILTER
        )
        return Path(name) if name else None

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded, or nothing to lose)."""
        if not self.dirty:
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel' (tests replace this method)."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.shell.widget,
            "Unsaved changes",
            f"Save the changes to {self.document.name if self.document else 'the graph'}?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def ask_open_path(self) -> Path | None:
        name, _ = QFileDialog.getOpenFileName(
            self.shell.widget, "Open graph", str(self.shell.folder()), FILE_FILTER
        )
        return Path(name) if name else None

    def ask_save_path(self) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self.shell.widget, "Save graph", str(self.shell.folder()), FILE_FILTER
        )
        return Path(name) if name else None

    def ask_restore(self, recovered: Recovered) -> str:
        """'restore', 'open' (the saved file instead), 'discard' or 'later' (tests replace this method)."""
        return ask_restore(self.shell.widget, recovered)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list | tuple) else []

    def _remember_recent(self, path: Path) -> None:
        name = str(path.resolve())
        self.settings.setValue(
            "recent_files", [name, *[p for p in self.recent_files() if p != name]][:MAX_RECENT]
        )

    def _forget_recent(self, path: Path) -> None:
        name = str(path.resolve())
        self.settings.setValue("recent_files", [p for p in self.recent_files() if p != name])

    def example_files(self) -> list[Path]:
        return example_files()
