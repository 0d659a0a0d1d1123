"""Shared test settings: Qt runs offscreen, set before anything imports Qt."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402  (after the platform is set)

from graphcore.registry import load_library  # noqa: E402

# The entry point of the tests, like the CLI's main and the app: graphcore never loads the library itself.
load_library()


def pytest_configure(config: pytest.Config) -> None:
    """Markers, registered here because the tests own them (pyproject.toml holds the tool settings)."""
    config.addinivalue_line(
        "markers",
        "slow: a test whose time is in what it checks (a real app process started and killed, a long "
        "run) and cannot be made fast; run by default and in CI, left out with -m 'not slow'",
    )


# Fuzz figures (tests/fuzz/counts.py) shown in the summary. These hooks live here, not in
# tests/fuzz/conftest.py: under xdist only this top conftest is loaded by the controller.
SUMMARY: list[str] = []  # on the controller: every fuzz test's figures, from this process or a worker's


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Attach the figures a fuzz test reported to its report, so they reach the controller under xdist."""
    from tests.fuzz.counts import COUNTS

    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        report.user_properties.extend(("fuzz", line) for line in COUNTS)
        COUNTS.clear()
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    SUMMARY.extend(value for name, value in report.user_properties if name == "fuzz")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("fuzz counts")
        for line in SUMMARY:
            terminalreporter.write_line(line)
