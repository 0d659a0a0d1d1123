"""Explicit upgrades of older graph files, one function per format version, applied in order.

`MIGRATIONS[n]` turns a parsed file of version n into one of version n + 1. Version 1 is the first
released format, so the table is empty today; the next format change adds `MIGRATIONS[1]` (with a
test that loads a stored v1 file) instead of teaching the loader two formats. A migration returns a
new dict and never changes its argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[int, Migration] = {}


class MigrationError(ValueError):
    """A file too old to upgrade, or one a migration refuses; the message is one line."""


def upgrade(data: dict[str, Any], version: int, target: int) -> dict[str, Any]:
    """`data` (a file of `version`) upgraded step by step to `target`; each step sets the new version."""
    for step in range(version, target):
        migration = MIGRATIONS.get(step)
        if migration is None:
            raise MigrationError(
                f"version: files of version {version} cannot be upgraded (no migration from version {step})"
            )
        data = {**migration(data), "version": step + 1}
    return data
