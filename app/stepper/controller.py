"""StepperController: Stepper mode on the canvas, driven by the Stepper toolbar.

It owns a StepperSession for the current graph, and after every move redraws the overlay (badges,
current node, edge dots) and the side panel from the session. An edit of the graph while stepping
starts the stepper over on the edited graph. Auto-play is a timer whose interval the speed slider sets.
Run to End steps in slices of a few milliseconds from a zero-interval timer and redraws a few times a
second, so the window keeps painting and answering on a big graph; any other move stops it where it is.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from app.canvas.scene import CanvasScene
from app.editing.document import Document
from app.stepper.blocks import SEPARATOR, inner_values, shown_node, with_instances
from app.stepper.overlay import Overlay
from app.stepper.panel import StepperPanel
from app.stepper.session import StepperError, StepperSession
from app.stepper.viewer import ValueViewer
from graphcore.graph import PortRef
from graphcore.program import NodeError

RUN_SLICE_SECONDS = 0.012  # stepping per slice of Run to End: under one frame at 60 Hz
RUN_REDRAW_SECONDS = 0.1  # badges and panel during Run to End: redrawing a big graph costs more than a slice


class StepperController(QObject):
    changed = Signal()  # the position, the mode or the session changed (actions re-enable)
    message = Signal(str)
    run_progressed = Signal(int)  # Run to End drew another slice: steps done so far in this pass
    ran_to_end = Signal()  # Run to End completed the pass (not sent when it was stopped), before `changed`

    def __init__(self, panel: StepperPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.document: Document | None = None
        self.scene: CanvasScene | None = None
        self.overlay: Overlay | None = None
        self.session: StepperSession | None = None
        self.viewer: ValueViewer | None = None
        # a block opened on the canvas: its scene, the instance it was opened from, badges there
        self.inside: tuple[CanvasScene, str] | None = None
        self.inside_overlay: Overlay | None = None
        self.interval_ms = 600
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.run_timer = QTimer(self)  # interval 0: a slice whenever the event loop has caught up
        self.run_timer.timeout.connect(self._run_slice)
        self._drawn_at = 0.0  # time.perf_counter() of Run to End's last redraw

    @property
    def active(self) -> bool:
        return self.session is not None

    @property
    def running(self) -> bool:
        """Run to End is under way."""
        return self.run_timer.isActive()

    def bind(self, document: Document | None, scene: CanvasScene | None) -> None:
        """Follow another document; stepping stops."""
        self.stop()
        if self.document is not None:
            self.document.stack.indexChanged.disconnect(self._on_edited)
        self.document, self.scene = document, scene
        self.panel.outer = document.graph if document is not None else ()
        if document is not None:
            document.stack.indexChanged.connect(self._on_edited)

    def start(self) -> bool:
        if self.document is None or self.scene is None:
            return False
        try:
            document = self.document
            self.session = StepperSession(
                document.graph,
                seed=document.graph.training.get("seed", 0),
                program=document.program if document.report.ok else None,
            )
        except Exception as error:  # noqa: BLE001 - a graph that cannot be stepped must not take the app down
            # ValueErrors (MemoryBudgetError, StepperError) are sentences for the user already
            text = str(error) if isinstance(error, ValueError) else NodeError.describe(error)
            self.session = None
            self.message.emit(f"Cannot step this graph: {text}")
            self.panel.show_intro(f"Cannot step this graph: {text}")
            self.changed.emit()
            return False
        if self.overlay is None:
            self.overlay = Overlay(self.scene, self.open_viewer)
        self._show(animate=False)
        self.message.emit(
            f"Stepper: {self.session.total} steps, differentiating {self.session.names.value(self.session.of)}"
        )
        return True

    def show_inside(self, scene: CanvasScene | None, instance: str = "") -> None:
        """The canvas shows the inside of block instance `instance` (None: the file's graph again):
        while stepping, its inner nodes get their badges there."""
        self._drop_inside_overlay()
        self.inside = (scene, instance) if scene is not None else None
        self._show(animate=False)

    def _drop_inside_overlay(self) -> None:
        if self.inside_overlay is not None:
            self.inside_overlay.clear()
            self.inside_overlay.deleteLater()
            self.inside_overlay = None

    def stop(self) -> None:
        self.timer.stop()
        self.run_timer.stop()
        self.session = None
        self._drop_inside_overlay()
        if self.overlay is not None:
            self.overlay.clear()
            self.overlay.deleteLater()
            self.overlay = None
        self.panel.show_intro()
        self.changed.emit()

    def _on_edited(self) -> None:
        if self.session is not None:
            self.stop()
            self.start()

    # --- moves ---------------------------------------------------------------------------------------

    def step(self) -> None:
        if self.session is not None:
            self._interrupt_run()
            try:
                if self.session.step() is None:
                    self.timer.stop()
            except StepperError as error:
                self._failed(error)
                return
            self._show()

    def _failed(self, error: StepperError) -> None:
        """A node raised: stop auto-play and Run to End, and say which node and why (Reset starts over)."""
        self.timer.stop()
        self.run_timer.stop()
        self._show(animate=False)  # the panel shows what stopped the pass
        self.message.emit(f"Stepping stopped: {error}")

    def back(self) -> None:
        if self.session is not None:
            self._interrupt_run()
            self.session.back()
            self._show()

    def run_to_end(self) -> None:
        """Start stepping to the end of the pass in slices (auto-play stops); stop_run ends it early."""
        if self.session is None or self.running:
            return
        if self.session.error:  # a node raised: this pass cannot go on (Reset starts over)
            self.message.emit(f"Stepping stopped: {self.session.error}")
            return
        self.timer.stop()
        self.run_timer.start(0)
        self._drawn_at = time.perf_counter()
        self.message.emit("Running to the end of the pass…")
        self.changed.emit()

    def stop_run(self) -> None:
        """Stop Run to End at the step it has reached."""
        if self.running and self.session is not None:
            self._interrupt_run()
            self.message.emit(f"Stopped at step {self.session.position + 1} / {self.session.total}")
            self._show(animate=False)

    def _interrupt_run(self) -> None:
        if self.running:
            self.run_timer.stop()
            self.changed.emit()

    def _run_slice(self) -> None:
        session = self.session
        assert session is not None  # stop() stops the run with the session
        try:
            complete = session.run_for(RUN_SLICE_SECONDS)
        except StepperError as error:
            self._failed(error)
            return
        if not complete and time.perf_counter() - self._drawn_at < RUN_REDRAW_SECONDS:
            return
        self._show(animate=False)  # the last redraw too is Run to End's: practice mode asks nothing there
        self._drawn_at = time.perf_counter()
        if complete:
            self.run_timer.stop()
        self.run_progressed.emit(session.position + 1)
        if complete:
            self.message.emit(f"Ran to the end: {session.total} steps")
            self.ran_to_end.emit()
            self.changed.emit()  # the toolbar: Run to End's button is itself again

    def reset(self) -> None:
        if self.session is not None:
            self.timer.stop()
            self._interrupt_run()
            self.session.reset()
            self._show(animate=False)

    def optimizer_step(self) -> None:
        if self.session is None:
            return
        self._interrupt_run()
        try:
            updates = self.session.optimizer_step()
        except Exception as error:  # noqa: BLE001 - torch's errors (out of memory) too: the app keeps running
            self.message.emit(str(error) if isinstance(error, ValueError) else NodeError.describe(error))
            return
        self.message.emit(f"Optimizer step: {len(updates)} parameters updated")
        self._show(animate=False)

    def play(self, on: bool) -> None:
        if on and self.session is not None:
            self._interrupt_run()
            if self.session.at_end:
                self.session.reset()
            self.timer.start(self.interval_ms)
        else:
            self.timer.stop()
        self.changed.emit()

    def set_speed(self, steps_per_second: float) -> None:
        self.interval_ms = max(30, int(1000 / max(steps_per_second, 0.1)))
        if self.timer.isActive():
            self.timer.start(self.interval_ms)

    def _tick(self) -> None:
        if self.session is None or self.session.at_end:
            self.timer.stop()
            self.changed.emit()
            return
        self.step()

    # --- drawing -------------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Badges and panel again for the step shown (practice mode reveals an answer)."""
        self._show(animate=False)

    def _show(self, animate: bool = True) -> None:
        session, overlay = self.session, self.overlay
        if session is None or overlay is None:
            return
        states = session.states()
        overlay.show_states(with_instances(states, self.document.graph) if self.document else states)
        for update in session.updates:  # a Parameter's badge: its new value, the gradient used
            if "." not in update.name and (badge := overlay.badge(update.name)) is not None:
                if badge.set_update(update.before, update.after, update.grad):
                    overlay.place(update.name)
        event = session.current
        # a step inside a block instance lights the instance up (app/stepper/blocks.py)
        shown = shown_node(event.node, overlay.scene.nodes) if event else None
        overlay.highlight(shown, event.phase if event else "forward")
        if event is not None and animate:
            overlay.traverse(self._edges_of(event), min(600, int(self.interval_ms * 0.8)))
        if self.inside is not None:
            self._show_inside(states, event)
        self.panel.show_session(session)
        self.changed.emit()

    def _show_inside(self, states: dict[str, Any], event: Any) -> None:
        """Badges on the open block's inner nodes, from the steps of the instance it was opened from."""
        assert self.inside is not None
        scene, instance = self.inside
        if self.inside_overlay is None:
            self.inside_overlay = Overlay(scene, lambda _: None)
        self.inside_overlay.show_states(inner_values(states, instance, scene.nodes))
        inner = (
            event.node.rpartition(SEPARATOR)[2]
            if event and event.node.startswith(instance + SEPARATOR)
            else None
        )
        self.inside_overlay.highlight(inner, event.phase if event else "forward")

    def _edges_of(self, event: Any) -> list[tuple[PortRef, bool]]:
        """The edges a step moves along: into the node (forward), back out of its inputs (backward),
        or from each consumer back to the fanned-out value (accumulate)."""
        if event.phase == "accumulate":
            return [(PortRef(read.node, read.port), True) for read in event.step.read_refs]
        assert self.session is not None
        instr = self.session.program.by_node[event.node]
        ports = [p for p, a in zip(instr.spec.inputs, instr.args) if a]
        if event.phase == "backward":
            ports = [p for p in ports if f"{event.node}.{p}" in event.passed]
        return [(PortRef(event.node, p), event.phase == "backward") for p in ports]

    def open_viewer(self, node_id: str) -> None:
        """A badge was clicked: its value and gradient, in a popup beside the badge when small."""
        overlay, session = self.overlay, self.session
        if overlay is None or session is None or (badge := overlay.badge(node_id)) is None:
            return
        names = session.names
        value = f"{node_id}.{badge.output}"
        values = {names.value(value): badge.value, names.derivative(session.of, value): badge.grad}
        values = {caption: v for caption, v in values.items() if v is not None}
        if not values:
            return
        if self.viewer is not None:
            self.viewer.close()
        parent = self.panel.window() if isinstance(self.panel, QWidget) else None
        self.viewer = ValueViewer(names.node(node_id), values, parent)
        view = overlay.scene.views()[0]
        corner = view.mapFromScene(badge.mapToScene(badge.boundingRect().bottomLeft()))
        self.viewer.move(view.viewport().mapToGlobal(corner))
        self.viewer.show()
