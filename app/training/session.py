"""TrainingSession: the GUI-side owner of the training process, and the state the controls show.

States: "idle" (no trainer), "starting" (building one), "running", "pausing", "paused" (a trainer
waits, Resume runs it on), "busy" (one step or a reset), "stopping", "finished" (its step budget
is spent). Requests travel to the
training process in order (app/training/worker.py); Pause and Stop also interrupt the running loop,
which ends after its current step. A run trains the graph it was started with: the
structure it was built from is kept, so that the window can stop it when that graph is edited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.training.changes import Structure
from app.training.worker import TrainingWorker
from graphcore.files.fileformat import dumps
from graphcore.graph import Graph
from graphcore.training.host import Request, TrainerInfo, backprop_environment


class TrainingSession(QObject):
    state_changed = Signal(str)
    message = Signal(str)  # a sentence for the status bar
    failed = Signal(str)
    weights = Signal(object)  # a WeightsFrame of this document's run (never of the previous one's)
    flow = Signal(object)  # a FlowFrame (graphcore.training.flow) of this document's run, while watched

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"
        self.info: TrainerInfo | None = None
        self.last_result: Any = None
        self.nonfinite: Any = None
        self.error = ""  # why the last start or step could not train, if it could not
        self.failed_node: str | None = None  # the node that error names, when it names one
        self.notice = ""  # why the app (not the user) stopped the last run, if it did
        self.structure: Structure | None = None  # the graph the trainer was built from
        self.run_time = 0.0  # seconds trained since fresh weights, across pauses and resumes
        self.stale = False  # a run of the previous document is winding down: its reports are not shown
        self.worker = TrainingWorker(self)
        self._weights_wanted: dict[str, int] = {}  # who wants copies of the weights -> rows
        self.worker.built.connect(self._on_built)
        self.worker.finished.connect(self._on_finished)
        self.worker.nonfinite.connect(self._on_nonfinite)
        self.worker.failed_at.connect(self._on_failed_at)
        self.worker.failed.connect(self._on_failed)
        self.worker.retuned.connect(self.message)
        self.worker.weights.connect(self._on_weights)
        self.worker.flow.connect(self._on_flow)

    # --- requests -----------------------------------------------------------------------------------

    def _snapshot(self, graph: Graph) -> dict[str, Any]:
        self.worker.retune(None)  # the new trainer starts from this graph, edits included
        self.structure, self.run_time = Structure.of(graph), 0.0
        return {"graph_text": dumps(graph), "weights": graph.weights, "environment": backprop_environment()}

    def start(self, graph: Graph, base_dir: Path | str = ".", steps: int | None = None) -> None:
        """Train from fresh weights with the graph as it is now."""
        if self.state not in ("idle", "finished", "paused"):
            return
        self.nonfinite, self.info, self.error, self.failed_node, self.notice = None, None, "", None, ""
        self._set_state("starting")
        self._send(Request("run", base_dir=str(base_dir), steps=steps, **self._snapshot(graph)))

    def pause(self) -> None:
        if self.state in ("running", "starting"):
            self.worker.interrupt()
            self._set_state("pausing")

    def resume(self, steps: int | None = None) -> None:
        if self.state == "paused":
            self._set_state("running")
            self._send(Request("run", steps=steps))

    def step(self, graph: Graph, base_dir: Path | str = ".") -> None:
        """One optimizer step on one batch; builds a trainer first when there is none."""
        if self.state not in ("idle", "paused", "finished"):
            return
        fresh = self.state == "idle"
        if fresh:
            self.info, self.error, self.failed_node, self.notice = None, "", None, ""
        self._set_state("busy")
        extra = self._snapshot(graph) if fresh else {}
        self._send(Request("step", base_dir=str(base_dir), **extra))

    def stop(self, notice: str = "") -> None:
        """End the run and drop the trainer: the next Start begins again from the graph. `notice`
        says why, when the app stops it (the graph it trains was edited)."""
        if self.state in ("idle", "stopping"):
            return
        self.notice = notice
        if notice:
            self.message.emit(notice)
        self.worker.interrupt()
        self._set_state("stopping")
        self._send(Request("drop"))

    def forget(self) -> None:
        """Another document is shown: stop any run, and keep nothing of it to show (its last
        reports, still on their way from the worker, are dropped)."""
        self.stop()
        self.stale = self.state != "idle"
        self.nonfinite, self.error, self.failed_node, self.notice = None, "", None, ""
        self.last_result, self.structure = None, None

    def reset_weights(self) -> None:
        if self.state in ("paused", "finished"):
            self.nonfinite, self.run_time = None, 0.0
            self._set_state("busy")
            self._send(Request("reset"))

    def watch(self, node_id: str | None) -> None:
        """Histograms of this node from now on (read by the trainer at its next report)."""
        self.worker.set("watch_node", node_id)

    def share_weights(self, rows: int, subscriber: str) -> None:
        """Copies of the weights, with `rows` training samples, for `subscriber` from now on (0: it
        needs no more); the trainer sends as many rows as the hungriest subscriber wants, and one
        that waits sends its weights at once."""
        if rows:
            self._weights_wanted[subscriber] = rows
        else:
            self._weights_wanted.pop(subscriber, None)
        self.worker.set("weights_rows", max(self._weights_wanted.values(), default=0))
        if rows and self.state in ("paused", "finished"):
            self._send(Request("report"))

    def watch_flow(self, on: bool) -> None:
        """Gradient-flow frames from now on (or no more); a trainer that waits sends one at once."""
        self.worker.set("watch_flow", on)
        if on and self.state in ("paused", "finished"):
            self._send(Request("report"))

    def retune(self, graph: Graph) -> None:
        """The training section was edited: a trainer that exists (or is being built from an older
        snapshot) takes it from its next step."""
        if self.state in ("idle", "stopping"):
            return
        self.worker.retune(graph.training)  # pickled on its way: the child gets a copy
        if self.state in ("paused", "finished"):
            self._send(Request("retune"))

    def prepare(self) -> None:
        """Start the training process now, so that the first Start does not wait for its imports."""
        self.worker.prepare()

    def _send(self, request: Request) -> None:
        self.worker.send(request)  # the process starts on first use: a window that never trains has none

    def shutdown(self) -> None:
        """End the run and hand the process back (window close, test teardown); safe to call twice."""
        self.worker.shutdown()
        self.state = "idle"

    # --- answers from the worker -------------------------------------------------------------------

    def _on_built(self, info: TrainerInfo) -> None:
        self.info = info
        if self.state == "starting":
            self._set_state("running")

    def _on_finished(self, result: Any) -> None:
        if self.state == "stopping":
            if result is None:  # the drop request, after the run (if any) ended
                self.info = None
                self._set_state("idle")
            return
        if result is not None:
            self.last_result = result
            self.run_time += result.wall_time
        if self.info is None:  # the trainer could not be built (failed said why)
            self._set_state("idle")
        elif result is not None and result.stopped in ("finished", "early_stopping"):
            self._set_state("finished")
            how = result.stopped.replace("_", " ")
            self.message.emit(f"Training {how} after {result.step} steps ({self.run_time:.1f} s)")
        elif self.state in ("running", "pausing", "busy", "starting"):
            self._set_state("paused")

    def _on_weights(self, frame: Any) -> None:
        if not self.stale:
            self.weights.emit(frame)

    def _on_flow(self, frame: Any) -> None:
        if not self.stale:
            self.flow.emit(frame)

    def _on_nonfinite(self, nonfinite: Any) -> None:
        if not self.stale:
            self.nonfinite = nonfinite

    def _on_failed_at(self, node: str) -> None:
        if not self.stale:
            self.failed_node = node

    def _on_failed(self, text: str) -> None:
        """The worker dropped its trainer: the run ends (idle), and Start begins again."""
        if self.stale:
            return
        self.error, self.info = text, None
        self.message.emit(text)
        self.failed.emit(text)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stale = self.stale and state != "idle"
            self.state_changed.emit(state)
