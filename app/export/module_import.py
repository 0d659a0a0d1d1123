"""File ▸ Import ▸ PyTorch module, off the GUI thread.

Importing runs the user's file, builds their module and traces it with torch.fx: their code may take
as long as it likes or raise anything, so ModuleImporter does it in a one-thread pool and answers on
the GUI thread through a queued signal. The graph it hands back is plain graphcore data, made into a
document by the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QRunnable, QThreadPool, Signal, SignalInstance

if TYPE_CHECKING:
    from graphcore.exchange.importer import ImportResult


def import_torch(
    path: str, class_name: str, inputs_text: str, kwargs_text: str = "", flat: bool = False
) -> ImportResult:
    """Run graphcore's importer as `graphcore import-torch` does (`flat`: as with --flat); raises
    ImportTorchError with one line."""
    from graphcore.exchange.importer import ImportTorchError, import_from_file

    if not path or not class_name:
        raise ImportTorchError("give the module's file and its class name")
    _, result = import_from_file(
        f"{path}:{class_name}",
        inputs_text.split(),
        kwargs_text or "{}",
        labels=("inputs", "arguments"),
        no_inputs="give the forward arguments' shapes, e.g. x=[N,3]",
        flat=flat,
    )
    return result


class _ImportJob(QRunnable):
    def __init__(self, done: SignalInstance, request: tuple[str, str, str, str, bool]) -> None:
        super().__init__()
        self.done, self.request = done, request

    def run(self) -> None:
        from graphcore.exchange.importer import ImportTorchError

        try:
            result = import_torch(*self.request)
        except ImportTorchError as error:
            self.done.emit(None, str(error))
        except BaseException as error:  # the user's forward may raise anything, SystemExit included
            lines = str(error).strip().splitlines()
            self.done.emit(None, f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__)
        else:
            self.done.emit(result, "")


class ModuleImporter(QObject):
    """One import at a time in a worker thread; `finished` answers on the GUI thread."""

    finished = Signal(object, str)  # the ImportResult, or None and why the module could not be imported
    _done = Signal(object, str)  # emitted in the worker, queued to this object's (the GUI) thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.busy = False
        self._done.connect(self._finish)

    def start(
        self, path: str, class_name: str, inputs_text: str, kwargs_text: str = "", flat: bool = False
    ) -> bool:
        """Begin importing `path:class_name` (`flat`: without blocks); False while another import is
        under way."""
        if self.busy:
            return False
        self.busy = True
        self.pool.start(_ImportJob(self._done, (path, class_name, inputs_text, kwargs_text, flat)))
        return True

    def _finish(self, result: Any, error: str) -> None:
        self.busy = False
        self.finished.emit(result, error)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self.pool.waitForDone()  # Python cannot interrupt the user's code: closing waits for it
        return False
