"""The Train panel's list of a section's objectives: each one's name, optimizer and schedule as text,
and its learning rate as a field that commits as the panel's own rate does (Enter, focus-out, an
arrow; never per keystroke). The list only shows the section; the panel turns an edit into a
SetTraining command, so undo and a running trainer see it as any other edit.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from graphcore.training.config import OPTIMIZERS


def describe(objective: dict[str, Any]) -> str:
    """An objective's optimizer, schedule and pace in a line: "adam, cosine, every 2 steps"."""
    optimizer = objective.get("optimizer", {})
    name = optimizer.get("name", "sgd") if isinstance(optimizer, dict) else "?"
    schedule = objective.get("schedule", {})
    parts = [str(name), str(schedule.get("name", "constant")) if isinstance(schedule, dict) else "?"]
    every = objective.get("every", 1)
    parts.append("every step" if every == 1 else f"every {every} steps")
    return ", ".join(parts)


def rate(objective: dict[str, Any]) -> float:
    """The objective's learning rate, or its optimizer's default."""
    optimizer = objective.get("optimizer", {})
    if not isinstance(optimizer, dict):
        return 0.0
    default = OPTIMIZERS.get(optimizer.get("name", "sgd"), OPTIMIZERS["sgd"])[1]["lr"]
    value = optimizer.get("lr", default)
    return float(value) if isinstance(value, int | float) else 0.0


class ObjectivesView(QWidget):
    lr_edited = Signal(int, float)  # objective index, the rate typed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.names: list[str] = []
        self.rates: list[QDoubleSpinBox] = []
        self.descriptions: list[QLabel] = []

    def show_objectives(self, objectives: list[Any]) -> None:
        """Show these objectives; rows are rebuilt only when the names change, so a field being
        typed into is never replaced under the cursor."""
        rows = [o if isinstance(o, dict) else {} for o in objectives]  # row i is objectives[i]
        names = [str(o.get("name", "?")) for o in rows]
        if names != self.names:
            self._build(names)
        for row, box, label in zip(rows, self.rates, self.descriptions, strict=True):
            label.setText(describe(row))
            blocked = box.blockSignals(True)
            box.setValue(rate(row))
            box.blockSignals(blocked)

    def _build(self, names: list[str]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.names, self.rates, self.descriptions = names, [], []
        for index, name in enumerate(names):
            title, label = QLabel(name), QLabel()
            for text in (title, label):  # a name is the file's text, never markup
                text.setTextFormat(Qt.TextFormat.PlainText)
            font = title.font()
            font.setBold(True)
            title.setFont(font)
            box = QDoubleSpinBox()
            box.setRange(1e-5, 10.0)
            box.setDecimals(5)
            box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            box.setKeyboardTracking(False)
            box.setToolTip(f"Learning rate of objective {name!r}")
            box.valueChanged.connect(lambda value, i=index: self.lr_edited.emit(i, value))
            self.form.addRow(title, label)
            self.form.addRow("  Learning rate", box)
            self.rates.append(box)
            self.descriptions.append(label)
