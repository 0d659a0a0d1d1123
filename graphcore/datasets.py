"""Datasets: generated toy sets (deterministic for a seed) and the user's CSV / .npy / .npz files.

A dataset is a dict of equal-length numpy arrays ("fields"), the first axis being the sample. The
`training.inputs` section binds fields to Input nodes. Problems are DatasetErrors whose message
names the file, field or column at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

Fields = dict[str, np.ndarray]


class DatasetError(ValueError):
    """A dataset that cannot be built or read; the message says what and where."""


def _labels(y: np.ndarray, labels: str, classes: int) -> np.ndarray:
    """Class indices as asked: "index" (int64 [n]), "float" ([n, 1], for BCE/MSE) or "onehot"."""
    if labels == "index":
        return y.astype(np.int64)
    if labels == "float":
        return y.astype(np.float32)[:, None]
    if labels == "onehot":
        return np.eye(classes, dtype=np.float32)[y]
    raise DatasetError(f"labels must be index, float or onehot, not {labels!r}")


def xor(
    rng: np.random.Generator,
    n: int = 4,
    noise: float = 0.0,
    labels: str = "float",
) -> Fields:
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    x = corners[np.arange(n) % 4] + rng.normal(0, noise, (n, 2)).astype(np.float32)
    y = np.array([0, 1, 1, 0])[np.arange(n) % 4]
    return {"x": x.astype(np.float32), "y": _labels(y, labels, 2)}


def two_moons(
    rng: np.random.Generator,
    n: int = 512,
    noise: float = 0.1,
    labels: str = "index",
) -> Fields:
    half = n // 2
    angles = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(angles[:half]), np.sin(angles[:half])], 1)
    lower = np.stack([1 - np.cos(angles[half:]), 0.5 - np.sin(angles[half:])], 1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([np.zeros(half, int), np.ones(n - half, int)])
    return {"x": x.astype(np.float32), "y": _labels(y, labels, 2)}


def circles(
    rng: np.random.Generator,
    n: int = 512,
    noise: float = 0.05,
    factor: float = 0.5,
    labels: str = "index",
) -> Fields:
    y = np.arange(n) % 2
    angles = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 1.0, factor)
    ring = np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1)
    x = ring + rng.normal(0, noise, (n, 2))
    return {"x": x.astype(np.float32), "y": _labels(y, labels, 2)}


def spirals(
    rng: np.random.Generator,
    n: int = 512,
    noise: float = 0.05,
    turns: float = 1.5,
    labels: str = "index",
) -> Fields:
    y = np.arange(n) % 2
    t = rng.uniform(0.05, 1, n)
    angle = 2 * np.pi * turns * t + np.pi * y
    arms = np.stack([t * np.cos(angle), t * np.sin(angle)], 1)
    x = arms + rng.normal(0, noise, (n, 2))
    return {"x": x.astype(np.float32), "y": _labels(y, labels, 2)}


def blobs(
    rng: np.random.Generator,
    n: int = 512,
    centers: int = 3,
    std: float = 0.5,
    labels: str = "index",
) -> Fields:
    means = rng.uniform(-4, 4, (centers, 2))
    y = np.arange(n) % centers
    x = means[y] + rng.normal(0, std, (n, 2))
    return {"x": x.astype(np.float32), "y": _labels(y, labels, centers)}


def sine(
    rng: np.random.Generator,
    n: int = 256,
    noise: float = 0.05,
    low: float = -3.14159,
    high: float = 3.14159,
) -> Fields:
    x = rng.uniform(low, high, (n, 1))
    y = np.sin(x) + rng.normal(0, noise, (n, 1))
    return {"x": x.astype(np.float32), "y": y.astype(np.float32)}


def bars_and_stripes(
    rng: np.random.Generator,
    n: int = 512,
    size: int = 8,
    noise: float = 0.1,
    labels: str = "index",
) -> Fields:
    """Images [n, 1, size, size]: class 0 has vertical bars, class 1 horizontal stripes."""
    y = np.arange(n) % 2
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        lines = rng.random(size) < 0.5
        # never blank: a blank image has no orientation
        lines[rng.integers(size)] = True
        pattern = np.tile(lines, (size, 1)).astype(np.float32)
        images[i, 0] = pattern if y[i] == 0 else pattern.T
    images += rng.normal(0, noise, images.shape).astype(np.float32)
    return {"x": images, "y": _labels(y, labels, 2)}


def sequence_sign(
    rng: np.random.Generator,
    n: int = 512,
    length: int = 10,
    labels: str = "index",
) -> Fields:
    """Sequences [n, length, 1] of ±1 steps; the label says whether their sum is positive (balanced)."""
    steps = rng.choice([-1.0, 1.0], (n, length, 1)).astype(np.float32)
    tied = steps.sum((1, 2)) == 0
    # an even-length tie: flip one step so every sum has a sign
    steps[tied, -1, 0] *= -1
    y = np.arange(n) % 2
    flip = (steps.sum((1, 2)) > 0).astype(int) != y
    steps[flip] = -steps[flip]
    return {"x": steps, "y": _labels(y, labels, 2)}


GENERATED: dict[str, Callable[..., Fields]] = {
    "xor": xor,
    "two_moons": two_moons,
    "circles": circles,
    "spirals": spirals,
    "blobs": blobs,
    "sine": sine,
    "bars_and_stripes": bars_and_stripes,
    "sequence_sign": sequence_sign,
}


def _read_file(path: Path, kind: str) -> Any:
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    try:
        if kind == "csv":
            kwargs = {"names": True, "dtype": None, "encoding": "utf-8"}
            return np.atleast_1d(np.genfromtxt(path, delimiter=",", **kwargs))
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read as {kind} ({error})") from None


def _field_from(
    data: Any,
    path: Path,
    kind: str,
    name: str,
    spec: Mapping[str, Any],
) -> np.ndarray:
    dtype = {"float": np.float32, "long": np.int64}.get(spec.get("dtype", "float"))
    if dtype is None:
        raise DatasetError(
            f"field {name!r}: dtype must be float or long, not {spec.get('dtype')!r}",
        )
    if kind == "csv":
        columns = spec.get("columns")
        wanted = [columns] if isinstance(columns, str) else columns
        if not wanted:
            raise DatasetError(
                f'field {name!r}: give the CSV columns to read, e.g. "columns": ["a", "b"]',
            )
        missing = [c for c in wanted if c not in (data.dtype.names or ())]
        if missing:
            raise DatasetError(
                f"{path}: field {name!r}: no column {missing[0]!r} "
                f"(columns: {', '.join(data.dtype.names or ())})"
            )
        try:
            array = np.stack([np.asarray(data[c], dtype=np.float64) for c in wanted], 1)
        except ValueError:
            raise DatasetError(
                f"{path}: field {name!r}: columns {wanted} must hold numbers",
            ) from None
        if isinstance(columns, str):
            array = array[:, 0]
    else:
        key = spec.get("array")
        if kind == "npy":
            array = np.asarray(data)
        elif key not in data.files:
            arrays = ", ".join(data.files)
            raise DatasetError(
                f"{path}: field {name!r}: no array {key!r} (arrays: {arrays})",
            )
        else:
            array = data[key]
        if "columns" in spec:
            array = array[:, spec["columns"]]
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise DatasetError(f"{path}: field {name!r} holds NaN or infinite values")
    return array.astype(dtype)


def from_file(path: Path, fields: Mapping[str, Mapping[str, Any]]) -> Fields:
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("csv", "npy", "npz"):
        raise DatasetError(
            f"{path}: unsupported file type {path.suffix!r} (use .csv, .npy or .npz)",
        )
    if not fields:
        raise DatasetError(
            f'{path}: say which fields to read, e.g. "fields": {{"x": {{"columns": [...]}}}}',
        )
    data = _read_file(path, kind)
    return {k: _field_from(data, path, kind, k, spec) for k, spec in fields.items()}


def build(config: Mapping[str, Any], base_dir: Path, seed: int = 0) -> Fields:
    """The dataset a `training.dataset` section describes."""
    config = dict(config)
    name = config.pop("name", None)
    if name == "file":
        path = Path(config.get("path", ""))
        fields = from_file(path if path.is_absolute() else base_dir / path, config.get("fields", {}))
    elif name in GENERATED:
        rng = np.random.default_rng(config.pop("seed", seed))
        config.pop("validation", None)
        try:
            fields = GENERATED[name](rng, **config)
        except TypeError as error:
            raise DatasetError(f"dataset {name!r}: {error}") from None
    else:
        raise DatasetError(f"unknown dataset {name!r} (use one of {', '.join(GENERATED)}, or file)")
    sizes = {k: len(v) for k, v in fields.items()}
    if len(set(sizes.values())) > 1:
        raise DatasetError(f"dataset fields have different numbers of samples: {sizes}")
    return fields


def split(fields: Fields, validation: float, seed: int) -> tuple[Fields, Fields]:
    """Shuffle once (seeded) and hold out a fraction for validation."""
    if not 0 <= validation < 1:
        raise DatasetError(
            f"validation must be a fraction in [0, 1), not {validation!r}",
        )
    n = len(next(iter(fields.values())))
    order = np.random.default_rng(seed).permutation(n)
    held = round(n * validation)
    if validation and not 0 < held < n:
        raise DatasetError(
            f"validation={validation} leaves no samples on one side of the split of {n}",
        )
    val_idx, train_idx = order[:held], order[held:]
    return (
        {k: v[train_idx] for k, v in fields.items()},
        {k: v[val_idx] for k, v in fields.items()},
    )
