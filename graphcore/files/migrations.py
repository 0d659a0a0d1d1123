"""Explicit upgrades of older graph files, one function per format version, applied in order.

`MIGRATIONS[n]` turns a parsed file of version n into one of version n + 1, instead of teaching the
loader two formats; each has a test that loads a stored file of the old version. A migration returns
a new dict and never changes its argument, and takes the file as it comes (only limits are checked
before it runs): what it does not understand it leaves for the schema to refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def pow_base_is_a(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: pow became binary, `a ** b`, and its base port `x` is now `a`.

    A version-1 pow (`x ** exponent`) keeps its `exponent` param, which is the power whenever input
    b is unconnected: a square stays one node reading `exponent = 2` instead of growing a Constant
    node for its 2, and no gradient flows into an exponent that was never a tensor (∂/∂b = aᵇ·ln a
    is NaN for the negative bases a squared error has). So only the edges into `x` change.
    """
    nodes = data.get("nodes")
    powers = {
        n["id"]
        for n in (nodes if isinstance(nodes, list) else ())
        if isinstance(n, dict) and n.get("type") == "pow" and isinstance(n.get("id"), str)
    }
    edges = data.get("edges")
    if not powers or not isinstance(edges, list):
        return dict(data)

    def moved(edge: Any) -> Any:
        target = edge.get("to") if isinstance(edge, dict) else None
        if isinstance(target, str) and target.endswith(".x") and target[:-2] in powers:
            return {**edge, "to": f"{target[:-2]}.a"}
        return edge

    return {**data, "edges": [moved(e) for e in edges]}


def blocks_arrived(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 → 3: files may hold block definitions (`blocks`); a version-2 file has none, and
    nothing else changed, so it reads as it is."""
    return dict(data)


MIGRATIONS: dict[int, Migration] = {1: pow_base_is_a, 2: blocks_arrived}


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
