"""The diagnostics list: every problem validation found, refreshed after each edit.

Clicking a problem asks the window to select and frame its node, so a red mark on a big canvas is
one click away.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from graphcore.validate import Report

NODE_ROLE = Qt.ItemDataRole.UserRole


class DiagnosticsPanel(QWidget):
    node_chosen = Signal(str)  # node id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
            item = QListWidgetItem(f"⚠ {diagnostic}")
            item.setData(NODE_ROLE, diagnostic.node)
            item.setToolTip(str(diagnostic))
            self.list.addItem(item)
        count = len(report.diagnostics)
        self.summary.setText(
            "✓ No problems: the graph is valid"
            if not count
            else f"{count} problem{'s' if count > 1 else ''} (click one to show its node)"
        )

    def messages(self) -> list[str]:
        return [self.list.item(i).toolTip() for i in range(self.list.count())]

    def _on_chosen(self, item: QListWidgetItem) -> None:
        self.node_chosen.emit(item.data(NODE_ROLE))
