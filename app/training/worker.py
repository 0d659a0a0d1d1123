"""The training worker: a QObject living in its own QThread that owns the Trainer.

The GUI thread never touches the Trainer, and the worker never touches widgets or the Graph: it
receives a snapshot of the graph file as text, and answers with signals (queued to the GUI
thread). Pause and Stop set a flag the training loop polls between steps, so the loop stops within
one step; Resume runs the same Trainer on. An edited training section reaches a running Trainer
the same way, read between steps (`Trainer.retune`). Besides Trainer's Progress reports it sends, at a
bounded rate, a decision-boundary frame (2-D classification sets), histograms of one node and, when
the derivative lab follows training, a copy of the weights.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from graphcore.program import NodeError

BOUNDARY_RES = 64
BOUNDARY_INTERVAL = 0.25  # seconds between decision-boundary frames
HISTOGRAM_INTERVAL = 0.5
HISTOGRAM_BINS = 40
WEIGHTS_INTERVAL = 0.1
FLOW_INTERVAL = 0.5  # seconds between gradient-flow frames while running


RequestKind = Literal["run", "step", "reset", "drop", "report", "retune"]  # report: send the extras now


@dataclass
class Request:
    """What the GUI asks of the worker: build (from graph text), run, step, reset or drop."""

    kind: RequestKind
    graph_text: str | None = None  # a new graph to build a Trainer from (None: keep the current one)
    base_dir: str = "."
    overrides: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    weights: Any = None  # the graph's Weights (graphcore.files.weights): the text names their file only


@dataclass
class TrainerInfo:
    total_steps: int
    parameters: list[str]
    classification: bool
    device: str
    boundary: bool  # a 2-D classification set: decision-boundary frames will come


@dataclass
class BoundaryFrame:
    image: np.ndarray  # [res, res], image[i, j] at (xs[i], ys[j]); -1..1, sign = predicted class
    rect: tuple[float, float, float, float]  # x, y, width, height
    points: np.ndarray  # [n, 2] training samples
    labels: np.ndarray  # [n] class of each sample
    step: int


@dataclass
class NodeHistograms:
    node: str
    step: int
    histograms: dict[str, tuple[np.ndarray, np.ndarray]]  # "value x.out" -> (counts, edges)


@dataclass
class WeightsFrame:
    """The trainer's weights after `step` steps and its first few training samples, copied to the CPU
    so that another thread can evaluate the graph there without touching the training tensors."""

    step: int
    state: dict[str, Any]  # the module's state_dict (parameters and buffers)
    inputs: dict[str, Any]  # Input node -> its first rows of the training set


def histogram(tensor: Any) -> tuple[np.ndarray, np.ndarray] | None:
    values = tensor.detach().float().cpu().numpy().ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high))


class TrainingWorker(QObject):
    built = Signal(object)  # TrainerInfo
    progress = Signal(object)  # graphcore.training.train.Progress
    boundary = Signal(object)  # BoundaryFrame
    histograms = Signal(object)  # NodeHistograms
    finished = Signal(object)  # TrainResult of a run, or None after a step/reset/drop
    nonfinite = Signal(object)  # graphcore.training.train.NonFinite
    weights = Signal(object)  # WeightsFrame, while weights_rows > 0
    flow = Signal(object)  # graphcore.training.flow.FlowFrame, while watch_flow is on
    retuned = Signal(str)  # what became of an edited training section, in a sentence
    budget = Signal(int, int)  # steps done and the step budget, after an edit the trainer took
    failed = Signal(str)  # a sentence for the user (bad training section, dataset, device)
    failed_at = Signal(str)  # the node a failure names (NodeError, MemoryBudgetError), sent just before

    def __init__(self) -> None:
        super().__init__()
        self.trainer: Any = None
        self.stop_flag = threading.Event()  # set by the GUI thread: pause or stop
        self.watch_node: str | None = None  # the node whose histograms to send (set by the GUI thread)
        self.weights_rows = 0  # > 0: send WeightsFrames with this many samples (set by the GUI thread)
        self.watch_flow = False  # send gradient-flow frames (set by the GUI thread)
        self._probe: Any = None  # the FlowProbe of the current trainer, armed or not
        self._flow_armed, self._last_flow = False, 0.0
        self._edited: dict[str, Any] | None = None  # a training section for the trainer (see `retune`)
        self._edited_lock = threading.Lock()
        self._boundary: dict[str, Any] | None = None
        self._last_boundary = self._last_histogram = self._last_weights = 0.0

    # --- requests (run in the worker thread) -----------------------------------------------------

    @Slot(object)
    def handle(self, request: Request) -> None:
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
                self.failed_at.emit(node)
            self.failed.emit(_sentence(error))
        self.finished.emit(None)

    def _build(self, request: Request) -> None:
        from graphcore.files.fileformat import graph_from_dict, parse_json
        from graphcore.training.train import Trainer

        self.trainer = None
        if request.graph_text is None:
            raise ValueError("there is no graph to train")
        # a snapshot of the open document, not a file: its problems are named without a file name
        graph = graph_from_dict(parse_json(request.graph_text))
        graph.weights = request.weights  # saved weights: the run resumes from them
        trainer = Trainer(graph, Path(request.base_dir), request.overrides, dtype="float32")
        self.trainer = trainer
        self._boundary = _boundary_setup(trainer)
        self.built.emit(
            TrainerInfo(
                trainer.total_steps,
                [name for name, _ in trainer.module.named_parameters()],
                trainer.config.predict is not None,
                str(trainer.device),
                self._boundary is not None,
            )
        )
        self._send_extras(force=True)
        self._send_flow()

    def _run(self, steps: int | None) -> None:
        result = self.trainer.run(
            listener=self._on_progress, should_stop=self._between_steps, report_interval=0.05, steps=steps
        )
        self._send_extras(force=True)
        self._send_flow()
        if result.nonfinite is not None:
            self.nonfinite.emit(result.nonfinite)
        self.finished.emit(result)

    def _step(self) -> None:
        from graphcore.training.train import Progress

        trainer = self.trainer
        probe = self._flow_probe()
        if probe is not None:
            probe.arm()
        trainer.step()
        if probe is not None:
            self.flow.emit(probe.collect())
        records, nonfinite = trainer.settle()  # the user waits for this one step: read it now
        record = records[-1]
        accuracy = trainer.accuracy(trainer.last_prediction, trainer.last_batch.get(trainer.target))
        self.progress.emit(
            Progress(
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
        )
        self._send_extras(force=True)
        if nonfinite is not None:
            self.nonfinite.emit(nonfinite)

    def retune(self, section: dict[str, Any] | None) -> None:
        """Called from the GUI thread: the trainer takes this section at its next step (or at the
        next "retune" request when it is not running); None forgets an edit not yet taken."""
        with self._edited_lock:
            self._edited = section

    def _between_steps(self) -> bool:
        self._apply_edits()
        self._flow_between_steps()
        return self.stop_flag.is_set()

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
            self.flow.emit(probe.collect())
        elif now - self._last_flow >= FLOW_INTERVAL:
            probe.arm()
            self._flow_armed = True

    def _send_flow(self) -> None:
        """A frame now (no update ratios unless a step was armed for), when frames are asked for."""
        probe = self._flow_probe()
        if probe is not None:
            self._flow_armed = False
            self.flow.emit(probe.collect())

    def _apply_edits(self) -> None:
        with self._edited_lock:
            section, self._edited = self._edited, None
        if section is None or self.trainer is None:
            return
        try:
            later = self.trainer.retune(section)
        except ValueError as error:  # TrainingConfigError: the message names the key
            self.retuned.emit(f"Not applied to this run: {error}")
            return
        self.budget.emit(self.trainer.step_count, self.trainer.total_steps)
        applied = "Training edits apply from the next step"
        self.retuned.emit(f"{applied}; {', '.join(later)} at the next Start" if later else applied)

    def _on_progress(self, progress: Any) -> None:
        self.progress.emit(progress)
        self._send_extras()

    # --- extras: decision boundary and histograms --------------------------------------------------

    def _send_extras(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self._boundary is not None and (force or now - self._last_boundary >= BOUNDARY_INTERVAL):
            self._last_boundary = now
            self.boundary.emit(_boundary_frame(self.trainer, self._boundary))
        node = self.watch_node
        if node and (force or now - self._last_histogram >= HISTOGRAM_INTERVAL):
            self._last_histogram = now
            found = _node_histograms(self.trainer, node)
            if found is not None:
                self.histograms.emit(found)
        rows = self.weights_rows
        if rows > 0 and (force or now - self._last_weights >= WEIGHTS_INTERVAL):
            self._last_weights = now
            self.weights.emit(_weights_frame(self.trainer, rows))


def _sentence(error: Exception) -> str:
    """TrainingConfigError, DatasetError, InvalidGraph, MemoryBudgetError, a NodeError (what a node
    raised while training) and device errors are ValueErrors whose message names the key or node;
    anything else is shown with its type."""
    if isinstance(error, ValueError):
        return str(error)
    return NodeError.describe(error)


def _boundary_setup(trainer: Any) -> dict[str, Any] | None:
    """The grid to evaluate for a 2-D classification set, or None when the set is not one."""
    from graphcore._torch import torch

    config, data = trainer.config, trainer.train_data
    target = trainer.target
    feature = next(
        (
            node
            for node, t in data.items()
            if node != target and t.is_floating_point() and t.dim() == 2 and t.shape[1] == 2
        ),
        None,
    )
    if config.predict is None or feature is None or target not in data:
        return None
    x = data[feature]
    low, high = x.min(0).values, x.max(0).values
    margin = (high - low) * 0.15 + 1e-3
    low, high = low - margin, high + margin
    xs = torch.linspace(float(low[0]), float(high[0]), BOUNDARY_RES)
    ys = torch.linspace(float(low[1]), float(high[1]), BOUNDARY_RES)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    inputs = {feature: grid.to(x.device, x.dtype)}
    for node, t in data.items():
        if node != feature:
            inputs[node] = t[:1].expand(len(grid), *t.shape[1:]).contiguous()
    y = data[target]
    if y.is_floating_point() and y.dim() == 2 and y.shape[1] > 1:
        labels = y.argmax(-1)
    elif y.is_floating_point():
        labels = (y.reshape(-1) > 0.5).long()
    else:
        labels = y.reshape(-1)
    rect = (float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1]))
    return {
        "inputs": inputs,
        "rect": rect,
        "points": x.detach().cpu().numpy(),
        "labels": labels.detach().cpu().numpy(),
    }


def _boundary_frame(trainer: Any, setup: dict[str, Any]) -> BoundaryFrame:
    from graphcore._torch import torch

    module = trainer.module
    module.eval()
    try:
        with torch.no_grad():
            out = trainer.runtime.forward(setup["inputs"])[trainer.config.predict].float()
    finally:
        module.train()
    if out.dim() >= 2 and out.shape[-1] > 1:
        classes = out.shape[-1]
        image = out.argmax(-1).float() / max(1, classes - 1) * 2 - 1
    else:
        score = out.reshape(-1)
        threshold = trainer.config.threshold
        if threshold == 0.5 and bool(((score >= 0) & (score <= 1)).all()):
            image = (score - 0.5) * 2
        else:
            image = torch.tanh(score - threshold)
    image = torch.nan_to_num(image, 0.0).reshape(BOUNDARY_RES, BOUNDARY_RES)
    return BoundaryFrame(
        image.cpu().numpy(), setup["rect"], setup["points"], setup["labels"], trainer.step_count
    )


def _node_histograms(trainer: Any, node: str) -> NodeHistograms | None:
    """Histograms of a node's value on the first batch, and of its weights and their gradients."""
    from graphcore.interpreter import Evaluator

    program, runtime = trainer.program, trainer.runtime
    if node not in program.by_node:
        return None
    found: dict[str, Any] = {}
    instr = program.by_node[node]
    if instr.spec.kind == "parameter":
        weights = [(node, runtime.source_value(instr))]
    elif instr.spec.kind == "layer":
        weights = [(f"{node}.{k}", p) for k, p in runtime.module_of(instr).named_parameters()]
    else:
        weights = []
    batch = {k: v[: trainer.config.batch_size] for k, v in trainer.train_data.items()}
    given = {program.by_node[k].outs[0]: v for k, v in batch.items() if k in program.by_node}
    evaluator = Evaluator(runtime)  # the program up to the node, on the first batch
    module = trainer.module
    module.eval()
    try:
        for step in evaluator.steps(given):
            if step.node == node:
                break
    finally:
        module.train()
    values = evaluator.env
    for name in instr.outs:
        if values.get(name) is not None and values[name].is_floating_point():
            found[f"value {name}"] = histogram(values[name])
    for name, weight in weights:
        found[f"weight {name}"] = histogram(weight)
        if weight.grad is not None:
            found[f"gradient {name}"] = histogram(weight.grad)
    return NodeHistograms(node, trainer.step_count, {k: v for k, v in found.items() if v is not None})


def _weights_frame(trainer: Any, rows: int) -> WeightsFrame:
    state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.module.state_dict().items()}
    inputs = {node: t[:rows].detach().to("cpu", copy=True) for node, t in trainer.train_data.items()}
    return WeightsFrame(trainer.step_count, state, inputs)
