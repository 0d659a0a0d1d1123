"""The diagnostics list: every problem validation found, refreshed after each edit.

Each problem names where it is as the user reads it: a node by its label, one inside a block by its
path ("Residual ▸ fc.x: input is not connected"). Clicking a problem asks the window to select and
frame its node (opening the block it is in), so a red mark on a big canvas is one click away.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.stepper.blocks import where
from graphcore.graph import Graph
from graphcore.validate import Diagnostic, Report

NODE_ROLE = Qt.ItemDataRole.UserRole


class DiagnosticsPanel(QWidget):
    node_chosen = Signal(str)  # node id, flat ("res1/fc") for a node inside a block

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # the file's graph, whose labels and blocks name the nodes (the block navigator sets it)
        self.graph: Graph | None = None
        self.summary = QLabel()
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list)
        self.list.itemClicked.connect(self._on_chosen)
        self.list.itemActivated.connect(self._on_chosen)

    def show_report(self, report: Report) -> None:
        self.list.clear()
        for diagnostic in report.diagnostics:
            item = QListWidgetItem(f"⚠ {self.describe(diagnostic)}")
            item.setData(NODE_ROLE, diagnostic.node)
            item.setToolTip(str(diagnostic))
            self.list.addItem(item)
        count = len(report.diagnostics)
        self.summary.setText(
            "✓ No problems: the graph is valid"
            if not count
            else f"{count} problem{'s' if count > 1 else ''} (click one to show its node)"
        )

    def describe(self, diagnostic: Diagnostic) -> str:
        """The problem as listed: "Residual ▸ fc.x: message" (ids where the file's graph is unknown)."""
        if self.graph is None:
            return str(diagnostic)
        return f"{where(diagnostic.node, self.graph, diagnostic.port)}: {diagnostic.message}"

    def messages(self) -> list[str]:
        """Each problem as validation wrote it ("res1/fc.x: message"), in the list's order."""
        return [self.list.item(i).toolTip() for i in range(self.list.count())]

    def _on_chosen(self, item: QListWidgetItem) -> None:
        self.node_chosen.emit(item.data(NODE_ROLE))
