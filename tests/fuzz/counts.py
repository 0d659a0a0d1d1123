"""How many cases each fuzz test ran, shown in pytest's summary at the end of every run (CI included)."""

from __future__ import annotations

COUNTS: list[str] = []


def report(line: str) -> None:
    """Record one fuzz test's figures (and print them, for `pytest -s`)."""
    COUNTS.append(line.strip())
    print(line)
