"""The steps a Trainer has taken but not read back yet, and how to take them again exactly.

A deferred step leaves its losses on the device: a host sync per step would stall a GPU, and the
NaN/Inf watch's reads cost a small model on the CPU a tenth of its step. `settle` reads the losses
of every step since the last settle in one sync, with whether every weight is still finite. At a
NaN/Inf the steps since a checkpoint (performance.Checkpoint) are taken again from it, checked one
by one, so that the trainer stops where a check after every step would have, before that step's
update.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from graphcore._torch import torch
from graphcore.training.performance import Checkpoint, Stateful, random_state, set_random_state
from graphcore.training.records import NonFinite, StepRecord

if TYPE_CHECKING:
    from graphcore.training.train import Trainer

CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints, at least (see UnsettledSteps.before_step)


class UnsettledSteps:
    """A Trainer's steps since its last settle, the checkpoint a replay of them starts from, and
    the steps a settle read early (for `retune` or `last_losses`) that the next settle still gives."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.taken: list[StepRecord] = []  # steps not yet settled
        self.held: list[StepRecord] = []  # steps settled early, for the next `settle` to give
        self.checkpoint: Checkpoint | None = None  # where a replay of the unsettled steps starts
        self.last_losses: dict[str, float] = {}  # the last settled step's loss of each objective due in it
        self._next_checkpoint = 0.0  # perf_counter time after which a settle drops it for a fresh one
        self._resumes: dict[int, Any] = {}  # step count -> random state it began with, after a settle
        self._settled = False  # a settle since the last step (the listener may have drawn numbers)
        self._taken_from = 0  # the step count the unsettled steps began at

    def before_step(self) -> None:
        """Called before each step: with the trainer deferring its checks, a checkpoint now and
        then (its copying kept under 2 % of the time between), and the random state at each step
        after a settle (reports and evaluations draw from it), so that a replay from the
        checkpoint takes each step again exactly as it was taken."""
        trainer = self.trainer
        if trainer.deferred:
            if self.checkpoint is None:
                started = time.perf_counter()
                self.checkpoint = Checkpoint.take(self._stateful(), trainer._place)
                self._resumes = {}
                now = time.perf_counter()
                self._next_checkpoint = now + max(CHECKPOINT_INTERVAL, 50 * (now - started))
            elif self._settled:
                self._resumes[trainer.step_count] = random_state(trainer.device)
            self._settled = False
        if not self.taken:
            self._taken_from = trainer.step_count

    def settle(self) -> tuple[list[StepRecord], NonFinite | None]:
        """The steps since the last settle, losses read, and where a NaN/Inf first appeared."""
        taken, self.taken = self.taken, []
        if self.trainer.deferred and taken:
            taken = self._verify(taken)
        self._settled = True
        records, self.held = self.held + taken, []
        if records:
            self.last_losses = dict(records[-1].losses)
        return records, next((r.found for r in records if r.found is not None), None)

    def hold(self) -> None:
        """Settle now, and keep the records for the next `settle` to give."""
        self.held = self.settle()[0]

    def _verify(self, taken: list[StepRecord]) -> list[StepRecord]:
        """Read the losses of unchecked steps and whether every weight is still finite, in one sync (a
        NaN/Inf gradient leaves a NaN/Inf weight after any of the optimizers, and it stays). At a
        NaN/Inf, go back to the checkpoint and take the same steps again, the unsettled ones checked,
        up to the first bad one."""
        trainer = self.trainer
        on_device = [t.to(torch.float64) for r in taken for t in r.losses.values()]
        weights = [p.detach() for p in trainer.module.parameters()]
        if weights:  # the largest magnitude: finite exactly when every weight is
            on_device.append(torch.nn.utils.get_total_norm(weights, math.inf).to(torch.float64))
        values = torch.stack(on_device).tolist()
        finite = all(map(math.isfinite, values))
        read = iter(values)
        for record in taken:
            record.losses = {name: next(read) for name in record.losses}
        if finite or self.checkpoint is None:
            if time.perf_counter() >= self._next_checkpoint:
                self.checkpoint = None
            return taken
        checkpoint, self.checkpoint = self.checkpoint, None
        checkpoint.restore(self._stateful())
        trainer._place = checkpoint.place
        while trainer.step_count < self._taken_from:  # settled already: taken again as they were
            self._resume()
            trainer._take_step(checked=False)
        again: list[StepRecord] = []
        while len(again) < len(taken) and (not again or again[-1].found is None):
            self._resume()
            again.append(trainer._take_step(checked=True))
        return again

    def _resume(self) -> None:
        if (state := self._resumes.get(self.trainer.step_count)) is not None:
            set_random_state(state, self.trainer.device)

    def _stateful(self) -> Stateful:
        t = self.trainer
        return Stateful(t.module, t.optimizers, t.schedulers, t.scalers, t.generator, t.device)
