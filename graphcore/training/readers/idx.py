"""MNIST-style IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), plain or gzip-compressed: told by the
first bytes, not the name. The header (zero bytes, type code, dimensions) is checked against the data
really there before anything of the declared size is allocated, and decompression stops at the declared
size, so a gzip bomb costs no more memory than an honest file."""

from __future__ import annotations

import gzip
import io
import math
import struct
import zlib
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
    skip,
    why_missing,
)

IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"}
TYPE_NAMES = {"u1": "uint8", "i1": "int8", "i2": "int16", "i4": "int32", "f4": "float32", "f8": "float64"}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(
    images: Any,
    labels: Any,
    *,
    limit: int | None = None,
    flatten: bool = False,
    max_bytes: int = MAX_BYTES,
) -> LabelledImages:
    """An images file (idx3: uint8 [n, rows, cols]) and its labels file (idx1: [n] integers) as
    x [n, 1, rows, cols] in [0, 1] (or [n, rows*cols]) and y int64; the first `limit` samples."""
    images, labels = as_path(images, "IDX images"), as_path(labels, "IDX labels")
    pixels, pixel_dims = _read(images, checked_limit(limit), max_bytes)
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        hint = " (is this the labels file?)" if pixels.ndim == 1 else ""
        raise DatasetError(
            f"{shown(images)}: holds {_describe(pixel_dims, pixels.dtype.str[1:])}; "
            f"images are uint8 [count, rows, columns]{hint}"
        )
    y, label_dims = _read(labels, limit, max_bytes)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        hint = " (is this the images file?)" if y.ndim == 3 else ""
        raise DatasetError(
            f"{shown(labels)}: holds {_describe(label_dims, y.dtype.str[1:])}; labels are integers [count]{hint}"
        )
    if label_dims[0] != pixel_dims[0]:
        raise DatasetError(
            f"{shown(labels)}: holds {label_dims[0]} labels but {shown(images)} holds {pixel_dims[0]} images"
        )
    if (y < 0).any():
        at = int(np.argmax(y < 0))
        raise DatasetError(f"{shown(labels)}: label {at} is {int(y[at])}; class indices are never negative")
    check_size(images, pixels.size * 4, "as float32 the images take", max_bytes)
    x = layout(pixels[:, None], 255, flatten)
    return LabelledImages(x, y.astype(np.int64), tuple(str(i) for i in range(int(y.max()) + 1)))


def read_idx_array(path: Any, *, limit: int | None = None, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """An IDX file's array as it is stored (any IDX type, native byte order), its first `limit` entries."""
    return _read(as_path(path, "IDX file"), checked_limit(limit), max_bytes)[0]


def _describe(dims: tuple[int, ...], code: str) -> str:
    return f"{TYPE_NAMES.get(code, code)} [{', '.join(map(str, dims))}]"


def _read(path: Path, limit: int | None, max_bytes: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The array (first `limit` entries) and the dimensions the header declares."""
    if not path.is_file():
        what = "a folder, not an IDX file" if path.is_dir() else why_missing(path)
        raise DatasetError(f"{shown(path)}: {what}")
    compressed = False
    try:
        with path.open("rb") as raw:
            size = raw.seek(0, 2)
            raw.seek(0)
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            check_size(path, size, "the file holds", max_bytes, limit_helps=False)
            if not compressed:
                return _parse(path, raw, size, limit, max_bytes)
            with gzip.GzipFile(fileobj=raw) as unpacked:
                return _parse(path, unpacked, None, limit, max_bytes)
    except (OSError, EOFError, zlib.error) as error:
        what = "damaged gzip data" if compressed else "cannot be read"
        raise DatasetError(f"{shown(path)}: {what} ({str(error)[:200] or type(error).__name__})") from None


def _parse(
    path: Path, stream: io.BufferedIOBase, size: int | None, limit: int | None, max_bytes: int
) -> tuple[np.ndarray, tuple[int, ...]]:
    """`size` is the plain file's size; None for a gzip stream, whose length shows only as it is read."""
    where = f"{shown(path)}:{' (gzip-compressed)' if size is None else ''}"
    head = read_exactly(stream, 4)
    if len(head) < 4:
        raise DatasetError(f"{where} {len(head)} bytes, too short for an IDX header")
    if head[:2] != b"\0\0":
        raise DatasetError(
            f"{where} not an IDX file: it starts with bytes {head.hex(' ')}, an IDX file with 00 00"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02x} {TYPE_NAMES[t]}" for c, t in IDX_TYPES.items())
        raise DatasetError(f"{where} unknown IDX type code 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise DatasetError(f"{where} the IDX header declares no dimensions")
    dim_bytes = read_exactly(stream, 4 * ndim)
    if len(dim_bytes) < 4 * ndim:
        raise DatasetError(f"{where} truncated inside the IDX header ({ndim} dimensions declared)")
    dims = struct.unpack(f">{ndim}I", dim_bytes)
    dtype = np.dtype(">" + IDX_TYPES[code])
    described = _describe(dims, IDX_TYPES[code])
    record = math.prod(dims[1:]) * dtype.itemsize
    payload = dims[0] * record
    check_size(path, payload, f"the header declares {described}, that is", max_bytes, limit_helps=False)
    if payload == 0:
        raise DatasetError(f"{where} holds no samples (the header declares {described})")
    if size is not None and size != 4 + 4 * ndim + payload:
        there = size - 4 - 4 * ndim
        problem = "truncated" if there < payload else "longer than its header says"
        raise DatasetError(
            f"{where} {problem}: the header declares {described}, {payload} bytes, "
            f"but {there} bytes follow the header"
        )
    take = dims[0] if limit is None else min(limit, dims[0])
    data = read_exactly(stream, take * record)
    got = len(data)
    if got == take * record:
        got += skip(stream, payload - take * record) if size is None else payload - take * record
    if got < payload:
        raise DatasetError(
            f"{where} truncated: the header declares {described}, {payload} bytes, but only {got} follow"
        )
    if size is None and stream.read(1):
        raise DatasetError(
            f"{where} longer than its header says: more than the {payload} bytes of {described}"
        )
    array = np.frombuffer(data, dtype).reshape(take, *dims[1:])
    return array.astype(dtype.newbyteorder("=")), dims
