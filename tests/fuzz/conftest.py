"""Fixtures for the fuzz tests: the app tests' own (a real MainWindow offscreen, settings in tmp_path,
garbage collected on the GUI thread), and their mouse gestures, so the fuzz drives the same code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
APP_TESTS = HERE.parent / "app"
for folder in (HERE, APP_TESTS):  # canvas_gestures (shared with the app tests) and the fuzz helpers
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

_spec = importlib.util.spec_from_file_location("app_test_fixtures", APP_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_app)

collect_garbage_on_the_gui_thread = _app.collect_garbage_on_the_gui_thread
examples, settings, window = _app.examples, _app.settings, _app.window
recovery_folder = _app.recovery_folder  # autouse: autosave never writes into the real home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.qt_log_ignore(_app.OFFSCREEN_NOTICE))
