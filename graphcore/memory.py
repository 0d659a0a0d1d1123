"""Memory budget: how many bytes a graph needs for one batch, checked before anything is allocated."""

from __future__ import annotations


class MemoryBudgetError(ValueError):
    """A graph needs more memory than the budget; the message is one line naming the node."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(message)
        self.node = node
