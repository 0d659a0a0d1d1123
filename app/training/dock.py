"""The Train panel: run controls, and the training section's main settings as widgets.

Every widget edit is a SetTraining command on the document's undo stack, so the graph's
`training` section stays the one source of truth: the widgets are refreshed from it after every
push, undo or redo, and a run reads it when it starts. Number fields commit on Enter, focus-out or
an arrow click, never per keystroke (typing 0.02 must not commit 0 on the way), and an edit the
training section would refuse is not made: the field goes back and `refused` says why. A section
with several objectives shows them as a list (each one's optimizer, schedule and learning rate) in
place of the one optimizer's fields, and the latest loss of each while it trains.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
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

from app.editing.document import Document
from app.training.commands import SetTraining
from app.training.objectives_view import ObjectivesView
from graphcore.training.config import (
    CLASS_HYPERPARAMETERS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainingConfigError,
    parse,
)

DEVICES = ("auto", "cpu", "cuda")
NO_CUDA = "fp16 needs a CUDA device (its loss scaling is a CUDA recipe), and none is available"


COMPILE_TIP = "Compile the model with torch.compile (slow to start, faster steps)"
NO_COMPILER = (
    "torch.compile builds C++ and no compiler was found (no g++, clang++ or c++ on PATH, no $CXX): "
    "install one to compile"
)


def has_cpp_compiler() -> bool:
    """Whether torch.compile could build its C++: asked of PATH, not of torch (importing its
    compiler search at start-up would cost seconds); training still checks torch's own answer."""
    return bool(os.environ.get("CXX")) or any(shutil.which(c) for c in ("g++", "clang++", "c++"))


class DeviceBox(QComboBox):
    """auto / cpu / cuda; whether CUDA is there is asked only when the list opens (importing torch
    at start-up would cost a second)."""

    def showPopup(self) -> None:
        from graphcore._torch import torch

        item = self.model().item(DEVICES.index("cuda"))  # type: ignore[attr-defined]
        item.setEnabled(bool(torch.cuda.is_available()))
        super().showPopup()


class PrecisionBox(QComboBox):
    """fp32 / bf16 / fp16; fp16 is greyed, with the reason as its tooltip, where there is no CUDA
    (asked when the list opens, as DeviceBox does)."""

    def showPopup(self) -> None:
        from graphcore._torch import torch

        item = self.model().item(PRECISIONS.index("fp16"))  # type: ignore[attr-defined]
        cuda = bool(torch.cuda.is_available())
        item.setEnabled(cuda)
        item.setToolTip("" if cuda else NO_CUDA)
        super().showPopup()


class TrainDock(QWidget):
    refused = Signal(str)  # an edit the training section would refuse, in a sentence

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
        self.lr = self._double(1e-5, 10.0, 5)  # the smallest rate five decimals show, never 0
        self.momentum = self._double(0.0, 0.999, 3)
        self.schedule = QComboBox()
        self.schedule.addItems(list(SCHEDULES))
        self.warmup = self._count(0, 100_000_000)
        self.warmup.setSpecialValueText("none")
        self.batch_size = self._count(1, 1_000_000)
        self.steps = self._count(0, 100_000_000)
        self.steps.setSpecialValueText("by epochs")
        self.epochs = self._count(1, 1_000_000)
        self.clip = self._double(0.0, 1e6, 3)
        self.clip.setSpecialValueText("off")
        self.device = DeviceBox()
        self.device.addItems(list(DEVICES))
        self.precision = PrecisionBox()
        self.precision.addItems(list(PRECISIONS))
        self.precision.setToolTip(
            "Mixed precision of the forward passes: fp32 (none), bf16 (CPU or CUDA), fp16 (CUDA only)"
        )
        self.compile = QCheckBox("torch.compile")
        self.compiler = has_cpp_compiler()
        self.compile.setToolTip(COMPILE_TIP if self.compiler else NO_COMPILER)
        self.objectives = ObjectivesView()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in (
            ("Optimizer", self.optimizer),
            ("Learning rate", self.lr),
            ("Momentum", self.momentum),
            ("LR schedule", self.schedule),
            ("Warm-up steps", self.warmup),
            ("Batch size", self.batch_size),
            ("Steps", self.steps),
            ("Epochs", self.epochs),
            ("Clip grad norm", self.clip),
            ("Device", self.device),
            ("Precision", self.precision),
            ("Compile", self.compile),
        ):
            form.addRow(label, widget)
        self.form = form
        self.single = [self.optimizer, self.lr, self.momentum, self.schedule, self.warmup]
        self.fields: list[QWidget] = [
            self.optimizer, self.lr, self.momentum, self.schedule, self.warmup, self.batch_size, self.steps,
            self.epochs, self.clip, self.device, self.precision, self.compile, self.objectives,
        ]  # fmt: skip
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)
        self.losses = QLabel()  # each objective's latest loss, in a run with several
        self.losses.setTextFormat(Qt.TextFormat.PlainText)
        self.losses.setWordWrap(True)
        self.losses.hide()
        self._latest: dict[str, float] = {}
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
        layout.addWidget(self.losses)
        layout.addWidget(self.problem)
        layout.addWidget(self.show_problem)
        layout.addWidget(self.missing)
        layout.addLayout(form)
        layout.addWidget(self.objectives)
        layout.addStretch(1)
        self._connect()

    @staticmethod
    def _double(low: float, high: float, decimals: int) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        box.setKeyboardTracking(False)
        return box

    @staticmethod
    def _count(low: int, high: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setKeyboardTracking(False)
        return box

    def _connect(self) -> None:
        self.optimizer.currentTextChanged.connect(self._set_optimizer)
        self.lr.valueChanged.connect(lambda v: self._set_optimizer_key("lr", v))
        self.momentum.valueChanged.connect(lambda v: self._set_optimizer_key("momentum", v))
        self.schedule.currentTextChanged.connect(lambda name: self._set_schedule_key("name", name))
        self.warmup.valueChanged.connect(lambda v: self._set_schedule_key("warmup_steps", v or None))
        self.batch_size.valueChanged.connect(lambda v: self._edit("batch_size", v))
        self.steps.valueChanged.connect(lambda v: self._edit("steps", v or None))
        self.epochs.valueChanged.connect(lambda v: self._edit("epochs", v))
        self.clip.valueChanged.connect(lambda v: self._edit("clip_grad_norm", v or None))
        self.device.currentTextChanged.connect(lambda v: self._edit("device", None if v == "auto" else v))
        self.precision.currentTextChanged.connect(
            lambda v: self._edit("precision", None if v == "fp32" else v)
        )
        self.compile.toggled.connect(lambda on: self._edit("compile", True if on else None))
        self.objectives.lr_edited.connect(self._set_objective_lr)

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
        section = self._section()
        if self.document is None or section.get(key) == value:
            return
        if value is None and key not in section:
            return
        edited = {k: v for k, v in {**section, key: value}.items() if v is not None}
        refusal = _refusal(edited)
        if refusal and not _refusal(section):  # a section that is wrong already is the Start's to name
            self.refresh()
            self.refused.emit(f"Not set: {refusal}")
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

    def _set_objective_lr(self, index: int, lr: float) -> None:
        objectives = copy.deepcopy(self._section().get("objectives"))
        if not isinstance(objectives, list) or index >= len(objectives):
            return
        optimizer = (
            objectives[index].get("optimizer", {"name": "sgd"})
            if isinstance(objectives[index], dict)
            else None
        )
        if not isinstance(optimizer, dict):  # a section that is wrong already is the Start's to name
            return
        objectives[index]["optimizer"] = {**optimizer, "lr": lr}
        self._edit("objectives", objectives)

    def _set_schedule_key(self, key: str, value: Any) -> None:
        """Set (or, with None, remove) one key of the schedule; an empty schedule is no schedule."""
        current = {
            k: v for k, v in {**self._section().get("schedule", {}), key: value}.items() if v is not None
        }
        self._edit("schedule", current or None)

    def refresh(self) -> None:
        """Show the training section as it is now (after any edit, undo or redo)."""
        section = self._section()
        has = bool(section)
        self.missing.setVisible(not has)
        for widget in self.fields:
            widget.setEnabled(has)
        optimizer = section.get("optimizer", {"name": "sgd"})
        name = optimizer.get("name", "sgd")
        class_name, defaults = OPTIMIZERS.get(name, OPTIMIZERS["sgd"])
        schedule = section.get("schedule", {})
        values: list[tuple[QWidget, Callable[[Any], None], Any]] = [
            (self.optimizer, self.optimizer.setCurrentText, name),
            (self.lr, self.lr.setValue, optimizer.get("lr", defaults["lr"])),
            (self.momentum, self.momentum.setValue, optimizer.get("momentum", defaults.get("momentum", 0.0))),
            (self.schedule, self.schedule.setCurrentText, schedule.get("name", "constant")),
            (self.warmup, self.warmup.setValue, schedule.get("warmup_steps", 0)),
            (self.batch_size, self.batch_size.setValue, section.get("batch_size", 32)),
            (self.steps, self.steps.setValue, section.get("steps") or 0),
            (self.epochs, self.epochs.setValue, section.get("epochs") or 10),
            (self.clip, self.clip.setValue, section.get("clip_grad_norm") or 0.0),
            (self.device, self.device.setCurrentText, section.get("device", "auto")),
            (self.precision, self.precision.setCurrentText, str(section.get("precision", "fp32"))),
            (self.compile, self.compile.setChecked, section.get("compile") is True),
        ]
        for widget, setter, value in values:
            blocked = widget.blockSignals(True)
            try:
                setter(value)
            finally:
                widget.blockSignals(blocked)
        self.epochs.setEnabled(has and not section.get("steps"))
        self.compile.setEnabled(has and (self.compiler or self.compile.isChecked()))  # a set box can be unset
        self.momentum.setEnabled(has and "momentum" in CLASS_HYPERPARAMETERS[class_name])
        objectives = section.get("objectives")
        several = isinstance(objectives, list)
        for widget in self.single:  # a section with objectives has no one optimizer to show
            self.form.setRowVisible(widget, not several)
        self.objectives.setVisible(several)
        if isinstance(objectives, list):
            self.objectives.show_objectives(objectives)

    # --- what the run shows -------------------------------------------------------------------------

    def show_state(self, state: str, detail: str = "") -> None:
        self.status.setText(f"{state.title()}{': ' + detail if detail else ''}")

    def show_notice(self, text: str) -> None:
        """A sentence of the app's own (why it stopped a run), shown as it is written."""
        self.status.setText(text)

    def reset(self) -> None:
        """Nothing trained yet: a newly opened document shows no progress, state or problem of another."""
        self.progress.reset()
        self.show_state("idle")
        self.show_nonfinite(None)
        self._latest = {}
        self.losses.hide()

    def show_losses(self, progress: Any) -> None:
        """Each objective's latest loss, of a run with several (one not due in a report keeps its last)."""
        if len(progress.objectives) < 2:
            return
        for name, points in progress.objectives.items():
            if points:
                self._latest[name] = points[-1][1]
        self.losses.setText("   ".join(f"{name} loss {loss:.4g}" for name, loss in self._latest.items()))
        self.losses.show()

    def show_progress(self, step: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(step, max(total, 1)))

    def show_nonfinite(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))
        self.show_problem.setVisible(bool(text))


def _refusal(section: dict[str, Any]) -> str:
    """Why the training section would not train ('' when it is fine); an empty one is not refused."""
    if not section:
        return ""
    try:
        parse(section)
    except TrainingConfigError as error:
        return str(error)
    return ""
