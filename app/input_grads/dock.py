"""Derivatives ▸ Input Gradients…: the dock that picks a unit, an Input and a sample, and runs the
three tabs' questions in a worker thread (app.lab.runner).

Weights: the training session's latest copy when it has one (it sends copies while this dock is on
screen), else the graph's saved weights, else the initial ones; the line under the choices
says which were used.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.input_grads.tabs import AdversarialTab, MaximizeTab, SaliencyTab, status_label
from app.lab.derivative_plot import BATCH
from app.lab.runner import Runner
from app.panels.lazy import on_screen
from graphcore.input_grads import MAX_SAMPLE
from graphcore.input_grads.adversarial import fgsm
from graphcore.input_grads.maximize import maximize
from graphcore.input_grads.model import InputModel
from graphcore.input_grads.saliency import saliency
from graphcore.input_grads.unit import InputGradError, parse_unit
from graphcore.program import Program
from graphcore.training.frames import WeightsFrame

if TYPE_CHECKING:
    from app.editing.document import Document
    from app.shell import Shell
    from app.training.session import TrainingSession

DOCK_HEIGHT = 440  # room for two rows of plots
REPORT_INTERVAL = 0.04  # seconds between animation frames of an ascent


@dataclass(frozen=True)
class Question:
    """Everything a worker needs, copied on the GUI thread."""

    program: Program
    training: dict[str, Any] | None
    base_dir: Path
    input: str
    sample: int
    unit: str
    state: dict[str, Any] | None
    trained_step: int

    @property
    def value(self) -> str:
        return self.unit.split("[")[0].split(":")[0]

    def model(self) -> InputModel:
        """The InputModel; trained weights that no longer fit the edited graph are left out (said so)."""
        options = dict(
            sample=self.sample, base_dir=self.base_dir, values=[self.value], training=self.training
        )
        try:
            model = InputModel(self.program, self.input, state=self.state, **options)  # type: ignore[arg-type]
        except InputGradError as error:
            if self.state is None or "do not fit" not in str(error):
                raise
            model = InputModel(self.program, self.input, **options)  # type: ignore[arg-type]
            model.weights += " (the trained ones no longer fit the edited graph)"
            return model
        if self.state is not None:
            model.weights = f"trained weights (step {self.trained_step})"
        return model


class InputGradientsView(QWidget):
    """The choices (unit, Input, sample), the weights line, and the three tabs."""

    shown = Signal(str)  # a result ("") or a message is on screen

    def __init__(self) -> None:
        super().__init__()
        self.value_box, self.input_box = QComboBox(), QComboBox()
        self.index = QLineEdit("0")
        self.index.setPlaceholderText("3  ·  2, 3, 4  ·  c=2")
        self.index.setToolTip(
            "An element of the value for one sample (3, or 2, 3, 4), or c=K: channel K's mean"
        )
        self.sample = QSpinBox()
        self.sample.setRange(0, MAX_SAMPLE)
        self.weights = status_label()
        self.message = status_label()
        self.tabs = QTabWidget()
        self.saliency, self.maximize, self.adversarial = SaliencyTab(), MaximizeTab(), AdversarialTab()
        for tab, title in (
            (self.saliency, "Saliency"),
            (self.maximize, "Maximize"),
            (self.adversarial, "Adversarial"),
        ):
            self.tabs.addTab(tab, title)
        choices = QHBoxLayout()
        for text, widget in (
            ("Unit", self.value_box),
            ("index", self.index),
            ("Input", self.input_box),
            ("sample", self.sample),
        ):
            choices.addWidget(QLabel(text))
            choices.addWidget(widget)
        choices.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(choices)
        layout.addWidget(self.weights)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)

    def fill(self, program: Program | None, predict: str | None) -> None:
        """List the graph's computed float values and float Inputs, keeping the choices that remain."""
        old_value, old_input = self.value_box.currentData(), self.input_box.currentData()
        self.value_box.clear()
        self.input_box.clear()
        if program is None:
            return
        for instr in program:
            if instr.spec.kind == "input" and instr.params.get("dtype") != "long":
                self.input_box.addItem(_title(instr.node, instr.label), instr.node)
            if not instr.spec.is_source:
                for value in instr.outs:
                    self.value_box.addItem(_title(value, instr.label), value)
        for box, wanted in ((self.value_box, old_value or predict), (self.input_box, old_input)):
            found = box.findData(wanted)
            if found >= 0:
                box.setCurrentIndex(found)

    def unit_text(self) -> str:
        """The chosen unit in graphcore's syntax: VALUE[i, j] or VALUE:c=K."""
        value, index = self.value_box.currentData() or "", self.index.text().strip()
        if not index:
            return value
        if index.replace(" ", "").startswith("c="):
            return f"{value}:{index.replace(' ', '')}"
        return f"{value}[{index}]"

    def say(self, text: str) -> None:
        self.message.setText(text)
        self.shown.emit(text)


def _title(name: str, label: str) -> str:
    return f"{name}  ({label})" if label and label != name.split(".")[0] else name


class InputGradients(QObject):
    """The dock, its menu entry, its worker, and the weights it hears from training."""

    def __init__(self, shell: Shell, session: TrainingSession) -> None:
        super().__init__(shell.widget)
        self.shell, self.session = shell, session
        self.view = InputGradientsView()
        self.runner = Runner(self)
        self.frame: WeightsFrame | None = None
        self._job: int | None = None
        self.dock = shell.add_dock(
            "input_gradients",
            "Input Gradients",
            self.view,
            Qt.DockWidgetArea.BottomDockWidgetArea,
            tab_with="lab_cost",  # beside the derivative lab's bottom docks, as wide as they are
        )
        self.dock.hide()
        self._stale = True  # an edit came while the choices were out of sight
        self.dock.visibilityChanged.connect(self._on_visibility)
        shell.raise_dock(
            "diagnostics"
        )  # tabbing it in brought its tab group forward: Problems stays in front
        self.action = shell.menu_named("&Derivatives").addAction("&Input Gradients…")
        self.action.triggered.connect(self.open)
        session.weights.connect(self._weights)
        shell.follow_document(self._follow)
        shell.watch_closing(self)
        view = self.view
        view.saliency.compute_button.clicked.connect(self.compute_saliency)
        view.maximize.start_button.clicked.connect(self.start_ascent)
        view.maximize.cancel_button.clicked.connect(self.cancel)
        view.adversarial.attack_button.clicked.connect(self.attack)
        self.document: Document | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:  # the window closes: let the worker's job end first
            self.cancel()
            self.runner.pool.waitForDone()
        return False

    def open(self) -> None:
        self.dock.show()
        self.dock.raise_()
        self.shell.resize_dock(self.dock.objectName(), DOCK_HEIGHT, Qt.Orientation.Vertical)
        self._refill(force=True)

    def _on_visibility(self, shown: bool) -> None:
        """On screen: the training run's weights, and the choices caught up with any edit made while
        out of sight. Hidden or behind a tab: neither (a 10,000-node graph's lists cost each edit)."""
        self.session.share_weights(BATCH if shown else 0, "input gradients")
        if shown and self._stale:
            self._refill(force=True)

    def _follow(self, document: Document | None) -> None:
        self.cancel()
        if self.document is not None:
            self.document.validated.disconnect(self._edited)
        self.document, self.frame = document, None
        if document is not None:
            document.validated.connect(self._edited)
        self._refill()

    def _edited(self, *_: object) -> None:
        self._refill()

    def _refill(self, force: bool = False) -> None:
        if not (force or on_screen(self.view)):
            self._stale = True
            return
        self._stale = False
        document = self.document
        program = document.program if document is not None and document.report.ok else None
        training = document.graph.training if document is not None else {}
        predict = training.get("predict") if isinstance(training, dict) else None
        self.view.fill(program, predict)
        self._say_weights()

    def _weights(self, frame: WeightsFrame) -> None:
        self.frame = frame
        self._say_weights()

    def _say_weights(self) -> None:
        document = self.document
        if self.frame is not None:
            text = f"Weights: the training run's, at step {self.frame.step}."
        elif document is not None and document.graph.weights is not None:
            text = "Weights: the graph's saved weights (train it, Run ▸ Start, to use trained ones)."
        else:
            text = "Weights: untrained (the initial ones); train the graph (Run ▸ Start) for meaningful maps."
        self.view.weights.setText(text)

    # --- questions --------------------------------------------------------------------------------

    def question(self) -> Question | None:
        """What the choices ask, or None after saying why nothing can be asked."""
        document, view = self.document, self.view
        if document is None or not document.report.ok:
            view.say("The graph has problems (see Problems): fix them first.")
            return None
        if view.value_box.currentData() is None or view.input_box.currentData() is None:
            view.say("The graph needs a computed value and a floating-point Input.")
            return None
        base = document.path.parent if document.path else Path.cwd()
        frame = self.frame
        return Question(
            document.program,
            copy.deepcopy(document.graph.training) or None,
            base,
            view.input_box.currentData(),
            view.sample.value(),
            view.unit_text(),
            frame.state if frame is not None else None,
            frame.step if frame is not None else 0,
        )

    def _submit(
        self,
        work: Callable[..., Any],
        done: Callable[[Any], None],
        progress: Callable[[Any], None] | None = None,
    ) -> None:
        self.cancel()
        self.view.say("Computing…")
        self._job = self.runner.submit(work, lambda result: self._done(done, result), self._failed, progress)

    def _done(self, show: Callable[[Any], None], result: Any) -> None:
        self._job = None
        show(result)
        self.view.say("")

    def _failed(self, message: str) -> None:
        self._job = None
        self.view.maximize.running(False)
        self.view.say(message)

    def cancel(self) -> None:
        if self._job is not None:
            self.runner.cancel(self._job)
            self._job = None
        self.view.maximize.running(False)

    def compute_saliency(self) -> None:
        if (question := self.question()) is None:
            return

        def work() -> Any:
            model = question.model()
            return saliency(model, parse_unit(model.program, question.unit))

        self._submit(work, self.view.saliency.show_result)

    def start_ascent(self) -> None:
        tab = self.view.maximize
        try:
            steps, lr, l2, tv, start = tab.settings()
        except InputGradError as error:
            self.view.say(str(error))
            return
        if (question := self.question()) is None:
            return

        def work(report: Callable[[Any], None]) -> Any:
            model = question.model()
            last = [0.0]

            def hear(step: Any) -> None:  # frames at a pace the screen can take (report may cancel)
                now = time.perf_counter()
                if now - last[0] >= REPORT_INTERVAL or step.step == 0:
                    last[0] = now
                    report(step)

            unit = parse_unit(model.program, question.unit)
            return maximize(model, unit, steps, lr, l2, tv, start, report=hear)

        self._submit(work, tab.show_result, tab.progressed)
        tab.running(True)

    def attack(self) -> None:
        tab = self.view.adversarial
        try:
            eps, label = tab.settings()
        except InputGradError as error:
            self.view.say(str(error))
            return
        if (question := self.question()) is None:
            return

        def work() -> Any:
            return fgsm(question.model(), question.value, eps, label)

        self._submit(work, tab.show_result)
