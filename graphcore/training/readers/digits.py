"""scikit-learn's bundled handwritten digits (1797 images of 8×8 pixels, values 0 to 16): shipped with
scikit-learn, so nothing is downloaded. scikit-learn is an optional extra."""

from __future__ import annotations

import numpy as np

from graphcore.training.datasets import DatasetError
from graphcore.training.readers.common import LabelledImages, checked_limit, layout

INSTALL = "pip install 'backprop-studio[digits]' (or pip install scikit-learn)"


def read_digits(*, limit: int | None = None, flatten: bool = False) -> LabelledImages:
    """x [n, 1, 8, 8] in [0, 1] (or [n, 64]), y int64 digits 0 to 9; the first `limit` samples."""
    limit = checked_limit(limit)
    try:
        # optional, and slow to import: only when asked
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetError(f"the digits dataset needs scikit-learn: {INSTALL}") from None
    digits = load_digits()
    images = np.asarray(digits.images)[:limit]
    y = np.asarray(digits.target)[:limit].astype(np.int64)
    return LabelledImages(layout(images[:, None], 16, flatten), y, tuple(map(str, digits.target_names)))
