"""The main window. For now it lists the opened graph's program and diagnostics; the canvas follows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow, QPlainTextEdit

from graphcore.fileformat import FileFormatError, load
from graphcore.graph import Graph
from graphcore.program import lower
from graphcore.validate import validate


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.graph = Graph()
        self.path: Path | None = None
        self.text = QPlainTextEdit(readOnly=True)
        self.setCentralWidget(self.text)
        self.resize(1100, 700)
        self.setWindowTitle("Backprop Studio")

    def open_path(self, path: Path) -> bool:
        try:
            graph = load(path)
        except FileFormatError as error:
            self.statusBar().showMessage(str(error))
            return False
        self.graph, self.path = graph, path
        self.setWindowTitle(f"{path.name} — Backprop Studio")
        report = validate(graph)
        self.text.setPlainText(str(lower(graph)) if report.ok else "\n".join(map(str, report.diagnostics)))
        self.statusBar().showMessage(f"{len(graph)} nodes, {len(graph.edges)} edges")
        return True
