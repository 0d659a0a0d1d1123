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


def _noisy_polar(
    rng: np.random.Generator,
    radius: Any,
    angle: Any,
    noise: float,
) -> np.ndarray:
    """Points at (radius, angle) in the plane plus Gaussian noise, as float32."""
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return (points + rng.normal(0, noise, (len(points), 2))).astype(np.float32)


def circles(
    rng: np.random.Generator,
    n: int = 512,
    noise: float = 0.05,
    factor: float = 0.5,
    labels: str = "index",
) -> Fields:
    y = np.arange(n) % 2
    angles = rng.uniform(0, 2 * np.pi, n)
    x = _noisy_polar(rng, np.where(y == 0, 1.0, factor), angles, noise)
    return {"x": x, "y": _labels(y, labels, 2)}


def spirals(
    rng: np.random.Generator,
    n: int = 512,
    noise: float = 0.05,
    turns: float = 1.5,
    labels: str = "index",
) -> Fields:
    y = np.arange(n) % 2
    t = rng.uniform(0.05, 1, n)
    x = _noisy_polar(rng, t, 2 * np.pi * turns * t + np.pi * y, noise)
    return {"x": x, "y": _labels(y, labels, 2)}


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


# graphcore.training.readers, read when asked
READER_NAMES = ("idx", "cifar10", "image_folder", "digits", "text")


def _read_file(path: Path, kind: str, max_bytes: int = 2**30) -> Any:
    """A CSV file as (header, rows of text cells); an .npy file as its array; an .npz file as a dict of
    arrays. Nothing in a file can run code: pickled objects are refused."""
    import csv  # imported here: an exported training script copies this function's text
    import tokenize
    import zipfile
    import zlib

    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder, not a data file")
    size = path.stat().st_size
    if size > max_bytes:
        raise DatasetError(f"{path}: the file holds {size / 1e9:.3g} GB; data files of up to 1 GB are read")
    try:
        if kind in ("npy", "npz"):
            with path.open("rb") as handle:  # np.load leaks its own handle when an archive is damaged
                magic = handle.read(6)
                handle.seek(0)
                if magic == b"\x93NUMPY" and kind == "npy":
                    return np.load(handle, allow_pickle=False)
                if magic.startswith(b"PK") and kind == "npz":
                    with np.load(handle, allow_pickle=False) as archive:
                        unpacked = sum(info.file_size for info in archive.zip.infolist())
                        if unpacked > max_bytes:
                            raise DatasetError(
                                f"{path}: the archive unpacks to {unpacked / 1e9:.3g} GB; "
                                "data files of up to 1 GB are read"
                            )
                        return {name: archive[name] for name in archive.files}
            rows = []
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.reader(handle))
    except DatasetError:
        raise
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (byte {error.start} cannot be read)") from None
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DatasetError(
                f"{path}: holds Python objects, which are never loaded (they could run code): "
                "save an array of numbers"
            ) from None
        raise DatasetError(f"{path}: cannot read as {kind} ({str(error)[:200]})") from None
    except (  # what a damaged file raises from numpy (its header parser too), zipfile and zlib
        OSError, EOFError, MemoryError, RuntimeError, NotImplementedError, SyntaxError, TypeError,
        KeyError, AttributeError, IndexError, zipfile.BadZipFile, zlib.error, tokenize.TokenError, csv.Error,
    ) as error:  # fmt: skip
        raise DatasetError(
            f"{path}: cannot read as {kind} ({str(error)[:200] or type(error).__name__})"
        ) from None
    if kind != "csv":
        raise DatasetError(f"{path}: not an .{kind} file (numpy.save writes .npy, numpy.savez .npz)")
    while rows and not rows[-1]:
        rows.pop()  # blank lines at the end
    if not rows:
        raise DatasetError(f"{path}: the file is empty; expected a header row, then one row per sample")
    header = [name.strip() for name in rows[0]]
    if len(rows) == 1:
        raise DatasetError(f"{path}: the file has a header but no data rows")
    for number, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise DatasetError(f"{path}: row {number} has {len(row)} cells but the header has {len(header)}")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DatasetError(f"{path}: the header names column {column[:80]!r} twice")
        seen.add(column)
    return header, rows[1:]


def _field_from(
    data: Any,
    path: Path,
    kind: str,
    name: str,
    spec: Mapping[str, Any],
) -> np.ndarray:
    """One field as an array of numbers. Empty CSV cells and NaNs are missing values: refused, with the
    row and column, unless the field gives a `fill`; infinities and non-numbers are always refused."""
    dtype = {"float": np.float32, "long": np.int64}.get(spec.get("dtype", "float"))
    if dtype is None:
        raise DatasetError(f"field {name!r}: dtype must be float or long, not {spec.get('dtype')!r}")
    fill = spec.get("fill")
    if kind == "csv":
        header, rows = data
        columns = spec.get("columns")
        wanted = [columns] if isinstance(columns, str) else columns
        if not wanted:
            raise DatasetError(f'field {name!r}: give the CSV columns to read, e.g. "columns": ["a", "b"]')
        missing = [c for c in wanted if c not in header]
        if missing:
            shown = (
                ", ".join(header).replace("\n", "\\n").replace("\r", "\\r")
            )  # quoted headers may hold them
            shown = shown if len(shown) <= 200 else shown[:199] + "…"
            raise DatasetError(
                f"{path}: field {name!r}: no column {str(missing[0])[:80]!r} (columns: {shown})"
            )
        index = [header.index(c) for c in wanted]
        cells = np.array([[row[i].strip() for i in index] for row in rows], dtype=object)
        missing_cells = cells == ""
        if fill is not None:
            cells[missing_cells] = str(float(fill))
        try:
            array = cells.astype(np.float64)
        except ValueError:  # find the first bad cell, to name it
            for (r, c), cell in np.ndenumerate(cells):
                where = f"{path}: field {name!r}: row {r + 2}, column {wanted[c][:80]!r}"
                if cell == "":
                    raise DatasetError(
                        f'{where}: the cell is empty (give the field a "fill" value to use instead)'
                    ) from None
                try:
                    float(cell)
                except ValueError:
                    raise DatasetError(f"{where}: {cell[:80]!r} is not a number") from None
            raise
        if isinstance(columns, str):
            array = array[:, 0]

        def position(at: tuple[int, ...]) -> str:
            return f"row {at[0] + 2}, column {wanted[at[1] if len(at) > 1 else 0][:80]!r}"

    else:
        if kind == "npy":
            array = data
        elif spec.get("array") not in data:
            raise DatasetError(
                f"{path}: field {name!r}: no array {str(spec.get('array'))[:80]!r} (arrays: {', '.join(data)})"
            )
        else:
            array = data[spec["array"]]
        if array.dtype.kind not in "biuf":
            raise DatasetError(f"{path}: field {name!r}: the array holds {array.dtype} values, not numbers")
        if array.ndim == 0 or len(array) == 0:
            raise DatasetError(
                f"{path}: field {name!r}: the array of shape {list(array.shape)} holds no samples"
            )
        if "columns" in spec:
            try:
                array = array[:, spec["columns"]]
            except IndexError:
                raise DatasetError(
                    f"{path}: field {name!r}: columns {spec['columns']} do not fit an array of shape "
                    f"{list(array.shape)}"
                ) from None
        array = array.astype(np.float64) if array.dtype.kind == "f" else array

        def position(at: tuple[int, ...]) -> str:
            return f"index {list(at)}"

    if array.dtype.kind == "f":
        if fill is not None:
            array = np.where(np.isnan(array), float(fill), array)
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            value = array[first]
            what = "a missing value (NaN)" if np.isnan(value) else f"{value}"
            hint = ' (give the field a "fill" value to use instead)' if np.isnan(value) else ""
            raise DatasetError(f"{path}: field {name!r}: {position(first)} holds {what}{hint}")
        if dtype == np.float32 and (np.abs(array) > np.finfo(np.float32).max).any():
            first = tuple(int(i) for i in np.argwhere(np.abs(array) > np.finfo(np.float32).max)[0])
            raise DatasetError(
                f"{path}: field {name!r}: {position(first)} holds {array[first]:.3g}, too large for float32"
            )
        if dtype == np.int64:
            bad = (array != np.round(array)) | (np.abs(array) > 2**62)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                raise DatasetError(
                    f"{path}: field {name!r}: {position(first)} holds {array[first]:.10g}, "
                    "not a whole number (the field's dtype is long)"
                )
    return array.astype(dtype)


def from_file(path: Path, fields: Mapping[str, Mapping[str, Any]]) -> Fields:
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("csv", "npy", "npz"):
        raise DatasetError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .npy or .npz)")
    if not fields:
        raise DatasetError(f'{path}: say which fields to read, e.g. "fields": {{"x": {{"columns": [...]}}}}')
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
    elif name in READER_NAMES:
        from graphcore.training.readers import read_dataset  # the readers import this module

        fields = read_dataset(name, config, base_dir).fields
    else:
        options = ", ".join([*GENERATED, *READER_NAMES])
        raise DatasetError(f"unknown dataset {name!r} (use one of {options}, or file)")
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


def check_inputs(
    fields: Fields, bindings: Mapping[str, str], inputs: Mapping[str, Mapping[str, Any]], batch_size: int
) -> None:
    """The dataset fits the graph's Input nodes (`inputs`: node id -> its params): every Input without
    a value is bound to a field, and each bound field has the Input's number of dimensions, its fixed
    sizes after the first, and integers exactly where the Input takes `long`."""
    for node, params in inputs.items():
        if node not in bindings and params.get("value") is None:
            raise DatasetError(
                f"training.inputs: Input {node!r} is fed by nothing: bind it to a dataset field "
                f"(fields: {', '.join(fields)})"
            )
    for node, name in bindings.items():
        array, params = fields[name], inputs[node]
        shape, long = list(params["shape"]), params.get("dtype") == "long"
        where = f"training.inputs.{node}: the dataset field {name!r}"
        sample = "[" + ", ".join(["n", *map(str, array.shape[1:])]) + "]"
        taken = "[" + ", ".join(map(str, shape)) + "]"
        fits = len(shape) == array.ndim and all(
            isinstance(d, str) or d == size for d, size in zip(shape[1:], array.shape[1:])
        )
        if not fits:
            raise DatasetError(f"{where} has shape {sample} but Input {node!r} takes {taken}")
        if shape and not isinstance(shape[0], str) and shape[0] != batch_size:
            raise DatasetError(
                f"training.inputs.{node}: Input {node!r} has a fixed batch size {shape[0]} but batch_size is "
                f'{batch_size}: give the Input a symbolic first dimension such as "N"'
            )
        if long != (array.dtype.kind in "iu"):
            held, wanted = ("integers", "floats") if not long else ("floats", "integers (dtype long)")
            raise DatasetError(f"{where} holds {held} but Input {node!r} takes {wanted}")
