"""Training on the fast path: the generated module, torch autograd and a torch.optim optimizer.

The loop does per step what a hand-written PyTorch loop does (index a batch, forward, backward,
optional clipping, optimizer and scheduler steps, read the loss) and nothing that grows with the
graph; with several objectives (graphcore.training.objectives) it does that once per objective due,
in their order, each with its own forward pass, optimizer and parameters. The section's `precision`
runs the forward passes under autocast (and scales fp16 losses), and `compile` runs them through
torch.compile (graphcore.training.performance).
Listeners get `Progress` reports at a bounded rate, carrying every loss since the last one,
so plotting never slows training. A step reads nothing back from the device: `settle` reads the
losses of the steps since the last settle in one go (for each report, each epoch's end, at least
every SETTLE_INTERVAL and at the end), with whether every weight is still finite. A non-finite loss
or gradient stops the run at the step where it first appeared, before that step's update, and
names the node (found by replaying the batch through the stepping engine): when a settle finds
one, the steps since a checkpoint (performance.Checkpoint) are taken again, checked one by one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from graphcore._torch import torch
from graphcore.blocks import flatten_with_ports, instance_paths, instances, rewired_training
from graphcore.graph import Graph
from graphcore.memory import Workload, optimizer_slots
from graphcore.program import Instr, NodeError, lower
from graphcore.runtime import Runtime
from graphcore.schedule import Phase
from graphcore.training import datasets
from graphcore.training.code import optimizer_code, schedule_code
from graphcore.training.config import TrainingConfig, TrainingConfigError, parse
from graphcore.training.objectives import (
    Objective,
    check_losses,
    check_parameters,
    parameter_names,
    selected,
)
from graphcore.training.performance import (
    Checkpoint,
    Stateful,
    autocast,
    check_compiler,
    check_precision,
    compiled,
    grad_scaler,
    random_state,
    set_random_state,
)
from graphcore.validate import check

LIVE_KEYS = {"objectives", "clip_grad_norm", "steps", "epochs"}  # see Trainer.retune


SETTLE_INTERVAL = 0.25  # seconds: the longest a run goes without reading its losses
CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints, at least (see Trainer._keep_replayable)


class StepError(ValueError):
    """A training step failed outside any one node (the message says at which step, and how)."""


@dataclass
class Progress:
    """One report to listeners: where training is, and everything new since the last report."""

    step: int
    epoch: int
    total_steps: int
    losses: list[
        tuple[int, float]
    ]  # (step, loss) for every step since the last report (the lead objective's)
    lr: float
    grad_norms: dict[str, float] = field(default_factory=dict)  # parameter -> gradient norm, now
    validation: dict[str, float] = field(default_factory=dict)  # latest validation metrics, if any
    accuracy: float | None = None  # latest training-batch accuracy
    objectives: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # name -> its (step, loss)


@dataclass
class NonFinite:
    """Where a NaN or Inf first appeared: in a node's value (forward) or a gradient (backward)."""

    node: str
    phase: Phase
    value: str
    step: int
    objective: str = ""  # the objective whose pass found it, when there are several

    def __str__(self) -> str:
        where = "value" if self.phase == "forward" else "gradient"
        of = f" in objective {self.objective!r}" if self.objective else ""
        return f"non-finite {where} at step {self.step}{of}: {self.value} (node {self.node!r})"


@dataclass
class StepRecord:
    """One step taken: the lead's learning rate in it, each due objective's loss (a tensor on the
    device until `Trainer.settle` reads it) and, once checked, where a NaN/Inf stopped it."""

    step: int  # the step count after it (unchanged by a step stopped at a NaN/Inf)
    epoch: int  # the epoch count before it
    lr: float
    losses: dict[str, Any] = field(default_factory=dict)
    found: NonFinite | None = None


StopReason = Literal["finished", "early_stopping", "stopped", "nonfinite"]


@dataclass
class TrainResult:
    losses: list[float]
    lrs: list[float]
    epochs: list[dict[str, float]]
    train: dict[str, float]
    validation: dict[str, float]
    wall_time: float
    stopped: StopReason
    nonfinite: NonFinite | None = None
    step: int = 0  # the trainer's step count at the end: every step since fresh weights, resumes included
    objectives: dict[str, list[float | None]] = field(
        default_factory=dict
    )  # name -> loss per step (None: not due)

    def as_dict(self) -> dict[str, Any]:
        return {
            "losses": self.losses,
            **({"objectives": self.objectives} if len(self.objectives) > 1 else {}),
            "lrs": self.lrs,
            "epochs": self.epochs,
            "train": self.train,
            "validation": self.validation,
            "wall_time": self.wall_time,
            "stopped": self.stopped,
            "nonfinite": None
            if self.nonfinite is None
            else {
                "node": self.nonfinite.node,
                "phase": self.nonfinite.phase,
                "value": self.nonfinite.value,
                "step": self.nonfinite.step,
            },
        }


def make_optimizer(config: Mapping[str, Any], parameters: Any, where: str = "optimizer") -> Any:
    """The optimizer `optimizer_code` writes: the export writes the same expression."""
    try:
        return eval(optimizer_code(config), {"torch": torch}, {"parameters": parameters})
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"training.{where}: {error}") from None


def make_schedule(
    config: Mapping[str, Any], optimizer: Any, total_steps: int, where: str = "schedule"
) -> Any:
    """The scheduler `schedule_code` writes (None for a constant rate), stepped once per step."""
    code = schedule_code(config)
    if code is None:
        return None
    try:
        return eval(code, {"torch": torch}, {"optimizer": optimizer, "total_steps": total_steps})
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"training.{where}: {error}") from None


def accuracy(prediction: Any, target: Any, threshold: float) -> float | None:
    """Share of right answers: argmax over classes, or `prediction > threshold` for one output."""
    if prediction is None or target is None:
        return None
    if prediction.dim() >= 2 and prediction.shape[-1] > 1:
        predicted = prediction.argmax(-1)
        if target.is_floating_point() and target.dim() == prediction.dim():
            target = target.argmax(-1)
    else:
        predicted = (prediction > threshold).long().reshape(target.shape)
    return (predicted == target.long()).double().mean().item()


class Trainer:
    """Trains a graph as its `training` section says; `overrides` replace keys of that section."""

    def __init__(
        self,
        graph: Graph,
        base_dir: Path | str = ".",
        overrides: Mapping[str, Any] | None = None,
        dtype: str = "float32",
    ) -> None:
        self._exposed: dict[str, str] = {}  # block ports the section may name -> the inlined values
        report = None
        if instances(graph):
            report = check(graph)  # a graph whose blocks cannot be inlined is refused as check says
            self._exposed = flatten_with_ports(graph)[1]
        self._blocks = instance_paths(graph)  # training groups may name a block: all its instances
        self.config: TrainingConfig = parse(self._flat({**graph.training, **(overrides or {})}))
        config = self.config
        shapes = (report or check(graph)).shapes
        self.program = program = lower(graph)
        check_losses(config.objectives, {value: shapes.get(value) for value in program.consumers})
        if config.predict is not None and config.predict not in program.consumers:
            raise TrainingConfigError(f"training: there is no output {config.predict!r} in the graph")
        fields = datasets.build(config.dataset, Path(base_dir), config.seed)
        for node, field_name in config.inputs.items():
            if node not in program.by_node or program.by_node[node].spec.kind != "input":
                raise TrainingConfigError(f"training.inputs.{node}: there is no Input node {node!r}")
            if field_name not in fields:
                raise TrainingConfigError(
                    f"training.inputs.{node}: the dataset has no field {field_name!r} "
                    f"(fields: {', '.join(fields)})"
                )
        inputs = {instr.node: instr.params for instr in program if instr.spec.kind == "input"}
        datasets.check_inputs(fields, config.inputs, inputs, config.batch_size)
        outputs = list(
            dict.fromkeys([o.loss for o in config.objectives] + ([config.predict] if config.predict else []))
        )
        data = {
            node: (fields[name].shape, fields[name].itemsize if fields[name].dtype.kind == "i" else None)
            for node, name in config.inputs.items()
        }  # what _tensors will put on the device
        slots = max(optimizer_slots(o.optimizer) for o in config.objectives)
        workload = Workload(config.batch_size, slots, data)
        self.runtime = Runtime(
            program, dtype=dtype, device=config.device, seed=config.seed, outputs=outputs, workload=workload
        )
        self.device = self.runtime.device
        check_precision(config.precision, self.device, self.runtime.dtype)
        if config.compile:
            check_compiler(self.device)  # said now, not at the first step
        nodes = [instr.node for instr in program]
        self.weights = parameter_names(self.runtime.module, self.runtime.generated.attributes, nodes)
        check_parameters(config.objectives, self.weights, self._blocks)
        train, validation = datasets.split(fields, config.validation, config.seed)
        self.train_data = self._tensors(train)
        self.validation_data = self._tensors(validation) if config.validation else {}
        self.n_train = len(next(iter(self.train_data.values())))
        self.steps_per_epoch = math.ceil(self.n_train / config.batch_size)
        self.total_steps = config.steps or self.steps_per_epoch * (config.epochs or 1)
        self.deferred = True  # False: check each step's loss and gradients as it is taken
        self.reset_weights()

    def _tensors(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        dtype = self.runtime.dtype
        return {
            node: torch.as_tensor(fields[name]).to(
                self.device, dtype=None if fields[name].dtype.kind == "i" else dtype
            )
            for node, name in self.config.inputs.items()
        }

    def reset_weights(self) -> None:
        """Fresh weights from the seed, a fresh optimizer and schedule: the run starts over."""
        cls = type(self.runtime.module)
        self.runtime.module = cls(dtype=self.runtime.dtype, seed=self.config.seed).to(self.device)
        self.runtime.load_weights(self.runtime.module)  # a weights file's values, when the graph has one
        self.module = self.runtime.module
        named = [self._parameters(o) for o in self.config.objectives]
        self.groups = [[p for _, p in group] for group in named]
        self._group_names = [[name for name, _ in group] for group in named]
        self._own_grads: dict[str, Any] = {}
        self.optimizers = [
            make_optimizer(o.optimizer, group, o.key("optimizer"))
            for o, group in zip(self.config.objectives, self.groups, strict=True)
        ]
        self.schedulers = [
            make_schedule(o.schedule, optimizer, self.total_steps, o.key("schedule"))
            for o, optimizer in zip(self.config.objectives, self.optimizers, strict=True)
        ]
        self.scalers = [grad_scaler(self.config.precision, self.device) for _ in self.config.objectives]
        self.compiled: Any = compiled(self.module) if self.config.compile else None
        self.generator = torch.Generator().manual_seed(self.config.seed)
        torch.manual_seed(self.config.seed)
        self.step_count, self.epoch, self._cursor = 0, 0, 0
        self._order: torch.Tensor | None = None  # this epoch's shuffle, drawn at its first batch
        self._last_losses: dict[str, float] = {}  # the last settled step's loss of each objective due in it
        self.last_batch: dict[str, Any] = {}  # the last step's batch and the lead's prediction on it
        self.last_prediction: Any = None
        self._taken: list[StepRecord] = []  # steps not yet settled
        self._held: list[StepRecord] = []  # steps settled by `retune`, for the next `settle` to give
        self._checkpoint: Checkpoint | None = None  # where a replay of the unsettled steps starts
        self._next_checkpoint = 0.0  # perf_counter time after which a settle drops it for a fresh one
        self._resumes: dict[int, Any] = {}  # step count -> random state it began with, after a settle
        self._settled = False  # a settle since the last step (the listener may have drawn numbers)
        self._taken_from = 0  # the step count the unsettled steps began at
        self._running: Objective = self.config.lead  # the objective whose pass runs now

    def _flat(self, section: dict[str, Any]) -> dict[str, Any]:
        """The section as the inlined graph reads it: a block's port ("res2.out") as its inner value."""
        return rewired_training(section, self._exposed) if self._exposed else section

    def _parameters(self, objective: Objective) -> list[tuple[str, Any]]:
        """The module's parameters an objective updates, in the module's order (as the export selects)."""
        chosen = selected(objective, self.weights, self._blocks)
        return [(name, p) for name, p in self.module.named_parameters() if chosen is None or name in chosen]

    @property
    def optimizer(self) -> Any:
        """The lead objective's optimizer (the only one of a single-loss section)."""
        return self.optimizers[0]

    @property
    def scheduler(self) -> Any:
        return self.schedulers[0]

    def retune(self, section: Mapping[str, Any]) -> list[str]:
        """Take an edited training section into this run, from its next step, as one would between
        steps of a torch loop: each objective's optimizer hyperparameters (the learning rate rescales
        its schedule), gradient clipping and the step budget (a cosine schedule keeps the span it
        started with). Returns the keys that only a fresh start can apply (dataset, inputs, an
        objective's loss, parameters, optimizer kind or schedule, batch size, seed, device, ...)."""
        new, old = parse(self._flat(dict(section))), self.config
        self._held = self.settle()[0]  # steps taken so far are settled under the settings they ran with
        self._checkpoint = None  # and a replay starts after the edit
        later = [
            f.name
            for f in fields(TrainingConfig)
            if getattr(new, f.name) != getattr(old, f.name) and f.name not in LIVE_KEYS
        ]
        objectives, changed = self._retune_objectives(new.objectives)
        self.config = replace(new, objectives=objectives, **{key: getattr(old, key) for key in later})
        self.total_steps = self.config.steps or self.steps_per_epoch * (self.config.epochs or 1)
        return later + changed

    def _retune_objectives(self, edited: tuple[Objective, ...]) -> tuple[tuple[Objective, ...], list[str]]:
        """The objectives this run goes on with (each with its optimizer retuned where only its
        hyperparameters changed), and the key paths of what waits for a fresh start."""
        old = self.config.objectives
        if [o.name for o in edited] != [o.name for o in old]:
            return old, ["objectives"]
        kept, later = [], []
        for index, (new, current) in enumerate(zip(edited, old, strict=True)):
            fixed = [
                key
                for key in ("loss", "parameters", "every", "schedule")
                if getattr(new, key) != getattr(current, key)
            ]
            later += [current.key(key) for key in fixed]
            if new.optimizer["name"] != current.optimizer["name"]:
                later.append(current.key("optimizer"))
            elif new.optimizer != current.optimizer:
                self._retune_optimizer(index, new.optimizer, current.optimizer)
                current = replace(current, optimizer=new.optimizer)
            kept.append(current)
        return tuple(kept), later

    def _retune_optimizer(self, index: int, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        fresh = make_optimizer(new, [torch.zeros(1, requires_grad=True)]).defaults  # torch's own defaults
        ratio = new["lr"] / old["lr"]
        for group in self.optimizers[index].param_groups:
            group.update({key: value for key, value in fresh.items() if key != "lr" and key in group})
            group["lr"] *= ratio
            if "initial_lr" in group:
                group["initial_lr"] *= ratio
        scheduler = self.schedulers[index]
        pending = [scheduler] if scheduler is not None else []
        while pending:  # SequentialLR (a warm-up) holds the ramp and the main schedule, and no base_lrs
            scheduler = pending.pop()
            for key in ("base_lrs", "_last_lr"):
                if hasattr(scheduler, key):
                    setattr(scheduler, key, [lr * ratio for lr in getattr(scheduler, key)])
            pending.extend(getattr(scheduler, "_schedulers", []))

    def _next_batch(self) -> dict[str, Any]:
        if self._order is None or self._cursor >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self.generator).to(self.device)
            self._cursor = 0
            if self.step_count:
                self.epoch += 1
        index = self._order[self._cursor : self._cursor + self.config.batch_size]
        self._cursor += self.config.batch_size
        return {node: tensor[index] for node, tensor in self.train_data.items()}

    def _forward(self, batch: Mapping[str, Any], loss: str | None = None) -> tuple[Any, Any]:
        """(the loss, the prediction or None) of one training forward pass, at the section's precision
        and through the compiled module when there is one; `loss` defaults to the lead's."""
        with autocast(self.config.precision, self.device):
            outputs = self._outputs(batch) if self.compiled is not None else self.runtime.forward(batch)
        prediction = outputs.get(self.config.predict) if self.config.predict else None
        return outputs[loss or self.config.loss], prediction

    def _outputs(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """What Runtime.forward returns, from the compiled module."""
        generated = self.runtime.generated
        data = {**self.runtime.inputs, **batch}
        result = self.compiled(*(data[node] for node in generated.inputs))
        return dict(zip(generated.outputs, result if len(generated.outputs) > 1 else (result,), strict=True))

    def step(self) -> None:
        """One step on one batch: each objective due takes its optimizer step, in order. Its losses
        stay on the device until `settle` reads them and runs the NaN/Inf watch: a host sync per step
        would stall a GPU, and the watch's reads cost a small model on the CPU a tenth of its step.
        With `deferred` off, each step is checked at once."""
        if self.deferred:
            self._keep_replayable()
        if not self._taken:
            self._taken_from = self.step_count
        self._taken.append(self._take_step(checked=not self.deferred))

    def settle(self) -> tuple[list[StepRecord], NonFinite | None]:
        """The steps taken since the last settle, losses read (one host sync for them all), and where a
        NaN/Inf first appeared, if one did: the trainer then stands where a check after every step
        would have stopped, before that step's update (the steps after it are taken again, checked)."""
        taken, self._taken = self._taken, []
        if self.deferred and taken:
            taken = self._verify(taken)
        self._settled = True
        records, self._held = self._held + taken, []
        if records:
            self._last_losses = dict(records[-1].losses)
        return records, next((r.found for r in records if r.found is not None), None)

    @property
    def last_losses(self) -> dict[str, float]:
        """The last step's loss of each objective due in it. Reading it settles the steps taken so
        far (a host sync); the next `settle` still gives them."""
        if self._taken:
            self._held = self.settle()[0]
        return self._last_losses

    def _keep_replayable(self) -> None:
        """A checkpoint now and then (its copying kept under 2 % of the time between), and the random
        state at each step after a settle (reports and evaluations draw from it), so that a replay
        from the checkpoint takes each step again exactly as it was taken."""
        if self._checkpoint is None:
            started = time.perf_counter()
            self._checkpoint = self._take_checkpoint()
            self._resumes = {}
            now = time.perf_counter()
            self._next_checkpoint = now + max(CHECKPOINT_INTERVAL, 50 * (now - started))
        elif self._settled:
            self._resumes[self.step_count] = random_state(self.device)
        self._settled = False

    def _take_step(self, checked: bool) -> StepRecord:
        """One step; `checked`: read each loss and gradient norm now and stop before the update at a
        NaN/Inf (naming the node), else leave them on the device in the record for `settle`."""
        if not self.module.training:
            self.module.train()
        record = StepRecord(self.step_count, self.epoch, self.optimizer.param_groups[0]["lr"])
        batch = self.last_batch = self._next_batch()
        self.last_prediction = None
        several = len(self.config.objectives) > 1
        for objective, group, names, optimizer, scheduler, scaler in zip(
            self.config.objectives,
            self.groups,
            self._group_names,
            self.optimizers,
            self.schedulers,
            self.scalers,
            strict=True,
        ):
            if not objective.due(self.step_count):
                continue
            self._running = objective
            loss, predicted = self._backward(objective, optimizer, scaler, batch)
            if objective is self.config.lead:
                self.last_prediction = predicted
            if several:
                self._own_grads.update(zip(names, (p.grad for p in group), strict=True))
            if not checked:
                record.losses[objective.name] = loss.detach()
                if self.config.clip_grad_norm:
                    torch.nn.utils.clip_grad_norm_(group, self.config.clip_grad_norm)
            elif not self._finite(record, objective.name, loss, self._gradient_norm(group, scaler)):
                found = self.locate_nonfinite(batch)  # None: the replay saw none; the step is skipped
                record.found = replace(found, objective=objective.name) if found and several else found
                return record
            self._update(optimizer, scheduler, scaler)
        self._running = self.config.lead
        self.step_count += 1
        record.step = self.step_count
        return record

    def _backward(self, objective: Objective, optimizer: Any, scaler: Any, batch: Mapping[str, Any]) -> Any:
        """(loss, prediction) of an objective's forward pass, its gradients computed (and unscaled)."""
        self.module.zero_grad(set_to_none=True)
        try:
            loss, predicted = self._forward(batch, objective.loss)
            (loss if scaler is None else scaler.scale(loss)).backward()
            if scaler is not None:
                scaler.unscale_(optimizer)  # clipping and the norms see the true gradients
        except Exception as error:  # torch's errors (out of memory included), named by node
            raise self.node_error(error, batch) from error
        return loss, predicted

    def _gradient_norm(self, group: list[Any], scaler: Any) -> Any:
        """The gradients' total norm for the NaN/Inf watch (None under fp16, where an overflowing
        gradient is the scaler's to handle: it skips the step), clipped when the section asks."""
        if self.config.clip_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(group, self.config.clip_grad_norm)
            return norm if scaler is None else None
        if scaler is not None:
            return None
        return torch.nn.utils.get_total_norm([p.grad for p in group if p.grad is not None])

    def _finite(self, record: StepRecord, name: str, loss: Any, norm: Any) -> bool:
        value = record.losses[name] = loss.item()
        return math.isfinite(value) and (norm is None or bool(torch.isfinite(norm)))

    def _update(self, optimizer: Any, scheduler: Any, scaler: Any) -> None:
        try:  # Adam and the like allocate their state here, on the first step
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
        except Exception as error:  # out of memory, mostly: no one node to name
            step = self.step_count + 1
            raise StepError(f"training step {step}: the optimizer: {NodeError.describe(error)}") from error
        if scheduler is not None:
            scheduler.step()

    def _verify(self, taken: list[StepRecord]) -> list[StepRecord]:
        """Read the losses of unchecked steps and whether every weight is still finite, in one sync (a
        NaN/Inf gradient leaves a NaN/Inf weight after any of the optimizers, and it stays). At a
        NaN/Inf, go back to the checkpoint and take the same steps again, the unsettled ones checked,
        up to the first bad one."""
        on_device = [t.to(torch.float64) for r in taken for t in r.losses.values()]
        weights = [p.detach() for p in self.module.parameters()]
        if weights:  # the largest magnitude: finite exactly when every weight is
            on_device.append(torch.nn.utils.get_total_norm(weights, math.inf).to(torch.float64))
        values = torch.stack(on_device).tolist()
        finite = all(map(math.isfinite, values))
        read = iter(values)
        for record in taken:
            record.losses = {name: next(read) for name in record.losses}
        if finite or self._checkpoint is None:
            if time.perf_counter() >= self._next_checkpoint:
                self._checkpoint = None
            return taken
        checkpoint, self._checkpoint = self._checkpoint, None
        checkpoint.restore(self._stateful())
        self.step_count, self.epoch, self._cursor, self._order = checkpoint.place
        while self.step_count < self._taken_from:  # settled already: taken again as they were
            self._resume()
            self._take_step(checked=False)
        again: list[StepRecord] = []
        while len(again) < len(taken) and (not again or again[-1].found is None):
            self._resume()
            again.append(self._take_step(checked=True))
        return again

    def _resume(self) -> None:
        if (state := self._resumes.get(self.step_count)) is not None:
            set_random_state(state, self.device)

    def _take_checkpoint(self) -> Checkpoint:
        place = (self.step_count, self.epoch, self._cursor, self._order)
        return Checkpoint.take(self._stateful(), place)

    def _stateful(self) -> Stateful:
        return Stateful(
            self.module, self.optimizers, self.schedulers, self.scalers, self.generator, self.device
        )

    def node_error(self, error: Exception, batch: Mapping[str, Any]) -> ValueError:
        """What a step raised, as one line naming the node: the node whose line of the generated
        module raised it, else (an error in autograd's backward pass) the node where a replay of the
        batch through the stepping engine raises."""
        self.module.zero_grad(set_to_none=True)  # free the gradients before looking further
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if isinstance(error, NodeError):  # Runtime.forward named it
            return error
        instr = self.runtime.failing_node(error)
        if instr is None:
            instr = self._replay_failure(batch)
        if instr is None:
            return StepError(f"training step {self.step_count + 1}: {NodeError.describe(error)}")
        return NodeError(instr, error)

    def _replay_failure(self, batch: Mapping[str, Any]) -> Instr | None:
        from graphcore.stepping import Stepper

        self.runtime.inputs.update(batch)
        try:
            for _ in Stepper(self.runtime, of=self._running.loss).events():
                pass
        except NodeError as found:
            return self.program.by_node[found.node]
        except Exception:  # noqa: BLE001 - the replay itself failed outside any node: nothing to name
            return None
        return None

    def locate_nonfinite(self, batch: Mapping[str, Any]) -> NonFinite | None:
        """Replay the batch node by node and name the first value, then gradient, that is not finite
        (of the objective whose pass runs now)."""
        from graphcore.stepping import Stepper

        self.runtime.inputs.update(batch)
        stepper = Stepper(self.runtime, of=self._running.loss)
        for event in stepper.events():
            produced = {
                **event.outputs,
                **event.passed,
                **event.accumulated,
                **{f"{event.node}.{k}": v for k, v in event.weights.items()},
            }
            for name, tensor in produced.items():
                if tensor is not None and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    return NonFinite(event.node, event.phase, name, self.step_count)
        return None

    def accuracy(self, prediction: Any, target: Any) -> float | None:
        return accuracy(prediction, target, self.config.threshold)

    @property
    def target(self) -> str:
        """The Input bound to the dataset's label field (`y`, else the last binding)."""
        by_field = {field_name: node for node, field_name in self.config.inputs.items()}
        return by_field.get("y", list(self.config.inputs)[-1])

    def evaluate(self, data: Mapping[str, Any]) -> dict[str, float]:
        """Loss (and accuracy) over a whole split, in eval mode, batch by batch: `loss`, or with
        several objectives each one's as `<name> loss`."""
        if not data:
            return {}
        self.module.eval()
        n = len(next(iter(data.values())))
        objectives = self.config.objectives
        keys = ["loss"] if len(objectives) == 1 else [f"{o.name} loss" for o in objectives]
        totals, correct, size = [0.0] * len(keys), 0.0, self.config.batch_size
        with torch.no_grad():
            for start in range(0, n, size):
                batch = {k: v[start : start + size] for k, v in data.items()}
                try:
                    with autocast(self.config.precision, self.device):
                        outputs = self.runtime.forward(batch)
                except Exception as error:  # as in step(): the message names the node
                    raise self.node_error(error, batch) from error
                count = len(next(iter(batch.values())))
                for index, objective in enumerate(objectives):
                    totals[index] += outputs[objective.loss].item() * count
                prediction = outputs.get(self.config.predict) if self.config.predict else None
                accuracy = self.accuracy(prediction, batch.get(self.target))
                correct += (accuracy or 0.0) * count
        self.module.train()
        metrics = {key: total / n for key, total in zip(keys, totals, strict=True)}
        if self.config.predict:
            metrics["accuracy"] = correct / n
        return metrics

    def _progress(
        self,
        losses: dict[str, list[tuple[int, float]]],
        lr: float,
        validation: dict[str, float],
        accuracy: float | None,
    ) -> Progress:
        """A report of where the run is now, with each objective's losses since the last one."""
        lead = losses[self.config.lead.name]
        return Progress(
            self.step_count,
            self.epoch,
            self.total_steps,
            lead,
            lr,
            self.grad_norms(),
            validation,
            accuracy,
            losses,
        )

    def _pending(self) -> dict[str, list[tuple[int, float]]]:
        return {objective.name: [] for objective in self.config.objectives}

    def grad_norms(self) -> dict[str, float]:
        """Each parameter's gradient norm: with several objectives, the gradient of the objective that
        updates it, from its last pass (another objective's pass reaches it too, and is not its own)."""
        if len(self.config.objectives) == 1:
            grads = {name: p.grad for name, p in self.module.named_parameters()}
        else:
            grads = self._own_grads
        return {name: grad.norm().item() for name, grad in grads.items() if grad is not None}

    def run(
        self,
        listener: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        report_interval: float = 0.05,
        steps: int | None = None,
    ) -> TrainResult:
        """Train until the step budget is spent, early stopping fires, `should_stop()` or a NaN/Inf.
        Losses are read (`settle`) for each report, at each epoch's end and at least every
        SETTLE_INTERVAL seconds, so a NaN stops a run on the device soon after it appears."""
        first = self.step_count

        def more() -> bool:  # the budget is read each step: `retune` may change it mid-run
            return (
                self.step_count - first < steps if steps is not None else self.step_count < self.total_steps
            )

        losses: list[float] = []
        lrs: list[float] = []
        epochs: list[dict[str, float]] = []
        pending = self._pending()
        history: dict[str, list[float | None]] = {o.name: [] for o in self.config.objectives}
        epoch_of_last = [0]  # the epoch the last step read began in (its epoch's row names it)

        def take(settled: tuple[list[StepRecord], NonFinite | None]) -> NonFinite | None:
            records, found = settled
            for record in records:
                epoch_of_last[0] = record.epoch
                losses.append(record.losses[self.config.lead.name])
                lrs.append(record.lr)
                for name, values in history.items():
                    value = record.losses.get(name)
                    values.append(value)
                    if value is not None:
                        pending[name].append((record.step, value))
            return found

        stopped: StopReason = "finished"
        nonfinite, best = None, math.inf
        stopping = self.config.early_stopping
        patience_left = stopping.get("patience", 10) if stopping else 0
        start = last_report = last_settle = time.perf_counter()
        validation: dict[str, float] = {}
        accuracy = None
        while more():
            if should_stop is not None and should_stop():
                stopped = "stopped"
                break
            if self._held and (nonfinite := take(self.settle())) is not None:  # settled by `retune`
                break
            self.step()
            now = time.perf_counter()
            epoch_done = self._cursor >= self.n_train
            report_due = listener is not None and now - last_report >= report_interval
            settle_due = not (self.deferred and now - last_settle < SETTLE_INTERVAL and more())
            if not (epoch_done or report_due or settle_due):
                continue
            nonfinite, last_settle = take(self.settle()), now
            if nonfinite is not None:
                break
            if epoch_done:
                validation = self.evaluate(self.validation_data)
                epochs.append(
                    {
                        "epoch": epoch_of_last[0],
                        "step": self.step_count,
                        "loss": losses[-1],
                        **{f"val_{k}": v for k, v in validation.items()},
                    }
                )
                if stopping:
                    monitored = validation.get("loss", losses[-1])
                    if monitored < best - stopping.get("min_delta", 0.0):
                        best, patience_left = monitored, stopping.get("patience", 10)
                    else:
                        patience_left -= 1
                        if patience_left <= 0:
                            stopped = "early_stopping"
            if listener is not None and (report_due or stopped != "finished"):
                accuracy = self.accuracy(self.last_prediction, self.last_batch.get(self.target))
                listener(self._progress(pending, lrs[-1], validation, accuracy))
                pending, last_report = self._pending(), now
            if stopped != "finished":
                break
        if nonfinite is None and (found := take(self.settle())) is not None:
            stopped, nonfinite = "nonfinite", found
        if nonfinite is not None:
            stopped = "nonfinite"
        if listener is not None and pending[self.config.lead.name]:
            listener(self._progress(pending, self.optimizer.param_groups[0]["lr"], validation, accuracy))
        return TrainResult(
            losses,
            lrs,
            epochs,
            self.evaluate(self.train_data),
            self.evaluate(self.validation_data),
            time.perf_counter() - start,
            stopped,
            nonfinite,
            self.step_count,
            history,
        )
