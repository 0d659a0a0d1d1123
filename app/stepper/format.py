"""Short text for a value: a number for scalars, shape and norm for tensors (badges, side panel)."""

from __future__ import annotations

import math
from typing import Any


def number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}"


def describe(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if not hasattr(value, "numel"):
        return number(float(value))
    value = value.detach()  # a weight's value still requires grad
    if value.numel() == 1 and value.dim() == 0:
        return number(float(value))
    norm = float(value.double().norm())
    return f"{list(value.shape)} ‖·‖={number(norm)}"
