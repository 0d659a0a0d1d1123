"""The training section's optimizer and learning-rate schedule, written as Python expressions.

The Trainer evaluates these expressions and `graphcore export --train` writes them into the file,
so an exported run builds exactly the optimizer and schedule the app trains with (one source, as
the model's code is one source). The text is fixed here; every value in it comes from a checked
training section and is written by `literal`, so nothing in a graph file can become code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphcore.training.config import OPTIMIZERS

SCHEDULERS = "torch.optim.lr_scheduler"


def literal(value: Any) -> str:
    """repr() of a plain value (None, bool, number, str, list, tuple, dict with str keys) as a literal."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written as a Python literal")
        return repr(value)
    if isinstance(value, list | tuple):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"{value!r} cannot be written as a Python literal")


def optimizer_code(config: Mapping[str, Any], parameters: str = "parameters") -> str:
    """`torch.optim.Adam(parameters, lr=0.05, betas=(0.9, 0.999))` for a parsed optimizer section."""
    class_name, _ = OPTIMIZERS[config["name"]]
    hyper = [
        f"{key}={literal(tuple(value) if key == 'betas' and isinstance(value, list) else value)}"
        for key, value in config.items()
        if key != "name"
    ]
    return f"torch.optim.{class_name}({', '.join([parameters, *hyper])})"


def schedule_code(
    config: Mapping[str, Any], optimizer: str = "optimizer", total_steps: str = "total_steps"
) -> str | None:
    """A per-step scheduler: step or cosine, after an optional linear warm-up; None for a constant rate.

    Warm-up step i of k uses (i + 1)/k of the rate: lr/k first, the full rate on the k-th step.
    """
    warmup = config.get("warmup_steps", 0)
    name = config["name"]
    main = None
    if name == "step":
        main = (
            f"{SCHEDULERS}.StepLR({optimizer}, step_size={literal(config.get('step_size', 100))}, "
            f"gamma={literal(config.get('gamma', 0.1))})"
        )
    elif name == "cosine":
        span = f"{total_steps} - {warmup}" if warmup else total_steps
        main = (
            f"{SCHEDULERS}.CosineAnnealingLR({optimizer}, T_max=max(1, {span}), "
            f"eta_min={literal(config.get('min_lr', 0.0))})"
        )
    if not warmup:
        return main
    ramp = (
        f"{SCHEDULERS}.LinearLR({optimizer}, start_factor=1 / {warmup}, end_factor=1.0, "
        f"total_iters={max(1, warmup - 1)})"
    )
    main = main or f"{SCHEDULERS}.LambdaLR({optimizer}, lambda step: 1.0)"
    return f"{SCHEDULERS}.SequentialLR({optimizer}, [{ramp}, {main}], milestones=[{warmup}])"
