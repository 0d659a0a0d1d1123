"""Counts in words, for every text a user reads (the CLI's lines, the app's status bar)."""

from __future__ import annotations


def plural(count: int, word: str, many: str = "") -> str:
    """ "1 pass", "2 passes", "0 nodes": the count with the word it agrees with."""
    return f"{count} {word if count == 1 else many or word + 's'}"
