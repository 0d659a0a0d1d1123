"""The dock's three tabs: what each shows, and the fields it reads (the dock runs the work)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.input_grads.pictures import Picture, Probabilities
from app.lab.style import LabPlots
from graphcore.input_grads import MAX_STEPS, STARTS
from graphcore.input_grads.adversarial import Adversarial
from graphcore.input_grads.maximize import Ascent, AscentStep
from graphcore.input_grads.saliency import Saliency
from graphcore.input_grads.unit import InputGradError

CURVE = "#2563eb"
MIN_HEIGHT = 220


def number(field: QLineEdit, name: str, low: float, high: float) -> float:
    """The field's number, or an InputGradError naming the field."""
    text = field.text().strip()
    try:
        value = float(text)
    except ValueError:
        raise InputGradError(f"{name}: expected a number, got {text[:20]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise InputGradError(f"{name}: must be a number from {low:g} to {high:g}, got {text[:20]}")
    return value


def whole(field: QLineEdit, name: str, low: int, high: int) -> int:
    text = field.text().strip()
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise InputGradError(f"{name}: expected a whole number from {low} to {high}, got {text[:20]!r}")
    return int(text)


def plot_area() -> LabPlots:
    """Plots that take the room the dock has (and scroll below 220 px), not the room they ask for."""
    plots = LabPlots()
    plots.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
    plots.setMinimumHeight(MIN_HEIGHT)
    return plots


def status_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class SaliencyTab(QWidget):
    """The input beside d unit / d input."""

    def __init__(self) -> None:
        super().__init__()
        self.compute_button = QPushButton("Compute Saliency")
        self.status = status_label()
        self.plots = plot_area()
        self.input = Picture(self.plots, 0, 0, "input", signed=False)
        self.gradient = Picture(self.plots, 0, 1, "gradient", signed=True)
        self.plots.restyle()
        top = QHBoxLayout()
        top.addWidget(self.compute_button)
        top.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.plots, 1)

    def show_result(self, result: Saliency) -> None:
        self.input.show(result.x, f"{result.input} ({result.source})")
        self.gradient.show(result.gradient, f"∂ {result.unit} / ∂ {result.input}")
        note = f" ({self.gradient.note})" if self.gradient.note else ""
        self.status.setText(
            f"{result.unit} = {result.value:.4g}; red raises it, blue lowers it{note}. Largest |gradient| "
            f"{float(result.gradient.abs().max()):.3g}. {result.weights.capitalize()}."
        )


class MaximizeTab(QWidget):
    """Gradient ascent on the input: its fields, the input as it changes, and the objective curve."""

    def __init__(self) -> None:
        super().__init__()
        self.steps, self.lr = QLineEdit("100"), QLineEdit("0.1")
        self.l2, self.tv = QLineEdit("0.01"), QLineEdit("0.01")
        self.start = QComboBox()
        self.start.addItems(list(STARTS))
        self.start_button, self.cancel_button = QPushButton("Start Ascent"), QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = status_label()
        self.plots = plot_area()
        self.picture = Picture(self.plots, 0, 0, "input", signed=True)
        self.curve_plot = self.plots.add_plot(0, 1, "objective")
        self.curve_plot.setLabel("bottom", "step")
        self.curve = self.curve_plot.plot(pen=CURVE)
        self.plots.restyle()
        self.points: list[tuple[int, float]] = []
        form = QFormLayout()
        for name, widget in (
            ("Steps", self.steps),
            ("Learning rate", self.lr),
            ("λ L2", self.l2),
            ("λ TV", self.tv),
            ("Start from", self.start),
        ):
            form.addRow(name, widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.status)
        layout = QHBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.plots, 1)

    def settings(self) -> tuple[int, float, float, float, str]:
        return (
            whole(self.steps, "Steps", 1, MAX_STEPS),
            number(self.lr, "Learning rate", 1e-12, 1e6),
            number(self.l2, "λ L2", 0.0, 1e6),
            number(self.tv, "λ TV", 0.0, 1e6),
            self.start.currentText(),
        )

    def running(self, on: bool) -> None:
        self.start_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        if on:
            self.points = []
            self.curve.setData([], [])

    def progressed(self, step: AscentStep) -> None:
        """One frame of the animation: the input now, and the objective so far."""
        self.points.append((step.step, step.objective))
        self.picture.show(step.x, f"input at step {step.step}")
        steps, values = zip(*self.points)
        self.curve.setData(list(steps), list(values))
        self.status.setText(f"step {step.step}: unit {step.unit:.4g}, objective {step.objective:.4g}")

    def show_result(self, ascent: Ascent) -> None:
        self.running(False)
        self.picture.show(ascent.x, f"input after {ascent.steps[-1]} steps")
        self.curve.setData(ascent.steps, ascent.objectives)
        self.status.setText(
            f"{ascent.unit}: {ascent.units[0]:.4g} → {ascent.units[-1]:.4g} in {ascent.steps[-1]} steps "
            f"(objective {ascent.objectives[-1]:.4g}). {ascent.weights.capitalize()}."
        )


class AdversarialTab(QWidget):
    """FGSM: the image, the perturbation, the adversarial image, probabilities before and after."""

    def __init__(self) -> None:
        super().__init__()
        self.eps, self.label = QLineEdit("0.1"), QLineEdit()
        self.label.setPlaceholderText("the sample's")
        self.attack_button = QPushButton("Make Adversarial Example")
        self.status = status_label()
        self.plots = plot_area()
        self.input = Picture(self.plots, 0, 0, "input", signed=False)
        self.perturbation = Picture(self.plots, 0, 1, "perturbation ε·sign(∇)", signed=True)
        self.adversarial = Picture(self.plots, 0, 2, "adversarial input", signed=False)
        self.before = Probabilities(self.plots, 1, 0, "before")
        self.after = Probabilities(self.plots, 1, 2, "after")
        self.plots.ci.layout.setRowStretchFactor(0, 3)
        self.plots.ci.layout.setRowStretchFactor(1, 2)
        self.plots.restyle()
        form = QFormLayout()
        form.addRow("ε (eps)", self.eps)
        form.addRow("True class", self.label)
        form.addRow(self.attack_button)
        form.addRow(self.status)
        layout = QHBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.plots, 1)

    def settings(self) -> tuple[float, int | None]:
        eps = number(self.eps, "ε", 0.0, 1e6)
        label = whole(self.label, "True class", 0, 1_000_000) if self.label.text().strip() else None
        return eps, label

    def show_result(self, result: Adversarial) -> None:
        both = np.concatenate([result.x.reshape(-1).numpy(), result.adversarial.reshape(-1).numpy()])
        levels = (float(both.min()), float(both.max()) if both.max() > both.min() else float(both.min()) + 1)
        self.input.show(result.x, "input", levels)
        self.perturbation.show(result.perturbation, f"perturbation {result.eps:g}·sign(∇)")
        self.adversarial.show(result.adversarial, "adversarial input", levels)
        self.before.show(result.before, result.label)
        self.after.show(result.after, result.label)
        fooled = "fooled" if result.predicted_after != result.label else "not fooled"
        self.status.setText(
            f"Class {result.label}: {result.before[result.label]:.1%} → {result.after[result.label]:.1%}; "
            f"predicted {result.predicted_before} → {result.predicted_after} ({fooled}). "
            f"Red bar: the predicted class; blue: the true one when it is not. {result.weights.capitalize()}."
        )
