"""TrainingWorker: the window's end of the training process, as Qt signals.

The Trainer lives in a child process (graphcore.training.child), so the GUI thread never waits for
a training step and never shares the GIL with one. A QSocketNotifier on the pipe wakes the event
loop when the child reports; each message becomes the signal of its name. Requests, pauses and
settings are written to the pipe at once (the child reads them on a thread of its own). The child
starts on first use, or is the spare a closed window left. When it ends unexpectedly (killed, out
of memory) the run fails with one sentence and the next Start starts a new one.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from graphcore.training import child as training_child
from graphcore.training.host import Request

READ_BUDGET = 0.008  # seconds of reading per wake-up: the event loop paints between bursts
QUERY_WAIT = 30.0  # seconds a query waits for the child's answer


class TrainingProcessError(RuntimeError):
    """The training process did not answer a query; the message says why, in a sentence."""


class TrainingWorker(QObject):
    built = Signal(object)  # TrainerInfo
    progress = Signal(object)  # graphcore.training.records.Progress
    boundary = Signal(object)  # BoundaryFrame
    histograms = Signal(object)  # NodeHistograms
    finished = Signal(object)  # TrainResult of a run, or None after a step/reset/drop
    nonfinite = Signal(object)  # graphcore.training.records.NonFinite
    weights = Signal(object)  # WeightsFrame, while weights_rows > 0
    flow = Signal(object)  # graphcore.training.flow.FlowFrame, while watch_flow is on
    retuned = Signal(str)  # what became of an edited training section, in a sentence
    budget = Signal(int, int)  # steps done and the step budget, after an edit the trainer took
    failed = Signal(str)  # a sentence for the user (bad training section, dataset, device, a dead child)
    failed_at = Signal(str)  # the node a failure names (NodeError, MemoryBudgetError), sent just before

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.child: training_child.TrainingProcess | None = None
        self._notifier: QSocketNotifier | None = None
        self.watch_node: str | None = None  # what the child was last told (see `set`)
        self.weights_rows = 0
        self.watch_flow = False
        self._queries = 0
        self._held: list[tuple[str, Any]] = []  # messages read while a query waited, to emit next
        self._failure: list[tuple[str, Any]] = []  # failed_at and failed, until the request's finished

    # --- to the child ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Have a child ready (it imports torch meanwhile); nothing to do when there is one."""
        if self.child is None:
            self._attach(training_child.take())

    def send(self, request: Request) -> None:
        self._write("request", request)

    def interrupt(self) -> None:
        """Pause: a running loop ends after its current step (nothing to do when none runs)."""
        if self.child is not None:
            self._write("interrupt")

    def set(self, name: str, value: Any) -> None:
        """watch_node, weights_rows or watch_flow, from the child's next report on."""
        setattr(self, name, value)
        if self.child is not None:
            self._write("set", (name, value))

    def retune(self, section: dict[str, Any] | None) -> None:
        """The trainer takes this section at its next step (None forgets an edit not yet taken)."""
        if self.child is not None:
            self._write("retune", section)

    def query(self, what: str, args: Any = None) -> Any:
        """Ask the child (see graphcore.training.child.answer) and wait for the answer; what else
        it says meanwhile is emitted afterwards, from the event loop."""
        if self.child is None:
            return None
        self._queries += 1
        ident = self._queries
        self._write("query", (ident, what, args))
        deadline = time.monotonic() + QUERY_WAIT
        while self.child is not None:
            try:
                kind, payload = self.child.receive(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise TrainingProcessError("The training process did not answer in time") from None
            except EOFError:
                self._child_ended()
                break
            if kind == "answer" and payload[0] == ident:
                _, ok, value = payload
                if not ok:
                    raise TrainingProcessError(value)
                return value
            self._held.append((kind, payload))
            QTimer.singleShot(0, self._emit_held)
        raise TrainingProcessError("The training process ended before it answered")

    def _write(self, kind: str, payload: Any = None) -> None:
        self.prepare()
        assert self.child is not None
        try:
            self.child.send(kind, payload)
        except OSError:  # the child is gone: the notifier reports how, from the event loop
            pass

    def _attach(self, child: training_child.TrainingProcess) -> None:
        self.child = child
        self._notifier = QSocketNotifier(child.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_readable)
        for name in ("watch_node", "weights_rows", "watch_flow"):
            child.send("set", (name, getattr(self, name)))

    def _detach(self) -> training_child.TrainingProcess | None:
        child, self.child = self.child, None
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        return child

    def shutdown(self) -> None:
        """The window closes: its child becomes the spare (or ends); safe to call twice."""
        child = self._detach()
        if child is not None:
            training_child.give_back(child)

    # --- from the child ----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        self._emit_held()
        deadline = time.perf_counter() + READ_BUDGET
        while self.child is not None and self.child.ready():
            try:
                kind, payload = self.child.receive()
            except EOFError:
                self._child_ended()
                return
            self._emit(kind, payload)
            if time.perf_counter() > deadline:
                break  # the notifier fires again for what is left

    def _emit_held(self) -> None:
        held, self._held = self._held, []
        for kind, payload in held:
            self._emit(kind, payload)

    def _emit(self, kind: str, payload: Any) -> None:
        if kind in ("failed_at", "failed"):  # shown with the request's end, as one change of state
            self._failure.append((kind, payload))
            return
        if kind == "finished":
            failure, self._failure = self._failure, []
            for name, text in failure:
                getattr(self, name).emit(text)
        if kind == "budget":
            self.budget.emit(*payload)
        elif kind not in ("answer", "mark"):  # an answer nobody waits for any more
            getattr(self, kind).emit(payload)

    def _child_ended(self) -> None:
        child = self._detach()
        assert child is not None
        self._failure = []
        how = child.ended()
        child.close()
        self.failed.emit(f"The training process {how}; Start trains again from the graph")
        self.finished.emit(None)
