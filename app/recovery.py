"""Autosave and crash recovery: each open document keeps a recovery file in the app-data folder.

A file is written (atomically) at most a second after an edit, removed when the work is safe (saved,
or the document closed on purpose), and left behind by a crash, kill -9 or SIGTERM so that the next
start can offer it. The file's name carries the pid of the instance that owns it, so a file whose
owner still runs is never offered; taking a file over is a rename to the new owner's pid, which
only one of two instances starting at once can win.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from app.editing.document import Document
from graphcore.files.atomic_write import write_text_atomic
from graphcore.files.fileformat import graph_to_dict

FOLDER_ENV = "BACKPROP_RECOVERY_DIR"  # tests point this at a temporary folder
FORMAT = "backprop-studio-recovery"
DELAY_MS = 1000  # from the first unsaved edit to the write: at most ~1 s of work is lost (small graphs)
NAME = re.compile(r"^(\d+)-([0-9a-f]{12})\.json$")


def recovery_folder() -> Path:
    override = os.environ.get(FOLDER_ENV)
    if override:
        return Path(override)
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(data) / "recovery"


@dataclass(frozen=True)
class Recovered:
    """A recovery file left by an instance that is no longer running."""

    file: Path
    text: str  # the graph as file text, for fileformat.loads
    source: Path | None  # the file the document was saved as, if it had been
    saved_at: float  # seconds since the epoch

    @property
    def name(self) -> str:
        return self.source.name if self.source else "Untitled"

    def claim(self) -> Path | None:
        """Take the file over for this process (None: another instance took it first)."""
        token = NAME.match(self.file.name)
        mine = self.file.with_name(f"{os.getpid()}-{token.group(2) if token else secrets.token_hex(6)}.json")
        try:
            os.rename(self.file, mine)
        except OSError:
            return None
        return mine

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)


def find_recovered(folder: Path) -> list[Recovered]:
    """Recovery files whose owner is gone, oldest first; unreadable ones are skipped, not deleted.
    Temporary files a killed owner left mid-write are removed."""
    if not folder.is_dir():
        return []
    for temp in folder.glob(".*.json.*.tmp"):
        match = NAME.match(temp.name[1:].split(".json.", 1)[0] + ".json")
        if match and not _running(int(match.group(1))):
            temp.unlink(missing_ok=True)
    found = []
    for file in sorted(folder.glob("*.json")):
        match = NAME.match(file.name)
        if match is None or _running(int(match.group(1))):
            continue
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            source = data["source"]
            text = json.dumps(data["graph"], ensure_ascii=True)
            found.append(Recovered(file, text, Path(source) if source else None, float(data["saved_at"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda r: r.saved_at)


def ask_restore(parent: QWidget, recovered: Recovered) -> str:
    """'restore', 'open' (the saved file instead), 'discard' or 'later' (Escape: ask again next start)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovered.saved_at))
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Recover unsaved work",
        f"Backprop Studio ended without saving {recovered.name} (autosaved {when}).",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    role = QMessageBox.ButtonRole
    answers: dict[QAbstractButton, str] = {box.addButton("Restore", role.AcceptRole): "restore"}
    if recovered.source is not None and recovered.source.exists():
        answers[box.addButton("Open Saved File", role.AcceptRole)] = "open"
    answers[box.addButton("Discard", role.DestructiveRole)] = "discard"
    box.setEscapeButton(box.addButton("Later", role.RejectRole))
    box.exec()
    answer = answers.get(box.clickedButton(), "later")
    box.deleteLater()
    return answer


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process: not ours to judge
    return True


class Autosaver(QObject):
    """Writes one document's recovery file shortly after it changes; forgets it once the work is safe."""

    failed = Signal(str)  # a one-line reason, for the status bar

    def __init__(self, document: Document, folder: Path, file: Path | None = None) -> None:
        super().__init__(document)
        self.document = document
        self.file = file or folder / f"{os.getpid()}-{secrets.token_hex(6)}.json"
        self._complained = False
        self.timer = QTimer(self, singleShot=True, interval=DELAY_MS)
        self.timer.timeout.connect(self.flush)
        document.stack.indexChanged.connect(self.schedule)

    def schedule(self) -> None:
        """Not restarted by later edits: a steady stream of edits still gets written every second."""
        if not self.timer.isActive():
            self.timer.start()

    def flush(self) -> None:
        """Write the document now (or remove the file when nothing is unsaved)."""
        self.timer.stop()
        if self.document.stack.isClean():
            self.discard()
            return
        started = time.perf_counter()
        record = {
            "format": FORMAT,
            "pid": os.getpid(),
            "saved_at": time.time(),
            "source": str(self.document.path) if self.document.path else None,
            "graph": graph_to_dict(self.document.graph),
        }
        try:
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the user's work: theirs alone
            # compact, so json's C encoder writes it; ASCII escapes, so a lone surrogate is recovered too
            text = json.dumps(record, ensure_ascii=True, allow_nan=False)
            write_text_atomic(self.file, text, keep_backup=False)
        except (OSError, ValueError) as error:
            if not self._complained:  # once per document, not once a second
                self._complained = True
                self.failed.emit(f"Autosave failed: {error}")
            return
        self._complained = False
        # a graph so big that writing it takes a while is written less often: at most a fifth of the time
        self.timer.setInterval(max(DELAY_MS, int(5000 * (time.perf_counter() - started))))

    def discard(self) -> None:
        self.timer.stop()
        try:
            self.file.unlink(missing_ok=True)
        except OSError:
            pass  # no folder to hold it: nothing to remove

    def close(self, keep: bool) -> None:
        """The document goes: keep its unsaved work for the next start (a signal) or drop it (on purpose)."""
        self.document.stack.indexChanged.disconnect(self.schedule)
        if keep:
            self.flush()
        else:
            self.discard()
