"""Fixtures for the app's GUI tests: a real MainWindow offscreen, with settings and files in tmp_path.

Gestures (canvas_gestures.py) are sent as real mouse events to the canvas viewport, so the tests
go through the same item, scene, view and controller code as a user's hand.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QSettings

from app.main import EXAMPLES
from app.window import MainWindow
from graphcore.registry import load_library

load_library()

# The offscreen platform plugin cannot pass window size hints on and says so once per top-level
# window; that is the test platform talking, not the app.
OFFSCREEN_NOTICE = "This plugin does not support propagateSizeHints"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOTICE))


@pytest.fixture(autouse=True)
def collect_garbage_on_the_gui_thread(qapp):
    """As app.main does: a collection in the training or lab thread that frees a closed window's Qt
    objects deadlocks with the GUI thread (seen in CI). Between tests, collect here and re-enable."""
    collector = GarbageCollector(interval=1.0)
    yield
    collector.timer.stop()
    gc.collect()
    gc.enable()


@pytest.fixture(autouse=True)
def recovery_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Autosave writes here, never into the real home's app-data folder."""
    folder = tmp_path / "recovery"
    monkeypatch.setenv("BACKPROP_RECOVERY_DIR", str(folder))
    return folder


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A writable copy of examples/, so saving never touches the repository's files."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings: QSettings) -> MainWindow:
    win = MainWindow(settings)
    win.ask_save_changes = lambda: "discard"  # never block on a dialog at teardown
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def neuron(window: MainWindow, examples: Path) -> MainWindow:
    """The window with the sigmoid-neuron example open."""
    assert window.open_path(examples / "sigmoid_neuron.json")
    return window
