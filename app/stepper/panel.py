"""The stepper's side panel (what the current step computes, with its formula, inputs, upstream
gradient, local derivative and the gradient sent to each input) and the value viewer a badge opens
(a heat map for matrices and images, a histogram otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from app.lab.names import Names
from app.mathtext.widgets import formula_html
from app.stepper.blocks import step_path
from app.stepper.format import describe
from app.stepper.session import StepperSession
from graphcore.stepping import StepEvent

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
        body = QWidget()
        self.sections = QVBoxLayout(body)  # add_section puts a widget (practice mode's) above the step
        self.sections.setContentsMargins(0, 0, 0, 0)
        self.sections.addWidget(self.label, 1)
        self.setWidget(body)
        self.outer: Container[str] = ()  # the file's node ids: a step's node not among them is inlined
        # what the step shows of its event (practice mode puts "?" where it asks)
        self.shown: Callable[[StepEvent], StepEvent] = lambda event: event

    def add_section(self, widget: QWidget) -> None:
        self.sections.insertWidget(0, widget)

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
        event = self.shown(event)
        names = session.names
        instr = session.program.by_node[event.node]
        inside = step_path(event.node, self.outer)  # "res1 ▸ conv1" inside block instance res1
        title = inside if inside != event.node else instr.label or event.node
        if names.node(event.node).endswith(f" ({event.node})"):  # another node reads the same
            title += f" ({event.node})"
        parts = [
            header,
            f"<h3 style='margin:0'>{escape(event.phase)} · {escape(title)}</h3>",
            f"<p><i>{escape(instr.spec.type)}</i>: {escape(instr.spec.doc)}</p>",
        ]
        if instr.spec.formula:
            shown = formula_html(
                instr.spec.formula,
                self.label.palette().windowText().color(),
                self.devicePixelRatioF(),
                self.viewport().width() - 24,
            )
            parts.append(f"<p><b>Formula</b><br>{shown}</p>")
        values = {name: names.value(name) for name in session.program.consumers}
        if event.phase == "forward":
            parts.append(_table("Inputs", _named(event.inputs, values)))
            parts.append(_table("Output", _named(event.outputs, values)))
        elif event.phase == "backward":
            forward = session.forward_event(event.node)
            out = instr.outs[0]
            parts.append(_table("Inputs (forward values)", _named(forward.inputs if forward else {}, values)))
            upstream = {
                names.derivative(session.of, p) if p in values else _port(names, p): g
                for p, g in event.upstream.items()
            }
            parts.append(_table(f"Upstream gradient {names.derivative(session.of, out)}", upstream))
            sources = {port: arg for port, arg in zip(instr.spec.inputs, instr.args) if arg}
            local = {
                names.derivative(out, sources[port]) if port in sources else f"∂out/∂{port}": d
                for port, d in session.local_derivatives(event).items()
            }
            parts.append(_table("Local derivative", local))
            sent = {}
            for port, grad in event.passed.items():
                name = port.partition(".")[2]
                sent[f"{name} → {names.value(sources[name])}" if name in sources else name] = grad
            parts.append(_table("Gradient sent to each input (upstream × local)", sent))
            weights = {f"{names.node(event.node)}.{k}": v for k, v in event.weights.items()}
            parts.append(_table("Weight gradients", weights))
        else:
            parts.append(
                "<p>The value fans out: the gradients arriving through each consumer are added "
                "(the multivariate chain rule).</p>"
            )
            parts.append(_table("Contributions", {_port(names, p): g for p, g in event.upstream.items()}))
            total = {names.derivative(session.of, v): g for v, g in event.accumulated.items()}
            parts.append(_table("Total", total))
        return "".join(parts)

    def _updates(self, session: StepperSession) -> str:
        """One block per parameter, a quantity a row, so the table fits the dock however narrow."""
        config = session.optimizer_config
        settings = ", ".join(f"{k}={v}" for k, v in config.items() if k != "name")
        rows = []
        for u in session.updates:
            node, dot, weight = u.name.partition(".")
            rows.append(
                f"<tr><td colspan=2><b>{escape(session.names.node(node) + dot + weight)}</b></td></tr>"
            )
            for what, value in (
                ("before", u.before),
                ("gradient", u.grad),
                ("update", u.delta),
                ("after", u.after),
            ):
                rows.append(f"<tr><td>&nbsp;&nbsp;{what}</td><td>&nbsp;{escape(describe(value))}</td></tr>")
        return (
            f"<h3 style='margin:0'>Optimizer step · {escape(config.get('name', 'sgd'))}</h3>"
            f"<p>{escape(settings)}</p><p>update = after − before</p>"
            f"<table>{''.join(rows)}</table><p>The next Step starts a new forward pass with the updated weights.</p>"
        )


def _named(items: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Values keyed by their node's name instead of "node.port"."""
    return {names.get(k, k): v for k, v in items.items()}


def _port(names: Names, port: str) -> str:
    """The gradient through a consumer's input port, "z.a", named: "via (y − t).a"."""
    node, _, name = port.partition(".")
    return f"via {names.node(node, bracket=True)}.{name}"
