"""Python's cyclic garbage collector, paused while a large graph or report is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Loading and validating allocate almost only what they keep, and no cycles: the collector's passes
    over the growing structures made them superlinear. What was built then goes straight to the oldest
    generation (freeze + unfreeze moves it there without a pass over it), so the next collections do
    not walk it all again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if collecting:
            gc.enable()
