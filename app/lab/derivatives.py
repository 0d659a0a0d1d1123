"""How the derivative lab's views write numbers and tensors; the lab's math is graphcore.derivatives.lab's."""

from __future__ import annotations

import math
from typing import Any

from graphcore._torch import torch


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def show_number(value: float) -> str:
    return f"{value:.4g}"


def describe(tensor: Any) -> str:
    """A scalar as a number; anything larger as its shape and norm (what fits on a badge)."""
    if tensor.numel() == 1:
        return show_number(float(tensor.detach().reshape(())))
    shape = "×".join(str(d) for d in tensor.shape)
    return f"[{shape}] ‖·‖={show_number(float(torch.linalg.vector_norm(tensor.detach().double())))}"
