"""SetTraining: an undoable edit of one key of the graph's `training` section.

The command replaces the section through `Graph.set_training`, so the graph's `training_changed`
event fires on redo and undo alike (a running training takes new hyperparameters from it).
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.editing.commands import set_text
from graphcore.graph import Graph


class SetTraining(QUndoCommand):
    """Set (or, with None, remove) `training[key]`; consecutive edits of one key merge into one step."""

    MERGE_ID = 1101

    def __init__(self, graph: Graph, key: str, value: Any) -> None:
        super().__init__()
        self.graph, self.key = graph, key
        self.old, self.new = copy.deepcopy(graph.training.get(key)), copy.deepcopy(value)
        self.order = list(graph.training)
        self._describe()

    def _describe(self) -> None:
        """Say what was set to what ("Set training.optimizer.lr to 0.02"), or what was removed."""
        path = f"training.{self.key}"
        self.setText(f"Reset {path}" if self.new is None else set_text(path, self.old, self.new))

    def id(self) -> int:
        return self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetTraining) or other.key != self.key:
            return False
        if _changed(self.old, self.new) != _changed(other.old, other.new):
            return False  # lr typed twice is one step; lr then the optimizer's name are two
        self.new = other.new
        self._describe()
        self.setObsolete(self.new == self.old)
        return True

    def _set(self, value: Any) -> None:
        section = dict(self.graph.training)
        if value is None:
            section.pop(self.key, None)
        else:
            section[self.key] = value
        rank = {key: index for index, key in enumerate(self.order)}
        # a re-added key goes back where it was in the file
        self.graph.set_training(dict(sorted(section.items(), key=lambda item: rank.get(item[0], len(rank)))))

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


def _changed(old: Any, new: Any) -> set[str] | None:
    """Which entries of an object value an edit changed (None for a plain value); of a list of
    objects (the objectives) which entry of which one, so that one objective's rate typed twice is
    one step, and another objective's rate is a step of its own."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k for k in {**old, **new} if old.get(k) != new.get(k)}
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return {
            f"{index}.{key}"
            for index, (a, b) in enumerate(zip(old, new, strict=True))
            for key in (_changed(a, b) or ({"value"} if a != b else set()))
        }
    return None
