"""Training on the fast path: the generated module, torch autograd and a torch.optim optimizer.

The Trainer does per step what a hand-written PyTorch loop does (index a batch, forward, backward,
optional clipping, optimizer and scheduler steps, read the loss) and nothing that grows with the
graph; with several objectives (graphcore.training.objectives) it does that once per objective due,
in their order, each with its own forward pass, optimizer and parameters. The section's `precision`
runs the forward passes under autocast (and scales fp16 losses), and `compile` runs them through
torch.compile (graphcore.training.performance).

Its collaborators each do one part: graphcore.training.build checks the section and builds the
runtime and data; graphcore.training.replay settles steps (reads their losses back in one sync)
and runs the NaN/Inf watch, replaying from a checkpoint to the step where a non-finite value
first appeared, which graphcore.training.diagnosis names the node of; graphcore.training.retune
takes edits into a run; graphcore.training.evaluation scores splits; graphcore.training.loop
runs to the end of the budget, reporting to listeners.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from graphcore._torch import torch
from graphcore.graph import Graph
from graphcore.program import NodeError
from graphcore.training import diagnosis, evaluation, loop
from graphcore.training.build import build, read_section
from graphcore.training.config import TrainingConfig
from graphcore.training.objectives import Objective, selected
from graphcore.training.optimizers import make_optimizer, make_schedule
from graphcore.training.performance import autocast, compiled, grad_scaler
from graphcore.training.records import NonFinite, Progress, StepError, StepRecord, TrainResult
from graphcore.training.replay import UnsettledSteps
from graphcore.training.retune import retuned

Place = tuple[int, int, int, Any]  # step count, epoch, cursor in this epoch's shuffle, the shuffle


class Trainer:
    """Trains a graph as its `training` section says; `overrides` replace keys of that section."""

    def __init__(
        self,
        graph: Graph,
        base_dir: Path | str = ".",
        overrides: Mapping[str, Any] | None = None,
        dtype: str = "float32",
    ) -> None:
        setup = build(graph, Path(base_dir), overrides, dtype)
        self._exposed = setup.exposed  # block ports the section may name -> the inlined values
        self._blocks = setup.blocks  # training groups may name a block: all its instances
        self.config: TrainingConfig = setup.config
        self.program = setup.program
        self.runtime = setup.runtime
        self.device = self.runtime.device
        self.weights = setup.weights
        self.train_data = setup.train_data
        self.validation_data = setup.validation_data
        self.n_train = len(next(iter(self.train_data.values())))
        self.steps_per_epoch = math.ceil(self.n_train / self.config.batch_size)
        self.total_steps = self.config.steps or self.steps_per_epoch * (self.config.epochs or 1)
        self.deferred = True  # False: check each step's loss and gradients as it is taken
        self.reset_weights()

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
        self.last_batch: dict[str, Any] = {}  # the last step's batch and the lead's prediction on it
        self.last_prediction: Any = None
        self._unsettled = UnsettledSteps(self)  # steps not yet settled, and how to take them again
        self._running: Objective = self.config.lead  # the objective whose pass runs now

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
        new = read_section(dict(section), self._exposed)
        self._unsettled.hold()  # steps taken so far are settled under the settings they ran with
        self._unsettled.checkpoint = None  # and a replay starts after the edit
        self.config, later = retuned(self.config, new, self.optimizers, self.schedulers)
        self.total_steps = self.config.steps or self.steps_per_epoch * (self.config.epochs or 1)
        return later

    @property
    def _place(self) -> Place:
        """Where the trainer stands in its data: what a checkpoint keeps, and a replay goes back to."""
        return self.step_count, self.epoch, self._cursor, self._order

    @_place.setter
    def _place(self, place: Place) -> None:
        self.step_count, self.epoch, self._cursor, self._order = place

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
        stay on the device until `settle` reads them and runs the NaN/Inf watch (see
        graphcore.training.replay). With `deferred` off, each step is checked at once."""
        self._unsettled.before_step()
        self._unsettled.taken.append(self._take_step(checked=not self.deferred))

    def settle(self) -> tuple[list[StepRecord], NonFinite | None]:
        """The steps taken since the last settle, losses read (one host sync for them all), and where a
        NaN/Inf first appeared, if one did: the trainer then stands where a check after every step
        would have stopped, before that step's update (the steps after it are taken again, checked)."""
        return self._unsettled.settle()

    @property
    def last_losses(self) -> dict[str, float]:
        """The last step's loss of each objective due in it. Reading it settles the steps taken so
        far (a host sync); the next `settle` still gives them."""
        if self._unsettled.taken:
            self._unsettled.hold()
        return self._unsettled.last_losses

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

    def node_error(self, error: Exception, batch: Mapping[str, Any]) -> ValueError:
        """What a step raised, as one line naming the node (graphcore.training.diagnosis)."""
        return diagnosis.node_error(self.runtime, error, batch, self._running.loss, self.step_count)

    def locate_nonfinite(self, batch: Mapping[str, Any]) -> NonFinite | None:
        """Replay the batch node by node and name the first value, then gradient, that is not finite
        (of the objective whose pass runs now)."""
        return diagnosis.locate_nonfinite(self.runtime, batch, self._running.loss, self.step_count)

    def accuracy(self, prediction: Any, target: Any) -> float | None:
        return evaluation.accuracy(prediction, target, self.config.threshold)

    @property
    def target(self) -> str:
        """The Input bound to the dataset's label field (`y`, else the last binding)."""
        by_field = {field_name: node for node, field_name in self.config.inputs.items()}
        return by_field.get("y", list(self.config.inputs)[-1])

    def evaluate(self, data: Mapping[str, Any]) -> dict[str, float]:
        """Loss (and accuracy) over a whole split, in eval mode, batch by batch: `loss`, or with
        several objectives each one's as `<name> loss`."""
        return evaluation.evaluate(self.runtime, self.config, data, self.target, self.node_error)

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
        loop.SETTLE_INTERVAL seconds, so a NaN stops a run on the device soon after it appears."""
        return loop.run(self, listener, should_stop, report_interval, steps)
