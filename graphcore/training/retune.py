"""An edited training section taken into a run between two steps, as one would edit a torch loop:
what can change in place (each objective's optimizer hyperparameters, clipping, the step budget)
changes, and the rest waits for a fresh start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from graphcore._torch import torch
from graphcore.training.config import TrainingConfig
from graphcore.training.objectives import Objective
from graphcore.training.optimizers import make_optimizer

LIVE_KEYS = {"objectives", "clip_grad_norm", "steps", "epochs"}  # the keys a run takes as it goes


def retuned(
    old: TrainingConfig, new: TrainingConfig, optimizers: list[Any], schedulers: list[Any]
) -> tuple[TrainingConfig, list[str]]:
    """The section the run goes on with (the optimizers and schedules retuned to it, in place), and
    the keys that only a fresh start can apply."""
    later = [
        f.name
        for f in fields(TrainingConfig)
        if getattr(new, f.name) != getattr(old, f.name) and f.name not in LIVE_KEYS
    ]
    objectives, changed = _retuned_objectives(old.objectives, new.objectives, optimizers, schedulers)
    config = replace(new, objectives=objectives, **{key: getattr(old, key) for key in later})
    return config, later + changed


def _retuned_objectives(
    old: tuple[Objective, ...], edited: tuple[Objective, ...], optimizers: list[Any], schedulers: list[Any]
) -> tuple[tuple[Objective, ...], list[str]]:
    """The objectives this run goes on with (each with its optimizer retuned where only its
    hyperparameters changed), and the key paths of what waits for a fresh start."""
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
            _retune_optimizer(optimizers[index], schedulers[index], new.optimizer, current.optimizer)
            current = replace(current, optimizer=new.optimizer)
        kept.append(current)
    return tuple(kept), later


def _retune_optimizer(optimizer: Any, scheduler: Any, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
    """Set an optimizer's hyperparameters to `new` (torch's defaults for those it leaves out); a
    change of learning rate rescales the schedule, which keeps the span it started with."""
    fresh = make_optimizer(new, [torch.zeros(1, requires_grad=True)]).defaults  # torch's own defaults
    ratio = new["lr"] / old["lr"]
    for group in optimizer.param_groups:
        group.update({key: value for key, value in fresh.items() if key != "lr" and key in group})
        group["lr"] *= ratio
        if "initial_lr" in group:
            group["initial_lr"] *= ratio
    pending = [scheduler] if scheduler is not None else []
    while pending:  # SequentialLR (a warm-up) holds the ramp and the main schedule, and no base_lrs
        scheduler = pending.pop()
        for key in ("base_lrs", "_last_lr"):
            if hasattr(scheduler, key):
                setattr(scheduler, key, [lr * ratio for lr in getattr(scheduler, key)])
        pending.extend(getattr(scheduler, "_schedulers", []))
