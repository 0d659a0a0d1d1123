"""A UTF-8 text file as a character-level language-modelling set: every window of `context`
characters (x, as vocabulary indices) and the character that follows it (y).

The vocabulary is the text's own distinct characters, in sorted order; `classes` names each index.
The file is read only up to `max_bytes`, and a text too short for one window is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphcore.training.datasets import DatasetError, Fields
from graphcore.training.readers.common import MAX_BYTES, as_path, checked_limit, shown


@dataclass(frozen=True)
class TextWindows:
    """Windows of character indices and the next character of each, with the vocabulary."""

    x: np.ndarray  # int64 [n, context]
    y: np.ndarray  # int64 [n]
    classes: tuple[str, ...]

    @property
    def fields(self) -> Fields:
        return {"x": self.x, "y": self.y}


def read_text(
    path: Any, *, context: Any = 16, limit: int | None = None, max_bytes: int = MAX_BYTES
) -> TextWindows:
    """The text at `path` as (context window, next character) pairs; the first `limit` of them."""
    path = as_path(path, "text")
    limit = checked_limit(limit)
    if not isinstance(context, int) or isinstance(context, bool) or not 1 <= context <= 4096:
        raise DatasetError(f"context must be a number of characters from 1 to 4096, not {context!r:.80}")
    if not Path(path).is_file():
        raise DatasetError(
            f"{shown(path)}: no such file" if not Path(path).exists() else f"{shown(path)}: not a file"
        )
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise DatasetError(
            f"{shown(path)}: the file holds {size / 1e9:.3g} GB; up to {max_bytes / 1e9:.3g} GB is read"
        )
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{shown(path)}: not UTF-8 text (byte {error.start} cannot be read)") from None
    except OSError as error:
        raise DatasetError(f"{shown(path)}: cannot be read ({error.strerror or error})") from None
    if len(text) <= context:
        raise DatasetError(
            f"{shown(path)}: the text has {len(text)} characters; context {context} needs at least {context + 1}"
        )
    classes = tuple(sorted(set(text)))
    index = {c: i for i, c in enumerate(classes)}
    codes = np.array([index[c] for c in text], dtype=np.int64)
    n = len(codes) - context if limit is None else min(limit, len(codes) - context)
    windows = np.lib.stride_tricks.sliding_window_view(codes, context)[:n]
    return TextWindows(np.ascontiguousarray(windows), codes[context : context + n].copy(), classes)
