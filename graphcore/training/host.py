"""TrainingHost: the one owner of a Trainer, answering the window's requests with messages.

It never touches Qt, widgets or the Graph: a request carries a snapshot of the graph file as text,
and every answer is `send(kind, payload)` (graphcore.training.child carries both over a pipe to
the window's process). Between steps the host calls `between_steps()`, where its process reads
what the window sent meanwhile: a pause (`stop`), the node to show histograms of, how many weight
rows to share, whether to measure gradient flow, an edited training section (`retune`). Besides
Trainer's Progress reports it sends, at a bounded rate, a decision-boundary frame (2-D
classification sets), histograms of one node, copies of the weights and gradient-flow frames.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from graphcore.program import NodeError
from graphcore.training import frames

BOUNDARY_INTERVAL = 0.25  # seconds between decision-boundary frames
HISTOGRAM_INTERVAL = 0.5
WEIGHTS_INTERVAL = 0.1
EXTRAS_SHARE = 0.02  # of the training's time, at most, for each kind of frame: a big model's come rarer
FLOW_INTERVAL = 0.5  # seconds between gradient-flow frames while running
REPORT_INTERVAL = 0.04  # seconds between Progress reports while running: a little over the plots' 20 Hz
ENVIRONMENT_PREFIX = "BACKPROP_"

RequestKind = Literal["run", "step", "reset", "drop", "report", "retune"]  # report: send the extras now
Send = Callable[[str, Any], None]


@dataclass
class Request:
    """What the window asks of the host: build (from graph text), run, step, reset or drop."""

    kind: RequestKind
    graph_text: str | None = None  # a new graph to build a Trainer from (None: keep the current one)
    base_dir: str = "."
    overrides: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    weights: Any = None  # the graph's Weights (graphcore.files.weights): the text names their file only
    environment: dict[str, str] | None = None  # the window's BACKPROP_* variables, set before a build


@dataclass
class TrainerInfo:
    total_steps: int
    parameters: list[str]
    classification: bool
    device: str
    boundary: bool  # a 2-D classification set: decision-boundary frames will come


class TrainingHost:
    """Messages it sends: built (TrainerInfo), progress (Progress), boundary, histograms, weights,
    flow (frames), finished (a TrainResult after a run, None after any other request), nonfinite,
    retuned (a sentence), budget ((steps done, step budget)), failed (a sentence), failed_at (the
    node a failure names, sent just before failed)."""

    def __init__(self, send: Send, between_steps: Callable[[], None] = lambda: None) -> None:
        self.send = send
        self.between_steps = between_steps
        self.trainer: Any = None
        self.stop = False  # pause or stop: the running loop ends after this step
        self.watch_node: str | None = None  # the node whose histograms to send
        self.weights_rows = 0  # > 0: send WeightsFrames with this many samples
        self.watch_flow = False  # send gradient-flow frames
        self._probe: Any = None  # the FlowProbe of the current trainer, armed or not
        self._flow_armed, self._last_flow = False, 0.0
        self._edited: dict[str, Any] | None = None  # a training section for the trainer (see `retune`)
        self._edited_lock = threading.Lock()
        self._boundary: dict[str, Any] | None = None
        self._paces = {
            "boundary": Pace(BOUNDARY_INTERVAL),
            "histograms": Pace(HISTOGRAM_INTERVAL),
            "weights": Pace(WEIGHTS_INTERVAL),
        }

    def handle(self, request: Request) -> None:
        if request.kind != "drop":
            self.stop = False
        try:
            if request.kind == "drop":
                self.trainer = None
            elif request.graph_text is not None or (self.trainer is None and request.kind != "reset"):
                self._build(request)
            if request.kind == "retune":
                self._apply_edits()
            if request.kind == "run" and self.trainer is not None:
                self._run(request.steps)
                return
            if request.kind == "step" and self.trainer is not None:
                self._step()
            elif request.kind == "reset" and self.trainer is not None:
                self.trainer.reset_weights()
                self._send_extras(force=True)
                self._send_flow()
            elif request.kind == "report" and self.trainer is not None:
                self._send_extras(force=True)
                self._send_flow()
        except Exception as error:  # noqa: BLE001 - the user sees the sentence; the app keeps running
            self.trainer = None  # half a step may have run: the next Start builds afresh
            node = getattr(error, "node", None)
            if isinstance(node, str):
                self.send("failed_at", node)
            self.send("failed", sentence(error))
        self.send("finished", None)

    def retune(self, section: dict[str, Any] | None) -> None:
        """The trainer takes this section at its next step (or at the next "retune" request when it
        is not running); None forgets an edit not yet taken. Safe to call from another thread."""
        with self._edited_lock:
            self._edited = section

    def _build(self, request: Request) -> None:
        from graphcore.files.fileformat import graph_from_dict, parse_json
        from graphcore.training.train import Trainer

        self.trainer = None
        if request.environment is not None:
            _mirror_environment(request.environment)
        if request.graph_text is None:
            raise ValueError("there is no graph to train")
        # a snapshot of the open document, not a file: its problems are named without a file name
        graph = graph_from_dict(parse_json(request.graph_text))
        graph.weights = request.weights  # saved weights: the run resumes from them
        trainer = Trainer(graph, Path(request.base_dir), request.overrides, dtype="float32")
        self.trainer = trainer
        self._boundary = frames.boundary_setup(trainer)
        info = TrainerInfo(
            trainer.total_steps,
            [name for name, _ in trainer.module.named_parameters()],
            trainer.config.predict is not None,
            str(trainer.device),
            self._boundary is not None,
        )
        self.send("built", info)
        self._send_extras(force=True)
        self._send_flow()

    def _run(self, steps: int | None) -> None:
        result = self.trainer.run(
            listener=self._on_progress,
            should_stop=self._between_steps,
            report_interval=REPORT_INTERVAL,
            steps=steps,
        )
        self._send_extras(force=True)
        self._send_flow()
        if result.nonfinite is not None:
            self.send("nonfinite", result.nonfinite)
        self.send("finished", result)

    def _step(self) -> None:
        from graphcore.training.records import Progress

        trainer = self.trainer
        probe = self._flow_probe()
        if probe is not None:
            probe.arm()
        trainer.step()
        if probe is not None:
            self.send("flow", probe.collect())
        records, nonfinite = trainer.settle()  # the user waits for this one step: read it now
        record = records[-1]
        accuracy = trainer.accuracy(trainer.last_prediction, trainer.last_batch.get(trainer.target))
        progress = Progress(
            trainer.step_count,
            trainer.epoch,
            trainer.total_steps,
            [(record.step, record.losses[trainer.config.lead.name])],
            record.lr,
            trainer.grad_norms(),
            {},
            accuracy,
            {name: [(record.step, value)] for name, value in record.losses.items()},
        )
        self.send("progress", progress)
        self._send_extras(force=True)
        if nonfinite is not None:
            self.send("nonfinite", nonfinite)

    def _between_steps(self) -> bool:
        self.between_steps()
        self._apply_edits()
        self._flow_between_steps()
        return self.stop

    def _flow_probe(self) -> Any:
        """The probe of the current trainer while frames are asked for, else None."""
        from graphcore.training.flow import FlowProbe

        if not self.watch_flow or self.trainer is None:
            self._probe = None
        elif self._probe is None or self._probe.trainer is not self.trainer:
            self._probe, self._flow_armed = FlowProbe(self.trainer), False
        return self._probe

    def _flow_between_steps(self) -> None:
        """At most every FLOW_INTERVAL: arm the probe before a step, collect after it."""
        probe, now = self._flow_probe(), time.perf_counter()
        if probe is None:
            return
        if self._flow_armed:
            self._flow_armed, self._last_flow = False, now
            self.send("flow", probe.collect())
        elif now - self._last_flow >= FLOW_INTERVAL:
            probe.arm()
            self._flow_armed = True

    def _send_flow(self) -> None:
        """A frame now (no update ratios unless a step was armed for), when frames are asked for."""
        probe = self._flow_probe()
        if probe is not None:
            self._flow_armed = False
            self.send("flow", probe.collect())

    def _apply_edits(self) -> None:
        with self._edited_lock:
            section, self._edited = self._edited, None
        if section is None or self.trainer is None:
            return
        try:
            later = self.trainer.retune(section)
        except ValueError as error:  # TrainingConfigError: the message names the key
            self.send("retuned", f"Not applied to this run: {error}")
            return
        self.send("budget", (self.trainer.step_count, self.trainer.total_steps))
        applied = "Training edits apply from the next step"
        self.send("retuned", f"{applied}; {', '.join(later)} at the next Start" if later else applied)

    def _on_progress(self, progress: Any) -> None:
        self.send("progress", progress)
        self._send_extras()

    def _send_extras(self, force: bool = False) -> None:
        trainer, grid, node, rows = self.trainer, self._boundary, self.watch_node, self.weights_rows
        if grid is not None:
            self._send_paced("boundary", force, lambda: frames.boundary_frame(trainer, grid))
        if node:
            self._send_paced("histograms", force, lambda: frames.node_histograms(trainer, node))
        if rows > 0:
            self._send_paced("weights", force, lambda: frames.weights_frame(trainer, rows))

    def _send_paced(self, kind: str, force: bool, make: Callable[[], Any]) -> None:
        pace = self._paces[kind]
        if not (force or pace.due()):
            return
        began = time.perf_counter()
        frame = make()
        if frame is not None:
            self.send(kind, frame)
        pace.spent(began)


class Pace:
    """When a kind of frame is due again: every `interval` seconds, or rarer when making and sending
    one costs more than EXTRAS_SHARE of the time in between (a big model's weights, say)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next = 0.0

    def due(self) -> bool:
        return time.perf_counter() >= self.next

    def spent(self, began: float) -> None:
        ended = time.perf_counter()
        self.next = ended + max(self.interval, (ended - began) / EXTRAS_SHARE)


def sentence(error: BaseException) -> str:
    """TrainingConfigError, DatasetError, InvalidGraph, MemoryBudgetError, a NodeError (what a node
    raised while training) and device errors are ValueErrors whose message names the key or node;
    anything else is shown with its type."""
    if isinstance(error, ValueError):
        return str(error)
    return NodeError.describe(error)


def backprop_environment() -> dict[str, str]:
    """The BACKPROP_* variables (memory budget and the like) a trainer built now would read."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENVIRONMENT_PREFIX)}


def _mirror_environment(environment: dict[str, str]) -> None:
    """This process's BACKPROP_* variables become `environment`: a child trains as the window would."""
    for name in backprop_environment():
        if name not in environment:
            del os.environ[name]
    os.environ.update(environment)
