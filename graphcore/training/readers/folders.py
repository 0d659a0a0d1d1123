"""Folders of images, one sub-folder per class (the layout torchvision's ImageFolder reads): class names
sorted, labels their indices, every image converted to one mode and resized to one size. Pillow is an
optional extra; only well-known formats are opened, and an image's declared size is checked before its
pixels are decoded."""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib
from collections.abc import Sequence
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
    shown,
    why_missing,
)

MODES = {"grayscale": "L", "rgb": "RGB"}
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")  # never EPS and the like: they run tools
MAX_IMAGE_PIXELS = 2**25  # a 32-megapixel image is larger than any a training set holds
MAX_SIDE = 4096
MAX_ENTRIES = 10**7  # files and folders looked at, however the links lead
MAX_DEPTH = 32
INSTALL = "pip install 'backprop-studio[images]' (or pip install pillow)"


def read_image_folder(
    path: Any,
    *,
    size: int | Sequence[int],
    mode: str = "rgb",
    limit: int | None = None,
    flatten: bool = False,
    max_bytes: int = MAX_BYTES,
) -> LabelledImages:
    """Each sub-folder of `path` is a class holding its images (at any depth; names starting with a dot
    are skipped, other files at the top are ignored). Images are converted to `mode` ("grayscale" or
    "rgb") and resized to `size` (height, width, or one number for a square): x [n, 1 or 3, height,
    width] in [0, 1] (or flattened), y int64. A `limit` takes the first files of each class, the classes
    as even as their sizes allow."""
    path, limit = as_path(path, "image folder"), checked_limit(limit)
    height, width = _checked_size(size)
    if mode not in MODES:
        raise DatasetError(f"image mode must be grayscale or rgb, not {mode!r:.80}")
    image_module = _pillow(path)
    classes = _class_folders(path)
    budget = [MAX_ENTRIES]
    files = [_image_files(folder, budget) for _, folder in classes]
    for (name, folder), found in zip(classes, files):
        if not found:
            raise DatasetError(f"{shown(folder)}: the class folder {shown(name)!r} holds no images")
    quotas = _quotas([len(found) for found in files], limit)
    chosen = [(label, file) for label, found in enumerate(files) for file in found[: quotas[label]]]
    channels = 1 if mode == "grayscale" else 3
    check_size(path, len(chosen) * channels * height * width * 4, "as float32 the images take", max_bytes)
    pixels = np.empty((len(chosen), height, width, channels), np.uint8)
    for i, (_, file) in enumerate(chosen):
        pixels[i] = _load(image_module, file, MODES[mode], (width, height)).reshape(height, width, channels)
    y = np.array([label for label, _ in chosen], np.int64)
    x = layout(pixels.transpose(0, 3, 1, 2), 255, flatten)
    return LabelledImages(x, y, tuple(name for name, _ in classes))


def _checked_size(size: Any) -> tuple[int, int]:
    sides = [size, size] if isinstance(size, int) else size
    if (
        not isinstance(sides, list | tuple)
        or len(sides) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SIDE for s in sides)
    ):
        raise DatasetError(f"image size must be [height, width] of 1 to {MAX_SIDE} pixels, not {size!r:.80}")
    return sides[0], sides[1]


def _pillow(path: Path) -> Any:
    try:
        # optional: only a folder of images needs it
        from PIL import Image
    except ImportError:
        raise DatasetError(f"{shown(path)}: reading a folder of images needs Pillow: {INSTALL}") from None
    return Image


def _class_folders(path: Path) -> list[tuple[str, Path]]:
    if not path.is_dir():
        what = "a file, not a folder of class folders" if path.is_file() else why_missing(path)
        raise DatasetError(f"{shown(path)}: {what}")
    classes, files = [], 0
    for entry in _listed(path):
        if entry.name.startswith("."):
            continue
        where = Path(entry.path)
        try:
            is_dir = stat.S_ISDIR(os.stat(where).st_mode)
        except OSError:
            raise DatasetError(f"{shown(where)}: {why_missing(where)}") from None
        if not is_dir:
            files += 1
            continue
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:
            raise DatasetError(
                f"{shown(where)}: the class folder's name is not valid UTF-8: rename it"
            ) from None
        classes.append((entry.name, where))
    if not classes:
        hint = (
            f"; it holds {files} files: put each class's images in a sub-folder named after the class"
            if files
            else " (the folder is empty)"
        )
        raise DatasetError(f"{shown(path)}: no class sub-folders{hint}")
    return classes


def _image_files(folder: Path, budget: list[int]) -> list[Path]:
    """The files under a class folder, sorted, following links; a link back to a folder above is
    refused (it would never end), and so are links to nothing and anything but plain files."""
    found: list[Path] = []

    def walk(directory: Path, ancestors: dict[tuple[int, int], Path]) -> None:
        if len(ancestors) > MAX_DEPTH:
            raise DatasetError(f"{shown(directory)}: folders nested more than {MAX_DEPTH} deep")
        for entry in _listed(directory):
            budget[0] -= 1
            if budget[0] < 0:
                raise DatasetError(f"{shown(folder)}: more than {MAX_ENTRIES} files and folders")
            if entry.name.startswith("."):
                continue
            where = Path(entry.path)
            try:
                info = os.stat(where)
            except OSError:
                raise DatasetError(f"{shown(where)}: {why_missing(where)}") from None
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in ancestors:
                    raise DatasetError(
                        f"{shown(where)}: a symbolic link loop (it leads back to {shown(ancestors[key])})"
                    )
                walk(where, {**ancestors, key: where})
            elif stat.S_ISREG(info.st_mode):
                found.append(where)
            else:
                raise DatasetError(f"{shown(where)}: not a plain file (a device, pipe or socket)")

    top = os.stat(folder)
    parent = os.stat(folder.parent)
    walk(folder, {(parent.st_dev, parent.st_ino): folder.parent, (top.st_dev, top.st_ino): folder})
    return found


def _listed(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError as error:
        raise DatasetError(f"{shown(folder)}: cannot be listed ({error.strerror or error})") from None


def _quotas(counts: list[int], limit: int | None) -> list[int]:
    """How many of each class's files to take: all of them, or `limit` in all spread evenly."""
    if limit is None or limit >= sum(counts):
        return counts
    low, high = 0, max(counts)
    while low < high:  # the largest even share that fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if sum(min(c, middle) for c in counts) <= limit else (low, middle - 1)
    quotas = [min(c, low) for c in counts]
    left = limit - sum(quotas)
    for i, c in enumerate(counts):
        if left and c > quotas[i]:
            quotas[i] += 1
            left -= 1
    return quotas


def _load(image_module: Any, file: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """One image's pixels as uint8 [height, width(, 3)] in `mode` and `size` (width, height)."""
    bomb = image_module.DecompressionBombWarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette-transparency notes and the like
            warnings.simplefilter("error", bomb)
            with image_module.open(file, formats=FORMATS) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise bomb(f"{width}×{height} pixels")
                converted = image.convert(mode)
            if converted.size != size:
                converted = converted.resize(size, image_module.Resampling.BILINEAR)
            return np.asarray(converted, np.uint8)
    except (image_module.DecompressionBombError, bomb) as error:
        raise DatasetError(
            f"{shown(file)}: too large an image ({shown(str(error)[:120])}); images of up to "
            f"{MAX_IMAGE_PIXELS} pixels are read"
        ) from None
    except PermissionError:
        raise DatasetError(f"{shown(file)}: cannot be read (permission denied)") from None
    except image_module.UnidentifiedImageError:
        raise DatasetError(
            f"{shown(file)}: not an image ({', '.join(FORMATS)} are read); move it out of the class folders"
        ) from None
    except (  # what a damaged image raises from Pillow's decoders
        OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError, KeyError, MemoryError,
        struct.error, zlib.error,
    ) as error:  # fmt: skip
        raise DatasetError(
            f"{shown(file)}: a damaged image ({shown(str(error)[:200]) or type(error).__name__})"
        ) from None
