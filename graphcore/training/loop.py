"""The run loop of a Trainer: steps until the budget is spent, early stopping fires, the caller
stops it or a NaN/Inf appears, reading the losses back at a bounded rate and reporting them.

Listeners get `Progress` reports at most every `report_interval` seconds, carrying every loss
since the last one, so plotting never slows training. Losses are read (`Trainer.settle`) for each
report, at each epoch's end, at least every SETTLE_INTERVAL seconds and at the end, so a NaN stops
a run on the device soon after it appears.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from graphcore.training.objectives import Objective
from graphcore.training.records import NonFinite, Progress, StepRecord, StopReason, TrainResult

if TYPE_CHECKING:
    from graphcore.training.train import Trainer

SETTLE_INTERVAL = 0.25  # seconds: the longest a run goes without reading its losses


class RunLog:
    """What a run keeps of its settled steps: the lead's loss and learning rate per step, each
    objective's loss per step (None where it was not due), a row per epoch, and the losses that
    the next report carries."""

    def __init__(self, objectives: tuple[Objective, ...]) -> None:
        self.lead = objectives[0].name
        self.names = [o.name for o in objectives]
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.epochs: list[dict[str, float]] = []
        self.objectives: dict[str, list[float | None]] = {name: [] for name in self.names}
        self.pending = self._nothing_pending()
        self.epoch_of_last = 0  # the epoch the last step read began in (its epoch's row names it)

    def take(self, settled: tuple[list[StepRecord], NonFinite | None]) -> NonFinite | None:
        """Record settled steps; where a NaN/Inf stopped one, if one did."""
        records, found = settled
        for record in records:
            self.epoch_of_last = record.epoch
            self.losses.append(record.losses[self.lead])
            self.lrs.append(record.lr)
            for name, values in self.objectives.items():
                value = record.losses.get(name)
                values.append(value)
                if value is not None:
                    self.pending[name].append((record.step, value))
        return found

    def end_epoch(self, step: int, validation: Mapping[str, float]) -> None:
        self.epochs.append(
            {
                "epoch": self.epoch_of_last,
                "step": step,
                "loss": self.losses[-1],
                **{f"val_{k}": v for k, v in validation.items()},
            }
        )

    def report(
        self, trainer: Trainer, lr: float, validation: dict[str, float], accuracy: float | None
    ) -> Progress:
        """A report of where the run is now, with each objective's losses since the last one."""
        losses, self.pending = self.pending, self._nothing_pending()
        return Progress(
            trainer.step_count,
            trainer.epoch,
            trainer.total_steps,
            losses[self.lead],
            lr,
            trainer.grad_norms(),
            validation,
            accuracy,
            losses,
        )

    def _nothing_pending(self) -> dict[str, list[tuple[int, float]]]:
        return {name: [] for name in self.names}


class EarlyStopping:
    """The section's `early_stopping`: stop after `patience` epochs without the monitored loss
    improving on its best by more than `min_delta`."""

    def __init__(self, settings: Mapping[str, Any] | None) -> None:
        self.settings = settings
        self.best = math.inf
        self.patience_left = settings.get("patience", 10) if settings else 0

    def fires(self, monitored: float) -> bool:
        """Whether this epoch's loss stops the run (never, without the setting)."""
        if not self.settings:
            return False
        if monitored < self.best - self.settings.get("min_delta", 0.0):
            self.best, self.patience_left = monitored, self.settings.get("patience", 10)
            return False
        self.patience_left -= 1
        return self.patience_left <= 0


def run(
    trainer: Trainer,
    listener: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    report_interval: float,
    steps: int | None,
) -> TrainResult:
    """Train until the step budget is spent (`steps` more, else the trainer's `total_steps`),
    early stopping fires, `should_stop()` or a NaN/Inf (see Trainer.run)."""
    first = trainer.step_count

    def more() -> bool:  # the budget is read each step: `retune` may change it mid-run
        return (
            trainer.step_count - first < steps
            if steps is not None
            else trainer.step_count < trainer.total_steps
        )

    log = RunLog(trainer.config.objectives)
    stopped: StopReason = "finished"
    nonfinite = None
    stopping = EarlyStopping(trainer.config.early_stopping)
    start = last_report = last_settle = time.perf_counter()
    validation: dict[str, float] = {}
    accuracy = None
    while more():
        if should_stop is not None and should_stop():
            stopped = "stopped"
            break
        if (
            trainer._unsettled.held and (nonfinite := log.take(trainer.settle())) is not None
        ):  # settled by `retune`
            break
        trainer.step()
        now = time.perf_counter()
        epoch_done = trainer._cursor >= trainer.n_train
        report_due = listener is not None and now - last_report >= report_interval
        settle_due = not (trainer.deferred and now - last_settle < SETTLE_INTERVAL and more())
        if not (epoch_done or report_due or settle_due):
            continue
        nonfinite, last_settle = log.take(trainer.settle()), now
        if nonfinite is not None:
            break
        if epoch_done:
            validation = trainer.evaluate(trainer.validation_data)
            log.end_epoch(trainer.step_count, validation)
            if stopping.fires(validation.get("loss", log.losses[-1])):
                stopped = "early_stopping"
        if listener is not None and (report_due or stopped != "finished"):
            accuracy = trainer.accuracy(trainer.last_prediction, trainer.last_batch.get(trainer.target))
            listener(log.report(trainer, log.lrs[-1], validation, accuracy))
            last_report = now
        if stopped != "finished":
            break
    if nonfinite is None and (found := log.take(trainer.settle())) is not None:
        stopped, nonfinite = "nonfinite", found
    if nonfinite is not None:
        stopped = "nonfinite"
    if listener is not None and log.pending[log.lead]:
        listener(log.report(trainer, trainer.optimizer.param_groups[0]["lr"], validation, accuracy))
    return TrainResult(
        log.losses,
        log.lrs,
        log.epochs,
        trainer.evaluate(trainer.train_data),
        trainer.evaluate(trainer.validation_data),
        time.perf_counter() - start,
        stopped,
        nonfinite,
        trainer.step_count,
        log.objectives,
    )
