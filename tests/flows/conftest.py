"""Flow tests drive the real main window as a user does; they share tests/app's fixtures (a
MainWindow offscreen, settings and example files in tmp_path), imported so that fixtures added
there reach these tests too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import *  # noqa: F403  (the fixtures)
from tests.app.conftest import OFFSCREEN_NOTICE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOTICE))
