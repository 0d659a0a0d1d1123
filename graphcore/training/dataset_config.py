"""The `training.dataset` section: a generated set and its keyword arguments, or a data file and the
fields to read from it. Checked without reading the file (graphcore.training.datasets reads it for a Trainer).
"""

from __future__ import annotations

from typing import Any

from graphcore.training.checks import (
    MAX_SEED,
    Check,
    checked_object,
    choice,
    count,
    fail,
    flag,
    key_name,
    number,
    shorten,
    text_value,
)

LABELS = ("index", "float", "onehot")
FIELD_DTYPES = ("float", "long")
FILE_KINDS = (".csv", ".npy", ".npz")
MAX_SAMPLES = 10**7
MAX_NUMBERS = 10**8  # numbers in a generated dataset (400 MB of float32)

_SAMPLES = count(1, MAX_SAMPLES)
_NOISE = number(0)
_LABELS = choice(LABELS, "label encoding")
# each generated set's keyword arguments (graphcore.training.datasets.GENERATED; a test keeps the two in step)
GENERATED_KEYS: dict[str, dict[str, Check]] = {
    "xor": {"n": _SAMPLES, "noise": _NOISE, "labels": _LABELS},
    "two_moons": {"n": _SAMPLES, "noise": _NOISE, "labels": _LABELS},
    "circles": {"n": _SAMPLES, "noise": _NOISE, "factor": number(), "labels": _LABELS},
    "spirals": {"n": _SAMPLES, "noise": _NOISE, "turns": number(), "labels": _LABELS},
    "blobs": {"n": _SAMPLES, "centers": count(1, 1000), "std": _NOISE, "labels": _LABELS},
    "sine": {"n": _SAMPLES, "noise": _NOISE, "low": number(), "high": number()},
    "bars_and_stripes": {"n": _SAMPLES, "size": count(1, 256), "noise": _NOISE, "labels": _LABELS},
    "sequence_sign": {"n": _SAMPLES, "length": count(1, 10_000), "labels": _LABELS},
}
GENERATED_DEFAULT_N = {"xor": 4, "sine": 256}  # the others default to 512 samples
DATASET_COMMON: dict[str, Check] = {"name": text_value, "seed": count(0, MAX_SEED), "validation": number()}


def _image_size(where: str, value: Any) -> Any:
    """An image folder's size: one number for a square, or [height, width]."""
    side = count(1, 4096)
    if not isinstance(value, list):
        return side(where, value)
    if len(value) != 2:
        raise fail(where, f"must be [height, width] or one number, got {shorten(value)}")
    return [side(f"{where}[{i}]", v) for i, v in enumerate(value)]


# each reader's keys (graphcore.training.readers.section.READERS; a test keeps the two in step)
READER_KEYS: dict[str, dict[str, Check]] = {
    "idx": {"images": text_value, "labels": text_value, "limit": _SAMPLES, "flatten": flag},
    "cifar10": {
        "path": text_value,
        "split": choice(("train", "test"), "split"),
        "limit": _SAMPLES,
        "flatten": flag,
    },
    "image_folder": {
        "path": text_value,
        "size": _image_size,
        "mode": choice(("grayscale", "rgb"), "image mode"),
        "limit": _SAMPLES,
        "flatten": flag,
    },
    "digits": {"limit": _SAMPLES, "flatten": flag},
    "text": {"path": text_value, "context": count(1, 4096), "limit": _SAMPLES},
}
READER_EXAMPLES = {
    "idx": '{"name": "idx", "images": "train-images-idx3-ubyte.gz", "labels": "train-labels-idx1-ubyte.gz"}',
    "cifar10": '{"name": "cifar10", "path": "cifar-10-batches-bin"}',
    "image_folder": '{"name": "image_folder", "path": "photos", "size": [32, 32], "mode": "rgb"}',
    "digits": '{"name": "digits"}',
    "text": '{"name": "text", "path": "data/story.txt", "context": 16}',
}
READER_REQUIRED = {
    "idx": ("images", "labels"),
    "cifar10": ("path",),
    "image_folder": ("path", "size"),
    "text": ("path",),
}


def _reader(where: str, dataset: dict[str, Any]) -> tuple[str, ...]:
    """Checks a reader's keys (not its files: they are read by the Trainer); its fields are x and y."""
    name = dataset["name"]
    checked_object(where, dataset, {**DATASET_COMMON, **READER_KEYS[name]}, READER_EXAMPLES[name])
    for key in READER_REQUIRED.get(name, ()):
        if key not in dataset:
            raise fail(f"{where}.{key}", f"is required, e.g. {READER_EXAMPLES[name]}")
    return ("x", "y")


def _generated(where: str, dataset: dict[str, Any]) -> tuple[str, ...]:
    """Checks a generated set's keys and size; returns its fields."""
    name = dataset["name"]
    checked_object(
        where, dataset, {**DATASET_COMMON, **GENERATED_KEYS[name]}, f'{{"name": "{name}", "n": 512}}'
    )
    n = dataset.get("n", GENERATED_DEFAULT_N.get(name, 512))
    per_sample = {
        "bars_and_stripes": dataset.get("size", 8) ** 2,
        "sequence_sign": dataset.get("length", 10),
        "blobs": 2 + dataset.get("centers", 3),
    }.get(name, 3)
    if n * per_sample > MAX_NUMBERS:
        raise fail(where, f"{name} with these sizes holds {n * per_sample:.2g} numbers; the limit is 1e8")
    return ("x", "y")


def _columns(kind: str) -> Check:
    """CSV columns are header names; .npy/.npz columns are indices along the second axis."""
    item = text_value if kind == ".csv" else count(-(10**6), 10**6)

    def check(where: str, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise fail(where, "must name at least one column")
            for i, column in enumerate(value[:10_000]):
                item(f"{where}[{i}]", column)
            if len(value) > 10_000:
                raise fail(where, f"at most 10000 columns, got {len(value)}")
            return value
        return item(where, value)

    return check


def _file_dataset(where: str, dataset: dict[str, Any]) -> tuple[str, ...]:
    """Checks a file dataset's path and fields (not the file itself: that is read by the Trainer)."""
    checked_object(
        where,
        dataset,
        {**DATASET_COMMON, "path": text_value, "fields": lambda w, v: v},
        '{"name": "file", "path": "data.csv", "fields": {...}}',
    )
    if "path" not in dataset:
        raise fail(f"{where}.path", "is required: the data file, relative to the graph file")
    kind = next((k for k in FILE_KINDS if dataset["path"].lower().endswith(k)), None)
    if kind is None:
        raise fail(f"{where}.path", f"expected a .csv, .npy or .npz file, got {shorten(dataset['path'])}")
    fields = dataset.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise fail(
            f"{where}.fields",
            f'say which fields to read, e.g. {{"x": {{"columns": [...]}}}}, got {shorten(fields)}',
        )
    checks = {"columns": _columns(kind), "dtype": choice(FIELD_DTYPES, "dtype"), "fill": number()}
    if kind == ".npz":
        checks["array"] = text_value
    for name, spec in fields.items():
        at = f"{where}.fields.{key_name(name)}"
        text_value(at, name)
        checked_object(at, spec, checks, '{"columns": ["a", "b"], "dtype": "float"}')
        if kind == ".csv" and "columns" not in spec:
            raise fail(f"{at}.columns", 'is required for a CSV file, e.g. "columns": ["a", "b"]')
        if kind == ".npz" and "array" not in spec:
            raise fail(f"{at}.array", "is required for an .npz file: the name of the array to read")
        fill = spec.get("fill")
        if spec.get("dtype") == "long" and fill is not None and fill != int(fill):
            raise fail(f"{at}.fill", f"a long field needs a whole-number fill, got {shorten(fill)}")
    return tuple(fields)


def check_dataset(value: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The dataset section and the names of the fields it gives."""
    if not isinstance(value, dict) or "name" not in value:
        raise fail(
            "dataset", f'expected an object with a "name", such as {{"name": "xor"}}, got {shorten(value)}'
        )
    name = value["name"]
    options = ", ".join([*GENERATED_KEYS, *READER_KEYS, "file"])
    if not isinstance(name, str) or name not in [*GENERATED_KEYS, *READER_KEYS, "file"]:
        raise fail("dataset.name", f"unknown dataset {shorten(name)} (use one of {options})")
    if name in READER_KEYS:
        return dict(value), _reader("dataset", value)
    fields = _file_dataset("dataset", value) if name == "file" else _generated("dataset", value)
    return dict(value), fields
