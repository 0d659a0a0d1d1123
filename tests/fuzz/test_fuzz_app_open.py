"""Hostile files through the window's real File ▸ Open: each one either opens, or is refused with a
message (status bar and a box) while the document shown before stays exactly as it was. No exception
escapes and closed message boxes do not pile up. Cases are seeded: a failure names its index."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox
from pytestqt.exceptions import capture_exceptions

from app.window import MainWindow
from tests.fuzz.counts import report
from tests.fuzz.mutations import mutated_texts

CASES, SEED = 300, 12


def shown(window: MainWindow) -> tuple[str, int, int, int]:
    """What a user sees of the document: title, node and edge count, items on the canvas."""
    graph = window.document.graph
    return window.windowTitle(), len(graph), len(graph.edges), len(window.scene.items())


def test_hostile_files_through_file_open(window: MainWindow, tmp_path: Path):
    opened = refused = 0
    target = tmp_path / "hostile.json"
    window.ask_open_path = lambda: target
    for index, (what, text) in enumerate(mutated_texts(SEED, CASES)):
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = shown(window)
        window.statusBar().clearMessage()
        with capture_exceptions() as raised:
            window.menu["open"].trigger()
        case = f"case {index} ({what[:120]})"
        assert not raised, f"{case}: {raised[0][1]!r}"
        box = window.error_box
        if box is None:
            assert window.document.path == target, case
            opened += 1
            continue
        refused += 1
        message = window.statusBar().currentMessage()
        assert message and box.isVisible() and box.text() == message, case
        assert len(message) <= 300 and "\n" not in message, case
        assert shown(window) == before, case
        QTest.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert window.error_box is None, case
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert window.findChildren(QMessageBox) == [], case
    report(f"app open fuzz: {CASES} files, {opened} opened, {refused} refused with a message")
    assert opened + refused == CASES and refused > CASES // 2
