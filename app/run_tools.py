"""The Run menu, the Train and Stepper toolbars, and their docks, wired to the window's document.

The window makes one RunTools on its Shell (which it follows from document to document) and shuts
it down on close:
training runs in the session's own process; the stepper runs on the GUI thread one node at a time
(Run to End in short slices, and its button stops it while it runs).
A non-finite value or gradient pauses training, frames the node where it first appeared, selects
it and names it in the Train panel and the status bar; a node that raises (or a graph over the memory
budget) ends the run and is framed and named the same way. An edit of the graph a run trains (a node
added, deleted or re-parametrised, a wire made or removed) stops the run and says what changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QToolBar

from app.plots.training_plots import TrainingPlots
from app.plots.views import BoundaryView, HistogramView
from app.stepper.controller import StepperController
from app.stepper.overlay import Overlay
from app.stepper.panel import StepperPanel
from app.training.dock import TrainDock
from app.training.session import TrainingSession
from graphcore.graph import Graph

if TYPE_CHECKING:
    from app.canvas.scene import CanvasScene
    from app.editing.document import Document
    from app.shell import Shell

TRAIN_ACTIONS = (
    ("start", "Start", "F5", "Train from fresh weights with the training section as it is now"),
    ("pause", "Pause", None, "Pause after the current step (Resume continues)"),
    ("resume", "Resume", None, "Continue a paused run"),
    ("step_batch", "Step Batch", None, "One optimizer step on one batch"),
    ("stop", "Stop", "Shift+F5", "End the run (Start begins again)"),
    ("reset_weights", "Reset Weights", None, "Fresh weights from the seed; the plots start over"),
)
STEPPER_ACTIONS = (
    ("stepper_mode", "Stepper Mode", "Ctrl+F10", "Step through forward and backward propagation"),
    ("step_back", "Step Back", "Shift+F10", "Undo one step"),
    ("step", "Step", "F10", "One node of the forward pass, then of the backward pass"),
    ("play", "Play", None, "Step automatically at the speed the slider sets"),
    ("run_to_end", "Run to End", None, "All remaining steps of this pass"),
    ("stepper_reset", "Reset", None, "Back to the first step"),
    ("optimizer_step", "Optimizer Step", None, "After the backward pass: update each parameter"),
)


class RunTools(QObject):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.actions: dict[str, QAction] = {}
        self.menu = shell.add_menu("&Run")
        for name, text, keys, tip in TRAIN_ACTIONS:
            self._action(name, text, keys, tip)
        self.menu.addSeparator()
        for name, text, keys, tip in STEPPER_ACTIONS:
            self._action(name, text, keys, tip)
        self.actions["stepper_mode"].setCheckable(True)
        self.actions["play"].setCheckable(True)

        self.session = TrainingSession(self)
        self.plots, self.boundary, self.histograms = TrainingPlots(), BoundaryView(), HistogramView()
        self.train_dock = TrainDock([self.actions[n] for n, *_ in TRAIN_ACTIONS])
        self.stepper_panel = StepperPanel()
        self.stepper = StepperController(self.stepper_panel, self)
        self.overlay: Overlay | None = None  # the non-finite frame
        self._scene: CanvasScene | None = None
        self._document: Document | None = None  # the document whose training edits reach the session
        self._docks()
        self._toolbars()
        self._wire()
        self._enable()
        shell.follow_document(self._follow)

    def _action(self, name: str, text: str, keys: str | None, tip: str) -> None:
        action = QAction(text, self.shell.widget)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.setToolTip(f"{text}: {tip}" + (f" ({keys})" if keys else ""))
        action.setStatusTip(tip)
        self.menu.addAction(action)
        self.actions[name] = action

    def _docks(self) -> None:
        add, areas = self.shell.add_dock, Qt.DockWidgetArea
        right, bottom = areas.RightDockWidgetArea, areas.BottomDockWidgetArea
        add("train", "Train", self.train_dock, right)
        add("stepper", "Stepper", self.stepper_panel, right, tab_with="inspector")
        self.shell.raise_dock("inspector")
        self.shell.split_dock("inspector", "train", Qt.Orientation.Vertical)
        add("plots", "Training Plots", self.plots, bottom, tab_with="history")
        add("histograms", "Histograms", self.histograms, bottom, tab_with="plots")
        add("boundary", "Decision Boundary", self.boundary, bottom, tab_with="histograms")
        self.shell.raise_dock("diagnostics")

    def _toolbars(self) -> None:
        train = QToolBar("Train", self.shell.widget)
        train.setObjectName("train_toolbar")
        train.addActions([self.actions[n] for n, *_ in TRAIN_ACTIONS])
        self.shell.add_toolbar(train)
        stepper = QToolBar("Stepper", self.shell.widget)
        stepper.setObjectName("stepper_toolbar")
        stepper.addActions([self.actions[n] for n, *_ in STEPPER_ACTIONS])
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 20)  # steps per second
        self.speed.setValue(2)
        self.speed.setMaximumWidth(120)
        self.speed.setToolTip("Auto-play speed (steps per second)")
        stepper.addWidget(QLabel(" speed "))
        stepper.addWidget(self.speed)
        self.shell.add_toolbar(stepper)
        self.toolbars = (train, stepper)

    def _wire(self) -> None:
        a, session, w = self.actions, self.session, self.shell
        a["start"].triggered.connect(self.start)
        a["pause"].triggered.connect(session.pause)
        a["resume"].triggered.connect(lambda: session.resume())
        a["step_batch"].triggered.connect(self.step_batch)
        a["stop"].triggered.connect(session.stop)
        a["reset_weights"].triggered.connect(self.reset_weights)
        session.state_changed.connect(self._on_state)
        session.message.connect(w.show_message)
        session.worker.progress.connect(self._on_progress)
        session.worker.boundary.connect(self._on_boundary)
        session.worker.budget.connect(self._on_budget)
        session.worker.histograms.connect(self._on_histograms)
        session.worker.nonfinite.connect(self._on_nonfinite)
        session.failed.connect(self._on_failed)
        self.train_dock.refused.connect(w.show_message)
        self.train_dock.show_problem.clicked.connect(self._show_problem_node)
        stepper = self.stepper
        a["stepper_mode"].toggled.connect(self._stepper_mode)
        a["step"].triggered.connect(stepper.step)
        a["step_back"].triggered.connect(stepper.back)
        a["run_to_end"].triggered.connect(self._run_to_end_or_stop)
        a["stepper_reset"].triggered.connect(stepper.reset)
        a["optimizer_step"].triggered.connect(stepper.optimizer_step)
        a["play"].toggled.connect(stepper.play)
        self.speed.valueChanged.connect(stepper.set_speed)
        stepper.set_speed(self.speed.value())
        stepper.changed.connect(self._enable)
        stepper.message.connect(w.show_message)

    # --- the document ---------------------------------------------------------------------------------

    def _follow(self, document: Document | None) -> None:
        if document is None:
            self.unbind()
        else:
            assert self.shell.scene is not None
            self.bind(document, self.shell.scene)

    def bind(self, document: Document, scene: CanvasScene) -> None:
        """The window has a new document (and scene): follow it; training and stepping start over."""
        self.session.forget()
        self.train_dock.bind(document)
        self.train_dock.reset()
        self.plots.reset()
        self.overlay = None
        self.actions["stepper_mode"].setChecked(False)
        self.stepper.bind(document, scene)
        self._scene = scene
        scene.selectionChanged.connect(self._on_selection)
        self._document = document
        document.signals.training_changed.connect(self._on_training_edited)
        document.stack.indexChanged.connect(self._on_graph_edited)
        self._enable()

    def unbind(self) -> None:
        if self._document is not None:
            self._document.signals.training_changed.disconnect(self._on_training_edited)
            self._document.stack.indexChanged.disconnect(self._on_graph_edited)
            self._document = None
        if self._scene is not None:
            self._scene.selectionChanged.disconnect(self._on_selection)
            self._scene = None
        self.actions["stepper_mode"].setChecked(False)
        self.stepper.bind(None, None)
        self.train_dock.bind(None)
        self.overlay = None
        self.session.stop()

    def shutdown(self) -> None:
        self.unbind()
        self.session.shutdown()

    # --- training -------------------------------------------------------------------------------------

    def _graph_and_folder(self) -> tuple[Graph, Path | str]:
        """The graph to train, and the folder its data paths are relative to."""
        document = self.shell.document
        assert document is not None
        return document.graph, document.path.parent if document.path else "."

    def start(self) -> None:
        self.plots.clear()
        self.train_dock.reset()
        self._clear_nonfinite()
        self.shell.raise_dock("plots")
        self.session.start(*self._graph_and_folder())

    def step_batch(self) -> None:
        self.session.step(*self._graph_and_folder())

    def reset_weights(self) -> None:
        self.plots.clear()
        self.train_dock.reset()
        self._clear_nonfinite()
        self.session.reset_weights()

    def _on_training_edited(self) -> None:
        assert self.shell.document is not None
        self.session.retune(self.shell.document.graph)

    def _on_graph_edited(self) -> None:
        """A run trains the graph it was started with: an edit of that graph stops it, with a notice."""
        session = self.session
        if session.state in ("idle", "stopping") or session.structure is None:
            return
        assert self.shell.document is not None
        change = session.structure.change(self.shell.document.graph)
        if change:
            session.stop(f"Training stopped: the graph changed ({change})")

    def _on_progress(self, progress: Any) -> None:
        if self.session.stale:  # the previous document's run, winding down
            return
        self.plots.add(progress)
        self.train_dock.show_progress(progress.step, progress.total_steps)
        self.train_dock.show_losses(progress)

    def _on_budget(self, step: int, total: int) -> None:
        if not self.session.stale:
            self.train_dock.show_progress(step, total)

    def _on_boundary(self, frame: Any) -> None:
        if not self.session.stale:
            self.boundary.show_frame(frame)

    def _on_histograms(self, found: Any) -> None:
        if not self.session.stale:
            self.histograms.show_histograms(found)

    def _on_state(self, state: str) -> None:
        session, dock = self.session, self.train_dock
        info, result = session.info, session.last_result
        detail = ""
        if info and state == "running":
            detail = f"{info.total_steps} steps on {info.device}"
        elif result is not None and state == "finished":
            detail = f"{result.step} steps in {session.run_time:.1f} s"
        if session.error and state == "idle":
            dock.show_state("cannot train", session.error)
        elif session.notice and state == "idle":
            dock.show_notice(session.notice)
        elif session.nonfinite is None:
            dock.show_state(state, detail)
        self._enable()

    def _on_nonfinite(self, nonfinite: Any) -> None:
        if self.session.stale:
            return
        text = f"Training paused: {nonfinite}"
        self.train_dock.show_nonfinite(text)
        self.train_dock.show_state("paused", "a value is not finite")
        self.shell.show_message(text)
        self._show_problem_node()

    def _on_failed(self, text: str) -> None:
        """A node raised, or the graph is over the memory budget: name it in red and frame it."""
        if self.session.failed_node is not None:
            self.train_dock.show_nonfinite(text)
            self._show_problem_node()

    def _show_problem_node(self) -> None:
        """Frame and select the node where a value stopped being finite, or that failed."""
        nonfinite, scene = self.session.nonfinite, self.shell.scene
        node = nonfinite.node if nonfinite is not None else self.session.failed_node
        if node is None or scene is None or node not in scene.nodes:
            return
        if self.overlay is None:
            self.overlay = Overlay(scene, lambda _: None)
        self.overlay.highlight(node, "nonfinite")
        self.shell.show_node(node)

    def _clear_nonfinite(self) -> None:
        if self.overlay is not None:
            self.overlay.clear()
            self.overlay.deleteLater()
            self.overlay = None

    def _on_selection(self) -> None:
        nodes = self._scene.selected_node_ids() if self._scene is not None else []
        node = nodes[0] if len(nodes) == 1 else None
        self.histograms.follow(node)
        self.session.watch(node)

    # --- stepper --------------------------------------------------------------------------------------

    def _stepper_mode(self, on: bool) -> None:
        if on and not self.stepper.active:
            if self.stepper.start():
                self.shell.raise_dock("stepper")
            else:
                self.actions["stepper_mode"].setChecked(False)
        elif not on and self.stepper.active:
            self.actions["play"].setChecked(False)
            self.stepper.stop()
        self._enable()

    def _run_to_end_or_stop(self) -> None:
        if self.stepper.running:
            self.stepper.stop_run()
        else:
            self.stepper.run_to_end()

    def _show_run_to_end(self, running: bool) -> None:
        """The Run to End button is its own Stop while a run is under way."""
        if running:
            text, tip = "Stop Run", "Stop running to the end, at the step reached"
        else:
            _, text, _, tip = next(a for a in STEPPER_ACTIONS if a[0] == "run_to_end")
        action = self.actions["run_to_end"]
        action.setText(text)
        action.setToolTip(f"{text}: {tip}")
        action.setStatusTip(tip)

    def _enable(self) -> None:
        state, a = self.session.state, self.actions
        document = self.shell.document
        has_training = bool(document and document.graph.training)
        a["start"].setEnabled(has_training and state in ("idle", "finished", "paused"))
        a["pause"].setEnabled(state in ("running", "starting"))
        a["resume"].setEnabled(state == "paused" and self.session.nonfinite is None)
        a["step_batch"].setEnabled(has_training and state in ("idle", "paused", "finished"))
        a["stop"].setEnabled(state in ("running", "starting", "paused", "pausing", "finished", "busy"))
        a["reset_weights"].setEnabled(state in ("paused", "finished"))
        stepping = self.stepper.session
        for name in ("step", "step_back", "play", "run_to_end", "stepper_reset"):
            a[name].setEnabled(stepping is not None)
        a["optimizer_step"].setEnabled(stepping is not None and stepping.at_end and not stepping.updates)
        self._show_run_to_end(self.stepper.running)
        if (stepping is None or self.stepper.running) and a["play"].isChecked():
            a["play"].setChecked(False)
