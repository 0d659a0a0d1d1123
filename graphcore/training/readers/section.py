"""The readers as `training.dataset` sections: {"name": "idx", "images": ..., "labels": ...},
{"name": "cifar10", "path": ...}, {"name": "image_folder", "path": ..., "size": [28, 28]},
{"name": "digits"}; paths relative to the graph file. graphcore.training.datasets.build calls this."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from graphcore.training.datasets import DatasetError
from graphcore.training.readers.cifar import read_cifar10
from graphcore.training.readers.common import LabelledImages
from graphcore.training.readers.digits import read_digits
from graphcore.training.readers.folders import read_image_folder
from graphcore.training.readers.idx import read_idx
from graphcore.training.readers.text import TextWindows, read_text

READERS: dict[str, Callable[..., LabelledImages | TextWindows]] = {
    "idx": read_idx,
    "cifar10": read_cifar10,
    "image_folder": read_image_folder,
    "digits": read_digits,
    "text": read_text,
}
PATH_KEYS = {
    "idx": ("images", "labels"),
    "cifar10": ("path",),
    "image_folder": ("path",),
    "digits": (),
    "text": ("path",),
}
REQUIRED = {"image_folder": ("size",)}
COMMON = ("name", "seed", "validation")  # the section's keys that are not the reader's


def reader_options(name: str) -> tuple[str, ...]:
    """The keys a reader's section may give besides name, seed and validation (max_bytes is not one)."""
    return tuple(key for key in inspect.signature(READERS[name]).parameters if key != "max_bytes")


def read_dataset(name: str, section: Mapping[str, Any], base_dir: Path) -> LabelledImages | TextWindows:
    options = {key: value for key, value in section.items() if key not in COMMON}
    known = reader_options(name)
    for key in options:
        if key not in known:
            raise DatasetError(f"dataset {name!r}: unknown key {str(key)[:80]!r} (known: {', '.join(known)})")
    for key in (*PATH_KEYS[name], *REQUIRED.get(name, ())):
        if key not in options:
            raise DatasetError(f"dataset {name!r}: give {key!r}")
    for key in PATH_KEYS[name]:
        if not isinstance(options[key], str) or not options[key]:
            raise DatasetError(f"dataset {name!r}: {key!r} must be a path, not {options[key]!r:.80}")
        path = Path(options[key])
        options[key] = path if path.is_absolute() else base_dir / path
    return READERS[name](**options)
