"""What the readers share: the result record, the sample limit, the [0, 1] float layout, bounded reads
and file names that print on one line."""

from __future__ import annotations

import errno
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphcore.training.datasets import DatasetError, Fields

MAX_BYTES = 2**30  # decoded data a reader will hold: 1 GB, as for the CSV / .npy / .npz files
CHUNK = 2**24  # bytes read at a time from a stream whose real length is not known yet


@dataclass(frozen=True)
class LabelledImages:
    """Images and their labels in the layout the Trainer takes, with the name of each class index."""

    x: np.ndarray  # float32 in [0, 1]: [n, c, h, w], or [n, c*h*w] when flattened
    y: np.ndarray  # int64 class indices: [n]
    classes: tuple[str, ...]

    @property
    def fields(self) -> Fields:
        return {"x": self.x, "y": self.y}


def shown(path: Path | str) -> str:
    """A file name for a one-line message: control characters and undecodable bytes escaped."""
    text = os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def checked_limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise DatasetError(f"limit must be a positive number of samples, not {limit!r:.80}")
    return limit


def as_path(path: Any, what: str) -> Path:
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise DatasetError(f"{what}: expected a file or folder path, not {path!r:.80}")
    return Path(path)


def layout(pixels: np.ndarray, scale: float, flatten: bool) -> np.ndarray:
    """[n, c, h, w] numbers in [0, scale] as float32 in [0, 1], flattened to [n, c*h*w] when asked."""
    x = pixels.astype(np.float32) / np.float32(scale)
    return x.reshape(len(x), -1) if flatten else x


def check_size(path: Path, declared: int, what: str, max_bytes: int, limit_helps: bool = True) -> None:
    if declared > max_bytes:
        hint = " (give a sample limit to read fewer)" if limit_helps else ""
        raise DatasetError(
            f"{shown(path)}: {what} {declared / 1e9:.3g} GB; up to {max_bytes / 1e9:.3g} GB is read{hint}"
        )


def read_exactly(stream: io.BufferedIOBase, size: int) -> bytes:
    """Up to `size` bytes, read in chunks so that memory grows only with data really there: a
    hostile header's size is never allocated up front."""
    parts, got = [], 0
    while got < size:
        part = stream.read(min(CHUNK, size - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def skip(stream: io.BufferedIOBase, size: int) -> int:
    """Reads and drops up to `size` bytes; returns how many there were."""
    got = 0
    while got < size:
        part = stream.read(min(CHUNK, size - got))
        if not part:
            break
        got += len(part)
    return got


def why_missing(path: Path) -> str:
    """What a path that is neither a file nor a folder is: a broken link, a link loop, or nothing."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        if path.is_symlink():
            return "a broken symbolic link"
        return "no such file or folder"
    return "neither a file nor a folder"
