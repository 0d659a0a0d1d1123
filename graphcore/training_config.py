"""The `training` section of a graph file, checked into a TrainingConfig.

Every problem is a TrainingConfigError of one line naming the key
(`training.optimizer.lr: must be a positive number, got -1`), so the loader, the CLI and the app
show the same line. `parse` is pure and quick (no files, no torch, no numpy): the file loader calls
it on every open. What needs the graph or the data (Input nodes, outputs, shapes) is checked when
a Trainer is built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
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
# the keyword arguments each torch.optim class takes (a wrong one would be a TypeError from torch)
CLASS_HYPERPARAMETERS = {
    "SGD": ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
    "Adagrad": ("lr", "lr_decay", "weight_decay", "eps"),
    "RMSprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
    "Adam": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
    "AdamW": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
}
SCHEDULES = ("constant", "step", "cosine")
LABELS = ("index", "float", "onehot")
FIELD_DTYPES = ("float", "long")
FILE_KINDS = (".csv", ".npy", ".npz")
MAX_COUNT = 10**9  # steps, epochs, batch sizes: more than any run could use, small enough for torch
MAX_SAMPLES = 10**7
MAX_NUMBERS = 10**8  # numbers in a generated dataset (400 MB of float32)
MAX_SEED = 2**32 - 1  # torch and numpy take it, and the runtime derives per-input seeds from it
SHOWN = 80  # characters of a bad value quoted in a message
DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]{1,3})?")
PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


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


def shorten(value: Any, limit: int = SHOWN) -> str:
    """repr() of any JSON value cut to about `limit` characters: safe for deep nesting, huge integers
    and long strings, so a hostile value never makes a long message or a slow one."""
    text = _short_repr(value, limit, 0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: Any, limit: int, depth: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    if isinstance(value, str):
        return repr(value[:limit])
    if isinstance(value, list | tuple | dict):
        if depth > 8:
            return "[…]" if isinstance(value, list | tuple) else "{…}"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        parts, size = [], 0
        for key, item in items:
            part = _short_repr(item, limit, depth + 1)
            part = f"{_short_repr(key, limit, depth + 1)}: {part}" if isinstance(value, dict) else part
            parts.append(part)
            size += len(part) + 2
            if size > limit:
                parts.append("…")
                break
        inside = ", ".join(parts)
        return "{" + inside + "}" if isinstance(value, dict) else "[" + inside + "]"
    return repr(value)


def _name(key: Any) -> str:
    """A key as it reads in a message path: plain keys as they are, anything else quoted and shortened."""
    return key if isinstance(key, str) and PLAIN_KEY.fullmatch(key) else shorten(key, 40)


def _fail(where: str, message: str) -> TrainingConfigError:
    return TrainingConfigError(f"training.{where}: {message}")


Check = Callable[[str, Any], Any]  # (where, value) -> the value, or raises TrainingConfigError


def _count(minimum: int = 1, maximum: int = MAX_COUNT) -> Check:
    what = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, "an integer")

    def check(where: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise _fail(where, f"must be {what}, got {shorten(value)}")
        if value > maximum:
            raise _fail(where, f"must be at most {maximum}, got {shorten(value)}")
        return value

    return check


def _number(low: float = -math.inf, strict: bool = False, high: float = math.inf, what: str = "") -> Check:
    """A finite number in [low, high) (or (low, high) when strict); `what` words the range."""
    what = what or ("a positive" if strict else "a non-negative" if low == 0 else "a finite") + " number"

    def check(where: str, value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(where, f"must be {what}, got {shorten(value)}")
        if isinstance(value, int) and value.bit_length() > 1000:
            raise _fail(where, f"must be {what}, got {shorten(value)}")
        if not math.isfinite(value) or value < low or (strict and value == low) or value >= high:
            raise _fail(where, f"must be {what}, got {shorten(value)}")
        return value

    return check


def _choice(options: tuple[str, ...], noun: str = "value") -> Check:
    def check(where: str, value: Any) -> str:
        if isinstance(value, str) and value not in options:
            raise _fail(where, f"unknown {noun} {shorten(value)} (expected one of {', '.join(options)})")
        if not isinstance(value, str):
            raise _fail(where, f"expected one of {', '.join(options)}, got {shorten(value)}")
        return value

    return check


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"must be true or false, got {shorten(value)}")
    return value


def _text(where: str, value: Any) -> str:
    """A non-empty string that can be written to a file and shown (no lone surrogates, no NULs)."""
    if not isinstance(value, str) or not value:
        raise _fail(where, f"must be a non-empty string, got {shorten(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(where, f"holds characters that cannot be written as UTF-8: {shorten(value)}") from None
    if "\0" in value:
        raise _fail(where, f"must not hold a NUL character, got {shorten(value)}")
    return value


def _optional(check: Check) -> Check:
    return lambda where, value: None if value is None else check(where, value)


def _object(where: str, value: Any, checks: Mapping[str, Check], example: str) -> dict[str, Any]:
    """A JSON object whose keys all have a check; each value checked under `where.key`."""
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object such as {example}, got {shorten(value)}")
    for key, item in value.items():
        if key not in checks:
            known = ", ".join(checks) or "none"
            raise _fail(f"{where}.{_name(key)}", f"unknown key (known: {known})")
        checks[key](f"{where}.{key}", item)
    return dict(value)


def _betas(where: str, value: Any) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _fail(where, f"expected two numbers in [0, 1) such as [0.9, 0.999], got {shorten(value)}")
    for i, beta in enumerate(value):
        _number(0, high=1, what="a number in [0, 1)")(f"{where}[{i}]", beta)
    return list(value)


HYPERPARAMETER_CHECKS: dict[str, Check] = {
    "lr": _number(0, strict=True),
    "momentum": _number(0),
    "dampening": _number(0),
    "weight_decay": _number(0),
    "nesterov": _flag,
    "lr_decay": _number(0),
    "eps": _number(0),
    "alpha": _number(0),
    "centered": _flag,
    "betas": _betas,
    "amsgrad": _flag,
}
HYPERPARAMETERS = set(HYPERPARAMETER_CHECKS)
SCHEDULE_CHECKS: dict[str, Check] = {
    "name": _choice(SCHEDULES, "schedule"),
    "warmup_steps": _count(0),
    "step_size": _count(1),
    "gamma": _number(0, strict=True),
    "min_lr": _number(0),
}
EARLY_STOPPING_CHECKS: dict[str, Check] = {"patience": _count(1), "min_delta": _number(0)}

_SAMPLES = _count(1, MAX_SAMPLES)
_NOISE = _number(0)
_LABELS = _choice(LABELS, "label encoding")
# each generated set's keyword arguments (graphcore.datasets.GENERATED; a test keeps the two in step)
GENERATED_KEYS: dict[str, dict[str, Check]] = {
    "xor": {"n": _SAMPLES, "noise": _NOISE, "labels": _LABELS},
    "two_moons": {"n": _SAMPLES, "noise": _NOISE, "labels": _LABELS},
    "circles": {"n": _SAMPLES, "noise": _NOISE, "factor": _number(), "labels": _LABELS},
    "spirals": {"n": _SAMPLES, "noise": _NOISE, "turns": _number(), "labels": _LABELS},
    "blobs": {"n": _SAMPLES, "centers": _count(1, 1000), "std": _NOISE, "labels": _LABELS},
    "sine": {"n": _SAMPLES, "noise": _NOISE, "low": _number(), "high": _number()},
    "bars_and_stripes": {"n": _SAMPLES, "size": _count(1, 256), "noise": _NOISE, "labels": _LABELS},
    "sequence_sign": {"n": _SAMPLES, "length": _count(1, 10_000), "labels": _LABELS},
}
GENERATED_DEFAULT_N = {"xor": 4, "sine": 256}  # the others default to 512 samples
DATASET_COMMON: dict[str, Check] = {"name": _text, "seed": _count(0, MAX_SEED), "validation": _number()}


def _generated(where: str, dataset: dict[str, Any]) -> tuple[str, ...]:
    """Checks a generated set's keys and size; returns its fields."""
    name = dataset["name"]
    _object(where, dataset, {**DATASET_COMMON, **GENERATED_KEYS[name]}, f'{{"name": "{name}", "n": 512}}')
    n = dataset.get("n", GENERATED_DEFAULT_N.get(name, 512))
    per_sample = {
        "bars_and_stripes": dataset.get("size", 8) ** 2,
        "sequence_sign": dataset.get("length", 10),
        "blobs": 2 + dataset.get("centers", 3),
    }.get(name, 3)
    if n * per_sample > MAX_NUMBERS:
        raise _fail(where, f"{name} with these sizes holds {n * per_sample:.2g} numbers; the limit is 1e8")
    return ("x", "y")


def _columns(kind: str) -> Check:
    """CSV columns are header names; .npy/.npz columns are indices along the second axis."""
    item = _text if kind == ".csv" else _count(-(10**6), 10**6)

    def check(where: str, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise _fail(where, "must name at least one column")
            for i, column in enumerate(value[:10_000]):
                item(f"{where}[{i}]", column)
            if len(value) > 10_000:
                raise _fail(where, f"at most 10000 columns, got {len(value)}")
            return value
        return item(where, value)

    return check


def _file_dataset(where: str, dataset: dict[str, Any]) -> tuple[str, ...]:
    """Checks a file dataset's path and fields (not the file itself: that is read by the Trainer)."""
    _object(
        where,
        dataset,
        {**DATASET_COMMON, "path": _text, "fields": lambda w, v: v},
        '{"name": "file", "path": "data.csv", "fields": {...}}',
    )
    if "path" not in dataset:
        raise _fail(f"{where}.path", "is required: the data file, relative to the graph file")
    kind = next((k for k in FILE_KINDS if dataset["path"].lower().endswith(k)), None)
    if kind is None:
        raise _fail(f"{where}.path", f"expected a .csv, .npy or .npz file, got {shorten(dataset['path'])}")
    fields = dataset.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise _fail(
            f"{where}.fields",
            f'say which fields to read, e.g. {{"x": {{"columns": [...]}}}}, got {shorten(fields)}',
        )
    checks = {"columns": _columns(kind), "dtype": _choice(FIELD_DTYPES, "dtype"), "fill": _number()}
    if kind == ".npz":
        checks["array"] = _text
    for name, spec in fields.items():
        at = f"{where}.fields.{_name(name)}"
        _text(at, name)
        _object(at, spec, checks, '{"columns": ["a", "b"], "dtype": "float"}')
        if kind == ".csv" and "columns" not in spec:
            raise _fail(f"{at}.columns", 'is required for a CSV file, e.g. "columns": ["a", "b"]')
        if kind == ".npz" and "array" not in spec:
            raise _fail(f"{at}.array", "is required for an .npz file: the name of the array to read")
        fill = spec.get("fill")
        if spec.get("dtype") == "long" and fill is not None and fill != int(fill):
            raise _fail(f"{at}.fill", f"a long field needs a whole-number fill, got {shorten(fill)}")
    return tuple(fields)


def _dataset(value: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The dataset section and the names of the fields it gives."""
    if not isinstance(value, dict) or "name" not in value:
        raise _fail(
            "dataset", f'expected an object with a "name", such as {{"name": "xor"}}, got {shorten(value)}'
        )
    name = value["name"]
    if not isinstance(name, str) or (name != "file" and name not in GENERATED_KEYS):
        options = ", ".join([*GENERATED_KEYS, "file"])
        raise _fail("dataset.name", f"unknown dataset {shorten(name)} (use one of {options})")
    fields = _file_dataset("dataset", value) if name == "file" else _generated("dataset", value)
    return dict(value), fields


def _inputs(value: Any, fields: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise _fail("inputs", f'expected {{"input node id": "dataset field", ...}}, got {shorten(value)}')
    for node, field_name in value.items():
        where = f"inputs.{_name(node)}"
        _text(where, node)
        _text(where, field_name)
        if field_name not in fields:
            raise _fail(
                where, f"the dataset has no field {shorten(field_name)} (fields: {', '.join(fields)})"
            )
    return dict(value)


def _optimizer(section: Mapping[str, Any]) -> dict[str, Any]:
    optimizer = section.get("optimizer", {"name": "sgd"})
    if not isinstance(optimizer, dict):
        raise _fail(
            "optimizer",
            f'expected an object such as {{"name": "adam", "lr": 0.01}}, got {shorten(optimizer)}',
        )
    if "name" not in optimizer:
        raise _fail("optimizer.name", f"is required (one of {', '.join(OPTIMIZERS)})")
    name = _choice(tuple(OPTIMIZERS), "optimizer")("optimizer.name", optimizer["name"])
    class_name, defaults = OPTIMIZERS[name]
    accepted = CLASS_HYPERPARAMETERS[class_name]
    for key, value in optimizer.items():
        if key == "name":
            continue
        if key not in accepted:
            raise _fail(
                f"optimizer.{_name(key)}",
                f"{name} takes no such hyperparameter (it takes {', '.join(accepted)})",
            )
        HYPERPARAMETER_CHECKS[key](f"optimizer.{key}", value)
    if "weight_decay" in section:
        weight_decay = _number(0)("weight_decay", section["weight_decay"])
        optimizer = {**optimizer, "weight_decay": optimizer.get("weight_decay", weight_decay)}
    merged = {**defaults, **optimizer}
    if merged.get("nesterov") and (merged.get("momentum", 0) <= 0 or merged.get("dampening", 0) != 0):
        raise _fail("optimizer.nesterov", "needs a positive momentum and no dampening")
    return merged


TOP_CHECKS: dict[str, Check] = {
    "loss": _text,
    "predict": _optional(_text),
    "threshold": _number(),
    "validation": _number(0, high=1, what="a fraction in [0, 1)"),
    "batch_size": _count(1),
    "epochs": _optional(_count(1)),
    "steps": _optional(_count(1)),
    "clip_grad_norm": _optional(_number(0, strict=True)),
    "seed": _count(0, MAX_SEED),
}
KNOWN_KEYS = (
    "dataset", "inputs", "loss", "predict", "threshold", "validation", "batch_size", "epochs", "steps",
    "optimizer", "schedule", "clip_grad_norm", "weight_decay", "early_stopping", "seed", "device",
)  # fmt: skip


def _device(where: str, value: Any) -> str:
    if not isinstance(value, str) or not DEVICE.fullmatch(value):
        raise _fail(where, f"expected auto, cpu, cuda or cuda:N, got {shorten(value)}")
    return value


def parse(section: Any) -> TrainingConfig:
    """The checked TrainingConfig of a `training` section (with any overrides already merged in)."""
    if not section:
        raise TrainingConfigError("this graph has no training section: add one to say what to train on")
    if not isinstance(section, Mapping):
        raise TrainingConfigError(f"training: expected an object, got {shorten(section)}")
    for key in section:
        if key not in KNOWN_KEYS:
            raise _fail(_name(key), f"unknown key (expected one of {', '.join(sorted(KNOWN_KEYS))})")
    for key in ("dataset", "inputs", "loss"):
        if key not in section:
            raise _fail(key, "is required")
    dataset, fields = _dataset(section["dataset"])
    inputs = _inputs(section["inputs"], fields)
    for key, check in TOP_CHECKS.items():
        if key in section:
            check(key, section[key])
    schedule = _object("schedule", section.get("schedule", {}), SCHEDULE_CHECKS, '{"name": "cosine"}')
    stopping = section.get("early_stopping")
    if stopping is not None:
        stopping = _object("early_stopping", stopping, EARLY_STOPPING_CHECKS, '{"patience": 5}')
    return TrainingConfig(
        dataset=dataset,
        inputs=inputs,
        loss=section["loss"],
        predict=section.get("predict"),
        threshold=float(section.get("threshold", 0.5)),
        validation=float(section.get("validation", 0.0)),
        batch_size=section.get("batch_size", 32),
        epochs=section.get("epochs", None if "steps" in section else 10),
        steps=section.get("steps"),
        optimizer=_optimizer(section),
        schedule={"name": "constant", **schedule},
        clip_grad_norm=section.get("clip_grad_norm"),
        early_stopping=stopping,
        seed=section.get("seed", 0),
        device=_device("device", section.get("device", "auto")),
    )
