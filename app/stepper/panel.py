"""The stepper's side panel (what the current step computes, with its formula, inputs, upstream
gradient, local derivative and the gradient sent to each input) and the value viewer a badge opens
(a heat map for matrices and images, a histogram otherwise).
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.stepper.format import describe
from app.stepper.session import StepperSession

INTRO = (
    "<b>Backprop stepper</b><br>Run ▸ Stepper Mode, then <b>Step</b> (F10) advances one node of the "
    "forward pass, then one of the backward pass. Badges show each node's value (=) and the gradient "
    "of the output with respect to it (∂); click a badge to inspect the tensor."
)


def _rows(items: dict[str, Any]) -> str:
    return "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>&nbsp;{escape(describe(v))}</td></tr>"
        for k, v in items.items()
    )


def _table(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    return f"<p><b>{escape(title)}</b><table>{_rows(items)}</table></p>"


class StepperPanel(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.label = QLabel(INTRO)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMargin(8)
        self.setWidget(self.label)

    @property
    def text(self) -> str:
        return self.label.text()

    def show_intro(self, extra: str = "") -> None:
        self.label.setText(INTRO + (f"<p>{escape(extra)}</p>" if extra else ""))

    def show_session(self, session: StepperSession) -> None:
        """The current step; above it, in red, what stopped the pass when a node raised."""
        stopped = f"<p style='color:#dc2626'><b>Stepping stopped: {escape(session.error)}</b></p>"
        self.label.setText((stopped if session.error else "") + self._step_html(session))

    def _step_html(self, session: StepperSession) -> str:
        if session.updates:
            return self._updates(session)
        event = session.current
        header = f"<p>Pass {session.passes} · step {session.position + 1} / {session.total}</p>"
        if event is None:
            return header + INTRO
        instr = session.program.by_node[event.node]
        title = instr.label or event.node
        parts = [
            header,
            f"<h3 style='margin:0'>{escape(event.phase)} · {escape(title)}</h3>",
            f"<p><i>{escape(instr.spec.type)}</i>: {escape(instr.spec.doc)}</p>",
        ]
        if instr.spec.formula:
            parts.append(f"<p><b>Formula</b><br><code>{escape(instr.spec.formula)}</code></p>")
        if event.phase == "forward":
            parts.append(_table("Inputs", event.inputs))
            parts.append(_table("Output", event.outputs))
        elif event.phase == "backward":
            forward = session.forward_event(event.node)
            parts.append(_table("Inputs (forward values)", forward.inputs if forward else {}))
            parts.append(_table(f"Upstream gradient ∂{session.of}/∂out", event.upstream))
            local = {f"∂out/∂{port}": d for port, d in session.local_derivatives(event).items()}
            parts.append(_table("Local derivative", local))
            sent = {}
            for port, grad in event.passed.items():
                node, _, name = port.partition(".")
                index = instr.spec.inputs.index(name) if name in instr.spec.inputs else -1
                source = instr.args[index] if index >= 0 else None
                sent[f"{port} → {source}" if source else port] = grad
            parts.append(_table("Gradient sent to each input (upstream × local)", sent))
            parts.append(
                _table("Weight gradients", {f"{event.node}.{k}": v for k, v in event.weights.items()})
            )
        else:
            parts.append(
                "<p>The value fans out: the gradients arriving through each consumer are added "
                "(the multivariate chain rule).</p>"
            )
            parts.append(_table("Contributions", event.upstream))
            parts.append(_table("Total", event.accumulated))
        return "".join(parts)

    def _updates(self, session: StepperSession) -> str:
        config = session.optimizer_config
        settings = ", ".join(f"{k}={v}" for k, v in config.items() if k != "name")
        rows = "".join(
            f"<tr><td><code>{escape(u.name)}</code></td><td>&nbsp;{escape(describe(u.before))}</td>"
            f"<td>&nbsp;{escape(describe(u.grad))}</td><td>&nbsp;<b>{escape(describe(u.delta))}</b></td>"
            f"<td>&nbsp;{escape(describe(u.after))}</td></tr>"
            for u in session.updates
        )
        return (
            f"<h3 style='margin:0'>Optimizer step · {escape(config.get('name', 'sgd'))}</h3>"
            f"<p>{escape(settings)}</p>"
            "<table><tr><th>parameter</th><th>before</th><th>gradient</th><th>update</th><th>after</th></tr>"
            f"{rows}</table><p>The next Step starts a new forward pass with the updated weights.</p>"
        )


class ValueViewer(QDialog):
    """A tensor up close: a heat map for a matrix or an image, a histogram for anything else."""

    def __init__(self, title: str, value: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(520, 420)
        array = value.detach().double().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{title}: {describe(value)}"))
        self.kind = "number"
        if array.ndim >= 2:
            self.kind = "heatmap"
            matrix = array.reshape(-1, *array.shape[-2:])[0]
            plot = pg.PlotWidget()
            image = pg.ImageItem(matrix.T)  # rows down, columns across, as a matrix is written
            image.setColorMap(pg.colormap.get("viridis"))
            plot.addItem(image)
            plot.invertY(True)
            plot.addColorBar(image, colorMap=pg.colormap.get("viridis"))
            layout.addWidget(plot)
            if array.ndim > 2:
                layout.addWidget(QLabel(f"showing [0, …] of shape {list(array.shape)}"))
        elif array.size > 1:
            self.kind = "histogram"
            counts, edges = np.histogram(array[np.isfinite(array)], bins=min(40, max(5, array.size)))
            plot = pg.PlotWidget()
            plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=(37, 99, 235, 120))
            layout.addWidget(plot)
        else:
            number = QLabel(f"{float(array.reshape(-1)[0]):.10g}" if array.size else "empty")
            number.setStyleSheet("font-size: 20pt")
            layout.addWidget(number)
