"""LabPanel: what the lab's docks share: the runner that computes for them, the document they
follow, and its program while the graph is valid."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.editing.document import Document
from app.lab.names import Names
from app.lab.runner import Runner
from app.panels.lazy import RefreshWhenSeen
from graphcore.program import Program


class LabPanel(RefreshWhenSeen, QWidget):
    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.document: Document | None = None
        self.names: Names | None = None  # the user's names for the program's values
        self._job: int | None = None  # the runner's job under way

    def valid_program(self) -> Program | None:
        """The document's program (lowered once per edit), or None while its graph has problems."""
        document = self.document
        return document.program if document is not None and document.report.ok else None
