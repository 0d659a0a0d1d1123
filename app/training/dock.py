"""The Train panel: run controls, and the training section's main settings as widgets.

Every widget edit is a SetTraining command on the document's undo stack, so the graph's
`training` section stays the one source of truth: the widgets are refreshed from it after every
push, undo or redo, and a run reads it when it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.document import Document
from app.training.commands import SetTraining
from graphcore.training_config import OPTIMIZERS, SCHEDULES

DEVICES = ("auto", "cpu", "cuda")


class DeviceBox(QComboBox):
    """auto / cpu / cuda; whether CUDA is there is asked only when the list opens (importing torch
    at start-up would cost a second)."""

    def showPopup(self) -> None:
        from graphcore._torch import torch

        item = self.model().item(DEVICES.index("cuda"))  # type: ignore[attr-defined]
        item.setEnabled(bool(torch.cuda.is_available()))
        super().showPopup()


class TrainDock(QWidget):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: Document | None = None
        buttons = QGridLayout()
        for index, action in enumerate(actions):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button, index // 3, index % 3)
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.lr = self._double(1e-6, 10.0, 5)
        self.schedule = QComboBox()
        self.schedule.addItems(list(SCHEDULES))
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 1_000_000)
        self.steps = QSpinBox()
        self.steps.setRange(0, 100_000_000)
        self.steps.setSpecialValueText("by epochs")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1_000_000)
        self.clip = self._double(0.0, 1e6, 3)
        self.clip.setSpecialValueText("off")
        self.device = DeviceBox()
        self.device.addItems(list(DEVICES))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in (
            ("Optimizer", self.optimizer),
            ("Learning rate", self.lr),
            ("LR schedule", self.schedule),
            ("Batch size", self.batch_size),
            ("Steps", self.steps),
            ("Epochs", self.epochs),
            ("Clip grad norm", self.clip),
            ("Device", self.device),
        ):
            form.addRow(label, widget)
        self.fields: list[QWidget] = [
            self.optimizer, self.lr, self.schedule, self.batch_size, self.steps, self.epochs, self.clip,
            self.device,
        ]  # fmt: skip
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #dc2626; font-weight: bold")
        self.problem.hide()
        self.show_problem = QPushButton("Show node")
        self.show_problem.hide()
        self.missing = QLabel(
            "This graph has no <code>training</code> section (dataset, inputs, loss): see "
            "docs/file-format.md. The examples xor and two_moons have one."
        )
        self.missing.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.problem)
        layout.addWidget(self.show_problem)
        layout.addWidget(self.missing)
        layout.addLayout(form)
        layout.addStretch(1)
        self._connect()

    @staticmethod
    def _double(low: float, high: float, decimals: int) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        return box

    def _connect(self) -> None:
        self.optimizer.currentTextChanged.connect(self._set_optimizer)
        self.lr.valueChanged.connect(lambda v: self._set_optimizer_key("lr", v))
        self.schedule.currentTextChanged.connect(
            lambda name: self._edit("schedule", {**self._section().get("schedule", {}), "name": name})
        )
        self.batch_size.valueChanged.connect(lambda v: self._edit("batch_size", v))
        self.steps.valueChanged.connect(lambda v: self._edit("steps", v or None))
        self.epochs.valueChanged.connect(lambda v: self._edit("epochs", v))
        self.clip.valueChanged.connect(lambda v: self._edit("clip_grad_norm", v or None))
        self.device.currentTextChanged.connect(lambda v: self._edit("device", None if v == "auto" else v))

    # --- the model ----------------------------------------------------------------------------------

    def bind(self, document: Document | None) -> None:
        if self.document is not None:
            self.document.stack.indexChanged.disconnect(self.refresh)
        self.document = document
        if document is not None:
            document.stack.indexChanged.connect(self.refresh)
        self.refresh()

    def _section(self) -> dict[str, Any]:
        return self.document.graph.training if self.document is not None else {}

    def _edit(self, key: str, value: Any) -> None:
        if self.document is None or self._section().get(key) == value:
            return
        if value is None and key not in self._section():
            return
        self.document.push(SetTraining(self.document.graph, key, value))

    def _set_optimizer(self, name: str) -> None:
        current = self._section().get("optimizer", {"name": "sgd"})
        if current.get("name") != name:
            lr = current.get("lr", OPTIMIZERS[current.get("name", "sgd")][1]["lr"])
            self._edit("optimizer", {"name": name, "lr": lr})

    def _set_optimizer_key(self, key: str, value: Any) -> None:
        current = dict(self._section().get("optimizer", {"name": "sgd"}))
        current[key] = value
        self._edit("optimizer", current)

    def refresh(self) -> None:
        """Show the training section as it is now (after any edit, undo or redo)."""
        section = self._section()
        has = bool(section)
        self.missing.setVisible(not has)
        for widget in self.fields:
            widget.setEnabled(has)
        optimizer = section.get("optimizer", {"name": "sgd"})
        name = optimizer.get("name", "sgd")
        defaults = OPTIMIZERS.get(name, OPTIMIZERS["sgd"])[1]
        values: list[tuple[QWidget, Callable[[Any], None], Any]] = [
            (self.optimizer, self.optimizer.setCurrentText, name),
            (self.lr, self.lr.setValue, optimizer.get("lr", defaults["lr"])),
            (
                self.schedule,
                self.schedule.setCurrentText,
                section.get("schedule", {}).get("name", "constant"),
            ),
            (self.batch_size, self.batch_size.setValue, section.get("batch_size", 32)),
            (self.steps, self.steps.setValue, section.get("steps") or 0),
            (self.epochs, self.epochs.setValue, section.get("epochs") or 10),
            (self.clip, self.clip.setValue, section.get("clip_grad_norm") or 0.0),
            (self.device, self.device.setCurrentText, section.get("device", "auto")),
        ]
        for widget, setter, value in values:
            blocked = widget.blockSignals(True)
            try:
                setter(value)
            finally:
                widget.blockSignals(blocked)
        self.epochs.setEnabled(has and not section.get("steps"))

    # --- what the run shows -------------------------------------------------------------------------

    def show_state(self, state: str, detail: str = "") -> None:
        self.status.setText(f"{state.title()}{': ' + detail if detail else ''}")

    def show_progress(self, step: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(step, max(total, 1)))

    def show_nonfinite(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))
        self.show_problem.setVisible(bool(text))
