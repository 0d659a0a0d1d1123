"""SetTraining: an undoable edit of one key of the graph's `training` section.

`Graph.training` is plain data without events, so, as for SetMeta, the command calls `changed`
with the key after each change; views that show the section also refresh on the stack's
indexChanged, which covers undo and redo of every command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from graphcore.graph import Graph


class SetTraining(QUndoCommand):
    """Set (or, with None, remove) `training[key]`; consecutive edits of one key merge into one step."""

    MERGE_ID = 1101

    def __init__(
        self, graph: Graph, key: str, value: Any, changed: Callable[[str], Any] | None = None
    ) -> None:
        super().__init__(f"Set training.{key}")
        self.graph, self.key, self.changed = graph, key, changed
        self.old, self.new = copy.deepcopy(graph.training.get(key)), copy.deepcopy(value)
        self.order = list(graph.training)

    def id(self) -> int:
        return self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetTraining) or other.key != self.key:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        return True

    def _set(self, value: Any) -> None:
        section = self.graph.training
        if value is None:
            section.pop(self.key, None)
        else:
            section[self.key] = copy.deepcopy(value)
        rank = {key: index for index, key in enumerate(self.order)}
        ordered = sorted(section.items(), key=lambda item: rank.get(item[0], len(rank)))
        section.clear()
        section.update(ordered)  # a re-added key goes back where it was in the file
        if self.changed is not None:
            self.changed(self.key)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)
