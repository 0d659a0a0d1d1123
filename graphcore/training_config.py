"""The `training` section of a graph file, checked into a TrainingConfig.

Every problem is a TrainingConfigError naming the key (`training.optimizer.lr: must be > 0`), so
the CLI and the app show the same line, as for the rest of the file format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# name -> (torch.optim class name, default hyperparameters); momentum and nesterov are SGD variants
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {"lr": 0.01}),
    "momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "nesterov": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"lr": 0.01}),
    "rmsprop": ("RMSprop", {"lr": 0.001, "alpha": 0.99}),
    "adam": ("Adam", {"lr": 0.001, "betas": [0.9, 0.999]}),
    "adamw": ("AdamW", {"lr": 0.001, "betas": [0.9, 0.999], "weight_decay": 0.01}),
}
HYPERPARAMETERS = {
    "lr",
    "momentum",
    "nesterov",
    "alpha",
    "betas",
    "eps",
    "weight_decay",
    "dampening",
    "lr_decay",
    "centered",
    "amsgrad",
}
SCHEDULES = ("constant", "step", "cosine")


class TrainingConfigError(ValueError):
    """A training section that cannot be used; the message names the key."""


@dataclass(frozen=True)
class TrainingConfig:
    dataset: dict[str, Any]
    inputs: dict[str, str]  # Input node id -> dataset field
    loss: str  # "node.port" of the scalar loss
    predict: str | None = None  # "node.port" of the prediction, for accuracy
    threshold: float = 0.5  # binary accuracy: prediction > threshold means class 1
    validation: float = 0.0
    batch_size: int = 32
    epochs: int | None = 10
    steps: int | None = None
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "sgd", "lr": 0.01})
    schedule: dict[str, Any] = field(default_factory=lambda: {"name": "constant"})
    clip_grad_norm: float | None = None
    early_stopping: dict[str, Any] | None = None
    seed: int = 0
    device: str = "auto"


def _fail(key: str, message: str) -> TrainingConfigError:
    return TrainingConfigError(f"training.{key}: {message}")


def _positive(section: Mapping[str, Any], key: str, kind: type, where: str, allow_zero: bool = False) -> None:
    value = section.get(key)
    if value is None:
        return
    accepted = int if kind is int else int | float
    if (
        not isinstance(value, accepted)
        or isinstance(value, bool)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        raise _fail(
            where,
            f"must be a {'non-negative' if allow_zero else 'positive'} "
            f"{'integer' if kind is int else 'number'}, got {value!r}",
        )


def parse(section: Mapping[str, Any]) -> TrainingConfig:
    if not section:
        raise TrainingConfigError("this graph has no training section: add one to say what to train on")
    known = set(TrainingConfig.__dataclass_fields__) | {"weight_decay"}
    for key in section:
        if key not in known:
            raise _fail(key, f"unknown key (expected one of {', '.join(sorted(known))})")
    for key in ("dataset", "inputs", "loss"):
        if key not in section:
            raise _fail(key, "is required")
    if not isinstance(section["dataset"], dict) or "name" not in section["dataset"]:
        raise _fail("dataset", 'expected an object with a "name"')
    inputs = section["inputs"]
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise _fail("inputs", 'expected {"input node id": "dataset field", ...}')
    for key in ("batch_size", "epochs", "steps", "seed"):
        _positive(section, key, int, key, allow_zero=key == "seed")
    for key in ("clip_grad_norm", "threshold"):
        if section.get(key) is not None and not isinstance(section[key], int | float):
            raise _fail(key, f"must be a number, got {section[key]!r}")
    _positive(section, "clip_grad_norm", float, "clip_grad_norm")
    validation = section.get("validation", 0.0)
    if not isinstance(validation, int | float) or not 0 <= validation < 1:
        raise _fail("validation", f"must be a fraction in [0, 1), got {validation!r}")
    optimizer = _optimizer(section)
    schedule = _schedule(section.get("schedule", {"name": "constant"}))
    stopping = section.get("early_stopping")
    if stopping is not None:
        if not isinstance(stopping, dict):
            raise _fail("early_stopping", 'expected {"patience": epochs, "min_delta": number}')
        _positive(stopping, "patience", int, "early_stopping.patience")
    return TrainingConfig(
        dataset=dict(section["dataset"]),
        inputs=dict(inputs),
        loss=section["loss"],
        predict=section.get("predict"),
        threshold=float(section.get("threshold", 0.5)),
        validation=float(validation),
        batch_size=section.get("batch_size", 32),
        epochs=section.get("epochs", None if "steps" in section else 10),
        steps=section.get("steps"),
        optimizer=optimizer,
        schedule=schedule,
        clip_grad_norm=section.get("clip_grad_norm"),
        early_stopping=stopping,
        seed=section.get("seed", 0),
        device=section.get("device", "auto"),
    )


def _optimizer(section: Mapping[str, Any]) -> dict[str, Any]:
    optimizer = dict(section.get("optimizer", {"name": "sgd"}))
    name = optimizer.get("name")
    if name not in OPTIMIZERS:
        raise _fail("optimizer.name", f"unknown optimizer {name!r} (use one of {', '.join(OPTIMIZERS)})")
    for key in optimizer:
        if key != "name" and key not in HYPERPARAMETERS:
            raise _fail(
                f"optimizer.{key}", f"unknown hyperparameter (known: {', '.join(sorted(HYPERPARAMETERS))})"
            )
    _positive(optimizer, "lr", float, "optimizer.lr")
    if "weight_decay" in section:
        optimizer.setdefault("weight_decay", section["weight_decay"])
    _positive(optimizer, "weight_decay", float, "weight_decay", allow_zero=True)
    return {**OPTIMIZERS[name][1], **optimizer}


def _schedule(schedule: Any) -> dict[str, Any]:
    if not isinstance(schedule, dict) or schedule.get("name", "constant") not in SCHEDULES:
        raise _fail("schedule.name", f"unknown schedule (use one of {', '.join(SCHEDULES)})")
    for key in ("warmup_steps", "step_size"):
        _positive(schedule, key, int, f"schedule.{key}", allow_zero=key == "warmup_steps")
    return {"name": "constant", **schedule}
