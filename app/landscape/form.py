"""The landscape dock's controls: the plane, the grid, and each optimizer with its own rates.

Every field is typed text, read when Compute is pressed: a bad entry becomes one LandscapeError
naming the field, which the dock shows in its status line (graphcore.landscape checks the rest).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from graphcore.landscape.grid import MAX_RESOLUTION
from graphcore.landscape.landscape import Request
from graphcore.landscape.loss import LandscapeError
from graphcore.landscape.paths import DEFAULT_LR, MAX_STEPS, OptimizerSpec, hyperparameter_value, make_spec

# name -> (title, the one more hyperparameter shown, its default as typed)
OPTIMIZER_ROWS: dict[str, tuple[str, str, str]] = {
    "sgd": ("SGD", "", ""),
    "momentum": ("Momentum", "momentum", "0.9"),
    "nesterov": ("Nesterov", "momentum", "0.9"),
    "adagrad": ("AdaGrad", "", ""),
    "rmsprop": ("RMSProp", "alpha", "0.99"),
    "adam": ("Adam", "betas", "0.9/0.999"),
}
CHECKED = ("sgd", "momentum", "adam")
MAX_SPAN = 1e6
RANDOM = "Random directions"


def number(edit: QLineEdit, field: str, low: float, high: float) -> float:
    text = edit.text().strip()
    try:
        value = float(text)
    except ValueError:
        raise LandscapeError(f"{field}: expected a number, got {text[:40]!r}") from None
    if not (math.isfinite(value) and low < value <= high):
        raise LandscapeError(f"{field}: expected a number in ({low:g}, {high:g}], got {text[:40]}")
    return value


def whole(edit: QLineEdit, field: str, low: int, high: int) -> int:
    text = edit.text().strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise LandscapeError(f"{field}: expected a whole number from {low} to {high}, got {text[:40]!r}")
    return int(text)


class OptimizerRow:
    """One optimizer's check box, learning-rate field and (for some) one more hyperparameter."""

    def __init__(self, name: str, grid: QGridLayout, row: int) -> None:
        self.name = name
        title, self.key, default = OPTIMIZER_ROWS[name]
        self.check = QCheckBox(title)
        self.check.setChecked(name in CHECKED)
        self.lr = QLineEdit(f"{DEFAULT_LR[name]:g}")
        self.lr.setObjectName(f"lr_{name}")
        self.extra = QLineEdit(default) if self.key else None
        grid.addWidget(self.check, row, 0)
        grid.addWidget(self.lr, row, 1)
        if self.extra is not None:
            self.extra.setObjectName(f"{self.key}_{name}")
            grid.addWidget(QLabel(self.key), row, 2)
            grid.addWidget(self.extra, row, 3)

    def spec(self) -> OptimizerSpec:
        title = self.check.text()
        hyperparameters: dict[str, object] = {"lr": number(self.lr, f"{title} learning rate", 0, MAX_SPAN)}
        if self.extra is not None:
            hyperparameters[self.key] = hyperparameter_value(self.name, self.key, self.extra.text().strip())
        return make_spec(self.name, hyperparameters, title)


class LandscapeForm(QWidget):
    """The plane, grid and optimizer fields; `request()` reads them all into a Request."""

    def __init__(self, on_plane_changed: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.plane = QComboBox()
        self.first, self.second = QComboBox(), QComboBox()
        self.seed = QLineEdit("0")
        self.span, self.resolution, self.steps = QLineEdit("1"), QLineEdit("41"), QLineEdit("100")
        for edit, name in ((self.span, "span"), (self.resolution, "resolution"), (self.steps, "steps")):
            edit.setObjectName(name)
        form = QFormLayout()
        form.addRow("Plane", self.plane)
        form.addRow("x axis", self.first)
        form.addRow("y axis", self.second)
        form.addRow("Seed", self.seed)
        form.addRow("Span ±", self.span)
        form.addRow("Resolution", self.resolution)
        form.addRow("Steps", self.steps)
        box = QGroupBox("Optimizers (learning rate, one more hyperparameter)")
        grid = QGridLayout(box)
        self.rows = [OptimizerRow(name, grid, row) for row, name in enumerate(OPTIMIZER_ROWS)]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(box)
        self.random_chosen = False  # the user picked random directions (kept while the graph changes)
        self.plane.activated.connect(
            lambda _: setattr(self, "random_chosen", self.plane.currentText() == RANDOM)
        )
        self.plane.currentTextChanged.connect(self._show_plane)
        if on_plane_changed is not None:
            self.plane.currentTextChanged.connect(lambda _: on_plane_changed())
        self.set_parameters([])

    def set_parameters(self, nodes: list[tuple[str, str]]) -> None:
        """The scalar Parameters (id, title) a plane can take as axes; random directions always."""
        for combo in (self.first, self.second):
            kept = combo.currentData()
            combo.clear()
            for node, title in nodes:
                combo.addItem(title, node)
            if kept is not None and combo.findData(kept) >= 0:
                combo.setCurrentIndex(combo.findData(kept))
        if len(nodes) >= 2 and self.second.currentIndex() == self.first.currentIndex():
            self.second.setCurrentIndex(1)
        self.plane.clear()
        if len(nodes) >= 2:
            self.plane.addItem("Two parameters")
        self.plane.addItem(RANDOM)
        if self.random_chosen:
            self.plane.setCurrentText(RANDOM)
        self._show_plane()

    def _show_plane(self) -> None:
        random = self.plane.currentText() == RANDOM
        self.first.setEnabled(not random)
        self.second.setEnabled(not random)
        self.seed.setEnabled(random)

    def request(self) -> Request:
        params = None
        if self.plane.currentText() != RANDOM:
            params = (self.first.currentData(), self.second.currentData())
        specs = tuple(row.spec() for row in self.rows if row.check.isChecked())
        if not specs:
            raise LandscapeError("tick at least one optimizer")
        return Request(
            specs,
            steps=whole(self.steps, "Steps", 1, MAX_STEPS),
            params=params,
            seed=whole(self.seed, "Seed", 0, 2**31 - 1),
            span=number(self.span, "Span", 0, MAX_SPAN),
            resolution=whole(self.resolution, "Resolution", 2, MAX_RESOLUTION),
        )
