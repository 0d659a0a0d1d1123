"""The `training` section of a graph file, checked into a TrainingConfig.

Every problem is a TrainingConfigError of one line naming the key
(`training.optimizer.lr: must be a positive number, got -1`), so the loader, the CLI and the app
show the same line. `parse` is pure and quick (no files, no torch, no numpy): the file loader calls
it on every open. What needs the graph or the data (Input nodes, outputs, shapes) is checked when
a Trainer is built. The checks are graphcore.training.checks; the dataset section's, dataset_config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphcore.training.checks import (
    MAX_SEED,
    Check,
    TrainingConfigError,
    checked_object,
    choice,
    count,
    fail,
    flag,
    key_name,
    number,
    optional,
    shorten,
    text_value,
)
from graphcore.training.dataset_config import check_dataset
from graphcore.training.objectives import Objective, parse_objectives

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
# the keyword arguments each torch.optim class takes (a wrong one would be a TypeError from torch)
CLASS_HYPERPARAMETERS = {
    "SGD": ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
    "Adagrad": ("lr", "lr_decay", "weight_decay", "eps"),
    "RMSprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
    "Adam": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
    "AdamW": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
}
SCHEDULES = ("constant", "step", "cosine")
# autocast's lower-precision types; fp16 also scales the loss (torch.amp.GradScaler) and needs CUDA
PRECISIONS = ("fp32", "bf16", "fp16")
DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]{1,3})?")


@dataclass(frozen=True)
class TrainingConfig:
    dataset: dict[str, Any]
    inputs: dict[str, str]  # Input node id -> dataset field
    objectives: tuple[Objective, ...]  # one for a section with one `loss` (graphcore.training.objectives)
    predict: str | None = None  # "node.port" of the prediction, for accuracy
    threshold: float = 0.5  # binary accuracy: prediction > threshold means class 1
    validation: float = 0.0
    batch_size: int = 32
    epochs: int | None = 10
    steps: int | None = None
    clip_grad_norm: float | None = None
    early_stopping: dict[str, Any] | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # the autocast type of each step's forward pass (graphcore.training.performance)
    compile: bool = False  # run the steps through torch.compile

    @property
    def lead(self) -> Objective:
        """The first objective: it updates on every step, and its loss is the run's loss."""
        return self.objectives[0]

    @property
    def loss(self) -> str:
        return self.lead.loss

    @property
    def optimizer(self) -> dict[str, Any]:
        return self.lead.optimizer

    @property
    def schedule(self) -> dict[str, Any]:
        return self.lead.schedule


def _betas(where: str, value: Any) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise fail(where, f"expected two numbers in [0, 1) such as [0.9, 0.999], got {shorten(value)}")
    for i, beta in enumerate(value):
        number(0, high=1, what="a number in [0, 1)")(f"{where}[{i}]", beta)
    return list(value)


HYPERPARAMETER_CHECKS: dict[str, Check] = {
    "lr": number(0, strict=True),
    "momentum": number(0),
    "dampening": number(0),
    "weight_decay": number(0),
    "nesterov": flag,
    "lr_decay": number(0),
    "eps": number(0),
    "alpha": number(0),
    "centered": flag,
    "betas": _betas,
    "amsgrad": flag,
}
SCHEDULE_CHECKS: dict[str, Check] = {
    "name": choice(SCHEDULES, "schedule"),
    "warmup_steps": count(0),
    "step_size": count(1),
    "gamma": number(0, strict=True),
    "min_lr": number(0),
}
EARLY_STOPPING_CHECKS: dict[str, Check] = {"patience": count(1), "min_delta": number(0)}


def _inputs(value: Any, fields: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise fail("inputs", f'expected {{"input node id": "dataset field", ...}}, got {shorten(value)}')
    for node, field_name in value.items():
        where = f"inputs.{key_name(node)}"
        text_value(where, node)
        text_value(where, field_name)
        if field_name not in fields:
            raise fail(where, f"the dataset has no field {shorten(field_name)} (fields: {', '.join(fields)})")
    return dict(value)


def _optimizer(where: str, optimizer: Any, weight_decay: float | None) -> dict[str, Any]:
    """An optimizer object checked at `where`, with its kind's defaults and the section's weight decay."""
    if not isinstance(optimizer, dict):
        raise fail(
            where,
            f'expected an object such as {{"name": "adam", "lr": 0.01}}, got {shorten(optimizer)}',
        )
    if "name" not in optimizer:
        raise fail(f"{where}.name", f"is required (one of {', '.join(OPTIMIZERS)})")
    name = choice(tuple(OPTIMIZERS), "optimizer")(f"{where}.name", optimizer["name"])
    class_name, defaults = OPTIMIZERS[name]
    accepted = CLASS_HYPERPARAMETERS[class_name]
    for key, value in optimizer.items():
        if key == "name":
            continue
        if key not in accepted:
            raise fail(
                f"{where}.{key_name(key)}",
                f"{name} takes no such hyperparameter (it takes {', '.join(accepted)})",
            )
        HYPERPARAMETER_CHECKS[key](f"{where}.{key}", value)
    if weight_decay is not None:
        optimizer = {**optimizer, "weight_decay": optimizer.get("weight_decay", weight_decay)}
    merged = {**defaults, **optimizer}
    if merged.get("nesterov") and (merged.get("momentum", 0) <= 0 or merged.get("dampening", 0) != 0):
        raise fail(f"{where}.nesterov", "needs a positive momentum and no dampening")
    return merged


def _schedule(where: str, schedule: Any) -> dict[str, Any]:
    return {"name": "constant", **checked_object(where, schedule, SCHEDULE_CHECKS, '{"name": "cosine"}')}


TOP_CHECKS: dict[str, Check] = {
    "predict": optional(text_value),
    "threshold": number(),
    "validation": number(0, high=1, what="a fraction in [0, 1)"),
    "batch_size": count(1),
    "epochs": optional(count(1)),
    "steps": optional(count(1)),
    "clip_grad_norm": optional(number(0, strict=True)),
    "seed": count(0, MAX_SEED),
    "precision": choice(PRECISIONS, "precision"),
    "compile": flag,
}
KNOWN_KEYS = (
    "dataset", "inputs", "loss", "objectives", "predict", "threshold", "validation", "batch_size", "epochs", "steps",
    "optimizer", "schedule", "clip_grad_norm", "weight_decay", "early_stopping", "seed", "device",
    "precision", "compile",
)  # fmt: skip


def _device(where: str, value: Any) -> str:
    if not isinstance(value, str) or not DEVICE.fullmatch(value):
        raise fail(where, f"expected auto, cpu, cuda or cuda:N, got {shorten(value)}")
    return value


def parse(section: Any) -> TrainingConfig:
    """The checked TrainingConfig of a `training` section (with any overrides already merged in)."""
    if not section:
        raise TrainingConfigError("this graph has no training section: add one to say what to train on")
    if not isinstance(section, Mapping):
        raise TrainingConfigError(f"training: expected an object, got {shorten(section)}")
    for key in section:
        if key not in KNOWN_KEYS:
            raise fail(key_name(key), f"unknown key (expected one of {', '.join(sorted(KNOWN_KEYS))})")
    for key in ("dataset", "inputs"):
        if key not in section:
            raise fail(key, "is required")
    if "loss" not in section and "objectives" not in section:
        raise fail("loss", "is required")
    dataset, fields = check_dataset(section["dataset"])
    inputs = _inputs(section["inputs"], fields)
    for key, check in TOP_CHECKS.items():
        if key in section:
            check(key, section[key])
    weight_decay = number(0)("weight_decay", section["weight_decay"]) if "weight_decay" in section else None
    objectives = parse_objectives(
        section, lambda where, value: _optimizer(where, value, weight_decay), _schedule
    )
    stopping = section.get("early_stopping")
    if stopping is not None:
        stopping = checked_object("early_stopping", stopping, EARLY_STOPPING_CHECKS, '{"patience": 5}')
        if len(objectives) > 1:
            raise fail("early_stopping", "watches one loss, and this section has several objectives")
    return TrainingConfig(
        dataset=dataset,
        inputs=inputs,
        objectives=objectives,
        predict=section.get("predict"),
        threshold=float(section.get("threshold", 0.5)),
        validation=float(section.get("validation", 0.0)),
        batch_size=section.get("batch_size", 32),
        epochs=section.get("epochs", None if "steps" in section else 10),
        steps=section.get("steps"),
        clip_grad_norm=section.get("clip_grad_norm"),
        early_stopping=stopping,
        seed=section.get("seed", 0),
        device=_device("device", section.get("device", "auto")),
        precision=section.get("precision", "fp32"),
        compile=section.get("compile", False),
    )
