"""Autosave and recovery inside one process: the file follows edits, goes on save and close, stays on a
signal, and a dead session's file is offered (restore, open the saved file, discard, later)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.main import offer_recovery, on_signals
from app.recovery import FORMAT, Recovered, find_recovered
from app.window import MainWindow
from graphcore.files.fileformat import dumps, graph_from_dict, load


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def recovered_graph(folder: Path):
    (file,) = files(folder)
    return graph_from_dict(json.loads(file.read_text(encoding="utf-8"))["graph"])


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def left_behind(folder: Path, graph_text: str, source: Path | None, pid: int) -> Path:
    """A recovery file as a session with `pid` would have left it."""
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{pid}-0123456789ab.json"
    record = {"format": FORMAT, "pid": pid, "saved_at": 1.0e9, "source": source and str(source)}
    file.write_text(json.dumps({**record, "graph": json.loads(graph_text)}), encoding="utf-8")
    return file


def test_an_edit_is_autosaved_within_two_seconds_and_saving_removes_it(
    neuron: MainWindow, recovery_folder: Path, qtbot
):
    assert files(recovery_folder) == []  # opening a file is not unsaved work
    neuron.controller.set_label("t", "edited")
    qtbot.waitUntil(lambda: len(files(recovery_folder)) == 1, timeout=2000)
    record = json.loads(files(recovery_folder)[0].read_text(encoding="utf-8"))
    assert record["pid"] == os.getpid() and record["source"] == str(neuron.document.path)
    assert graph_from_dict(record["graph"]).node("t").label == "edited"
    neuron.controller.add_node("relu", QPointF(0, 0))
    qtbot.waitUntil(lambda: len(recovered_graph(recovery_folder)) == len(neuron.document.graph), timeout=2000)
    neuron.document.stack.undo()  # back to the saved state: nothing to recover
    neuron.document.stack.undo()
    qtbot.waitUntil(lambda: files(recovery_folder) == [], timeout=2000)
    neuron.document.stack.redo()
    neuron.autosaver.flush()
    assert neuron.save()
    assert files(recovery_folder) == []


def test_a_deliberate_close_removes_the_file_and_cancel_keeps_it(neuron: MainWindow, recovery_folder: Path):
    neuron.controller.set_label("t", "edited")
    neuron.autosaver.flush()
    neuron.ask_save_changes = lambda: "cancel"
    assert not neuron.close()
    assert len(files(recovery_folder)) == 1
    neuron.ask_save_changes = lambda: "discard"
    assert neuron.close()
    assert files(recovery_folder) == []


def test_ending_for_a_signal_writes_the_file_without_asking(neuron: MainWindow, recovery_folder: Path):
    neuron.controller.set_label("t", "just now")  # not yet written: the timer has not fired
    neuron.ask_save_changes = lambda: pytest.fail("asked on SIGTERM")
    neuron.end_session()
    assert not neuron.isVisible()
    assert recovered_graph(recovery_folder).node("t").label == "just now"


def test_sigint_reaches_the_gui_thread_and_the_old_handler_comes_back(qtbot):
    """The Qt event loop never gives Python control by itself: the wake-up socket does."""
    received: list[int] = []
    before = signal.getsignal(signal.SIGINT)
    with on_signals([signal.SIGINT, signal.SIGTERM], received.append):
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: received == [signal.SIGINT], timeout=5000)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_running_sessions_file_is_not_offered(recovery_folder: Path, examples: Path):
    text = (examples / "xor.json").read_text(encoding="utf-8")
    left_behind(recovery_folder, text, None, os.getpid())
    left_behind(recovery_folder, text, None, os.getppid())
    assert find_recovered(recovery_folder) == []
    (recovery_folder / "notes.json").write_text("not ours")  # other names are left alone
    dead, alive = dead_pid(), os.getpid()
    (recovery_folder / f"{dead}-0123456789ab.json").write_text("{broken")
    for pid in (dead, alive):  # what write_text_atomic leaves when killed mid-write
        (recovery_folder / f".{pid}-0123456789ab.json.a1b2c3d4e5f6.tmp").write_text("{half")
    assert find_recovered(recovery_folder) == []
    assert sorted(p.name for p in recovery_folder.glob(".*.tmp")) == [
        f".{alive}-0123456789ab.json.a1b2c3d4e5f6.tmp"
    ]


def test_restore_shows_the_work_unsaved_under_its_file_name(
    window: MainWindow, recovery_folder: Path, examples: Path
):
    graph = load(examples / "sigmoid_neuron.json")
    graph.node("t").label = "lost work"
    source = examples / "sigmoid_neuron.json"
    left_behind(recovery_folder, dumps(graph), source, dead_pid())
    asked: list[Recovered] = []
    window.ask_restore = lambda recovered: asked.append(recovered) or "restore"
    assert offer_recovery(window, reuse=True) == [window]
    assert [r.source for r in asked] == [source]
    assert window.document.graph.node("t").label == "lost work"
    assert window.document.path == source and window.dirty
    assert window.windowTitle() == "sigmoid_neuron.json* — Backprop Studio"
    (file,) = files(recovery_folder)  # now this session's: not offered again while it runs
    assert file.name.startswith(f"{os.getpid()}-") and find_recovered(recovery_folder) == []
    assert window.save()
    assert files(recovery_folder) == [] and load(source).node("t").label == "lost work"


def test_two_documents_restore_into_two_windows(
    window: MainWindow, recovery_folder: Path, examples: Path, qtbot
):
    for name in ("xor.json", "path_sum.json"):
        left_behind(recovery_folder, (examples / name).read_text(encoding="utf-8"), None, dead_pid())
    window.ask_restore = lambda recovered: "restore"
    shown = offer_recovery(window, reuse=True)
    for other in shown[1:]:
        qtbot.addWidget(other)
        other.ask_save_changes = lambda: "discard"
    assert len(shown) == 2 and shown[0] is window
    assert sorted(len(w.document.graph) for w in shown) == sorted(
        len(load(examples / n)) for n in ("xor.json", "path_sum.json")
    )
    assert all(w.document.name == "Untitled" and w.dirty for w in shown)


def test_the_other_answers(window: MainWindow, recovery_folder: Path, examples: Path):
    source = examples / "path_sum.json"
    graph = load(source)
    graph.node(graph.nodes[0].id).label = "lost work"
    for answer in ("later", "discard", "open"):
        file = left_behind(recovery_folder, dumps(graph), source, dead_pid())
        window.ask_restore = lambda recovered, answer=answer: answer
        shown = offer_recovery(window, reuse=True)
        assert file.exists() is (answer == "later"), answer
        file.unlink(missing_ok=True)
        if answer == "open":
            assert shown == [window] and window.document.path == source and not window.dirty
        else:
            assert shown == [] and window.document.name == "Untitled"


def test_a_damaged_recovery_file_is_reported_and_set_aside(window: MainWindow, recovery_folder: Path):
    left_behind(recovery_folder, '{"format": "nope"}', None, dead_pid())
    window.ask_restore = lambda recovered: "restore"
    assert offer_recovery(window, reuse=True) == []
    assert "format" in window.statusBar().currentMessage() and window.error_box is not None
    assert files(recovery_folder) == [] and len(list(recovery_folder.glob("*.unreadable"))) == 1
    assert find_recovered(recovery_folder) == []


def test_a_failing_autosave_says_so_once(neuron: MainWindow, recovery_folder: Path):
    recovery_folder.write_text("a file where the folder should be")
    messages: list[str] = []
    neuron.statusBar().messageChanged.connect(lambda text: text and messages.append(text))
    neuron.controller.set_label("t", "one")
    neuron.autosaver.flush()
    neuron.controller.set_label("t", "two")
    neuron.autosaver.flush()
    failures = [m for m in messages if m.startswith("Autosave failed")]
    assert len(failures) == 1 and str(recovery_folder) in failures[0]


def test_the_restore_question_itself(window: MainWindow, examples: Path, qtbot):
    recovered = Recovered(Path("unused.json"), "{}", examples / "xor.json", 1.0e9)

    def press(key: str) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and "xor.json" in box.text()
        if key == "Escape":
            qtbot.keyClick(box, Qt.Key.Key_Escape)
            return
        (button,) = [b for b in box.buttons() if b.text() == key]
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    keys = {"Restore": "restore", "Open Saved File": "open", "Discard": "discard", "Escape": "later"}
    for key, answer in keys.items():
        QTimer.singleShot(0, lambda key=key: press(key))
        assert window.ask_restore(recovered) == answer
