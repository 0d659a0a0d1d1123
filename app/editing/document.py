"""Document: one open graph with its undo stack, its latest validation report and its file.

Validation runs once per undoable step (the stack's indexChanged fires once per push, undo, redo
or merge, and once per macro), so every view that shows problems or shapes reads one report. The
graph lowered to a program (graphcore.program.lower) is kept the same way: made when first asked
for, dropped by any edit of the graph, so the lab's docks and the stepper share one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.editing.commands import SetMeta
from app.editing.signals import GraphSignals
from graphcore.graph import Graph
from graphcore.program import Program, lower
from graphcore.validate import Report, validate


class Document(QObject):
    validated = Signal(object)  # Report

    def __init__(
        self, graph: Graph | None = None, path: Path | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.graph = graph if graph is not None else Graph()
        self.path = path
        self.stack = QUndoStack(self)
        self.signals = GraphSignals(self.graph, self)
        self.report: Report = validate(self.graph)
        self._program: Program | None = None
        for edited in (
            self.signals.node_added,
            self.signals.node_removed,
            self.signals.node_changed,
            self.signals.edge_added,
            self.signals.edge_removed,
            self.signals.meta_changed,
            self.signals.training_changed,
        ):
            edited.connect(self._forget_program)
        self.stack.indexChanged.connect(self.revalidate)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def push(self, command: QUndoCommand) -> None:
        self.stack.push(command)

    def set_meta(self, key: str, value: Any, text: str) -> None:
        """An undoable change of Graph.meta[key] (None removes the key)."""
        self.push(SetMeta(self.graph, key, value, text))

    @property
    def program(self) -> Program:
        """The graph as a program, lowered once per change; the graph must validate (report.ok)."""
        if self._program is None:
            self._program = lower(self.graph)
        return self._program

    def _forget_program(self, *_: object) -> None:
        self._program = None

    def revalidate(self) -> None:
        self._program = None  # also after an undo step whose commands emitted no graph event
        self.report = validate(self.graph)
        self.validated.emit(self.report)

    def close(self) -> None:
        """Stop following the graph; the document's views are about to go."""
        self.signals.detach()
        self.stack.clear()
