"""CIFAR-10's binary version: batch files of records of one label byte and 3072 pixel bytes (1024 red,
1024 green, 1024 blue, each 32×32 row by row). The Python version is pickled and never loaded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from graphcore.training.datasets import DatasetError
from graphcore.training.readers.common import (
    MAX_BYTES,
    LabelledImages,
    as_path,
    check_size,
    checked_limit,
    layout,
    read_exactly,
    shown,
    why_missing,
)

PIXELS = 3 * 32 * 32
RECORD = 1 + PIXELS
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = {"train": "data_batch_*.bin", "test": "test_batch.bin"}


def read_cifar10(
    path: Any,
    *,
    split: str = "train",
    limit: int | None = None,
    flatten: bool = False,
    max_bytes: int = MAX_BYTES,
) -> LabelledImages:
    """One batch file, or the extracted `cifar-10-batches-bin` folder: its data_batch_1..5.bin (split
    "train") or test_batch.bin ("test"). x [n, 3, 32, 32] in [0, 1] (or [n, 3072]), y int64; the class
    names from batches.meta.txt beside the batches when it is there."""
    path, limit = as_path(path, "CIFAR-10"), checked_limit(limit)
    files = _batch_files(path, split)
    sizes = [_checked_batch(file) for file in files]
    wanted = sum(sizes) // RECORD if limit is None else min(limit, sum(sizes) // RECORD)
    check_size(path, wanted * PIXELS * 4, "as float32 the images take", max_bytes)
    labels, pixels = [], []
    for file, size in zip(files, sizes):
        if wanted == 0:
            break
        take = min(wanted, size // RECORD)
        data = _bytes(file, take * RECORD)
        if len(data) < take * RECORD:
            raise DatasetError(f"{shown(file)}: truncated while it was read")
        records = np.frombuffer(data, np.uint8).reshape(take, RECORD)
        bad = records[:, 0] >= len(CLASSES)
        if bad.any():
            at = int(np.argmax(bad))
            raise DatasetError(
                f"{shown(file)}: record {at} has label {records[at, 0]}; CIFAR-10 labels are 0 to 9 "
                "(a CIFAR-100 file has two label bytes per record)"
            )
        labels.append(records[:, 0].astype(np.int64))
        pixels.append(records[:, 1:].reshape(take, 3, 32, 32))
        wanted -= take
    classes = _class_names(path if path.is_dir() else path.parent)
    return LabelledImages(layout(np.concatenate(pixels), 255, flatten), np.concatenate(labels), classes)


def _batch_files(path: Path, split: str) -> list[Path]:
    if split not in SPLITS:
        raise DatasetError(f"CIFAR-10 split must be train or test, not {split!r:.80}")
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetError(f"{shown(path)}: {why_missing(path)}")
    files = sorted(path.glob(SPLITS[split]), key=lambda f: [int(d) for d in re.findall(r"\d+", f.name)])
    if not files:
        pickled = (
            " (its data_batch_1 without .bin is the Python version, which is never loaded: it is pickled)"
        )
        raise DatasetError(
            f"{shown(path)}: no {SPLITS[split]} in this folder; expected CIFAR-10's binary version "
            f"(cifar-10-batches-bin){pickled if (path / 'data_batch_1').exists() else ''}"
        )
    return files


def _checked_batch(file: Path) -> int:
    """The batch file's size, once it is seen to be whole records of the binary version."""
    if not file.is_file():
        what = "a folder, not a batch file" if file.is_dir() else why_missing(file)
        raise DatasetError(f"{shown(file)}: {what}")
    size = file.stat().st_size
    start = _bytes(file, 2)
    if start == b"\x1f\x8b":
        raise DatasetError(f"{shown(file)}: gzip-compressed; extract cifar-10-binary.tar.gz first")
    if start[:1] == b"\x80":
        raise DatasetError(
            f"{shown(file)}: a pickled file (CIFAR-10's Python version), which is never loaded"
        )
    if size == 0 or size % RECORD:
        raise DatasetError(
            f"{shown(file)}: {size} bytes is not a whole number of CIFAR-10 records "
            f"({RECORD} bytes each: a label byte, then {PIXELS} pixel bytes)"
        )
    return size


def _class_names(folder: Path) -> tuple[str, ...]:
    meta = folder / "batches.meta.txt"
    if not meta.is_file():
        return CLASSES
    text = _bytes(meta, 65_536).decode("utf-8", "replace")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != len(CLASSES):
        raise DatasetError(f"{shown(meta)}: names {len(names)} classes; CIFAR-10 has {len(CLASSES)}")
    return names


def _bytes(file: Path, size: int) -> bytes:
    """The first `size` bytes of a file (fewer if it is shorter)."""
    try:
        with file.open("rb") as handle:
            return read_exactly(handle, size)
    except OSError as error:
        raise DatasetError(f"{shown(file)}: cannot be read ({error.strerror or error})") from None
