"""Mixed precision and torch.compile: the `precision` and `compile` keys of a training section.

`precision` bf16 or fp16 runs each step's forward pass under `torch.autocast` on the device's own
autocast type (weights and optimizer state stay float32, as torch's recipe has it); fp16 also scales
the loss with a `torch.amp.GradScaler`, which is a CUDA recipe: on the CPU fp16 is refused rather
than silently run as something else. `compile` wraps the module in `torch.compile`, which on the CPU
builds C++ and so needs a compiler: its absence is said at once, not at the first step. Compiled
code draws random numbers with torch's own generator (inductor's `fallback_random`), so a seed gives
the same run compiled or not.
Everything here needs the device, so it is checked when a Trainer (or an export run) is built.

`Checkpoint` is what lets the Trainer read losses and its NaN/Inf watch off the device only now and
then: when a late read finds a non-finite value, the steps since the checkpoint are taken again one
by one, checked, and the run stops where a step-by-step check would have stopped.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any, NamedTuple

from graphcore._torch import torch
from graphcore.training.checks import TrainingConfigError

AUTOCAST_TYPES = {"bf16": "bfloat16", "fp16": "float16"}


def check_precision(precision: str, device: Any, dtype: Any) -> None:
    """Refuse what would not run as asked: fp16 off CUDA, autocast over float64 weights."""
    if precision == "fp16" and device.type != "cuda":
        raise TrainingConfigError(
            f"training.precision: fp16 needs a CUDA device (its loss scaling is a CUDA recipe), and this "
            f"run is on {device.type}: use bf16 there, or fp32"
        )
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainingConfigError(
            f"training.precision: this GPU ({torch.cuda.get_device_name(device)}) has no bf16: use fp16 there"
        )
    if precision != "fp32" and dtype != torch.float32:
        name = str(dtype).removeprefix("torch.")
        raise TrainingConfigError(
            f"training.precision: {precision} casts float32 weights, and this run's are {name}: "
            "train in float32 (the default), or set precision to fp32"
        )


def autocast(precision: str, device: Any) -> Any:
    """The context a forward pass runs in: autocast to the precision's type on this device."""
    if precision == "fp32":
        return contextlib.nullcontext()
    kind = getattr(torch, AUTOCAST_TYPES[precision])
    return torch.autocast(device_type=device.type, dtype=kind)


def grad_scaler(precision: str, device: Any) -> Any:
    """A GradScaler for fp16 (its small range underflows gradients unless the loss is scaled), else None."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def check_compiler(device: Any) -> None:
    """torch.compile on the CPU builds C++: refuse at once, in a line, where no compiler is found."""
    if device.type != "cpu":
        return
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as error:  # noqa: BLE001 - torch's own search: no compiler, or a broken one
        found = str(error).splitlines()[0] if str(error) else "none found"
        raise TrainingConfigError(
            "training.compile: torch.compile on the CPU builds C++ and needs a compiler (g++ or "
            f"clang++, or one named by $CXX): {found}; install one, or set compile to false"
        ) from None


def compiled(module: Any) -> Any:
    """`module` through torch.compile, sharing its parameters (check_compiler first)."""
    import torch._inductor.config as inductor

    inductor.fallback_random = True  # random nodes (randn, dropout) draw what they draw uncompiled
    return torch.compile(module)


class Stateful(NamedTuple):
    """What a training step changes, as the trainer holds it (one optimizer, schedule and loss
    scaler per objective; None where an objective has no schedule or scaler)."""

    module: Any
    optimizers: list[Any]
    schedulers: list[Any]
    scalers: list[Any]
    generator: Any
    device: Any


@dataclass
class Checkpoint:
    """What training steps change, copied so that the same steps can be taken again from here:
    weights and buffers, optimizer, schedule and loss-scaler states, the random states, and the
    trainer's place in its data (`place`, the trainer's own to fill and read back)."""

    module: dict[str, Any]
    optimizers: list[Any]
    schedulers: list[Any]
    scalers: list[Any]
    generator: Any
    random: tuple[Any, Any]
    place: Any

    @classmethod
    def take(cls, held: Stateful, place: Any) -> Checkpoint:
        def state(item: Any) -> Any:
            return None if item is None else copy.deepcopy(item.state_dict())

        return cls(
            {name: value.detach().clone() for name, value in held.module.state_dict().items()},
            [state(o) for o in held.optimizers],
            [state(s) for s in held.schedulers],
            [state(s) for s in held.scalers],
            held.generator.get_state(),
            random_state(held.device),
            place,
        )

    def restore(self, held: Stateful) -> None:
        """Put everything back as it was when taken (the trainer restores `place` itself)."""
        held.module.load_state_dict(self.module)
        for items, states in (
            (held.optimizers, self.optimizers),
            (held.schedulers, self.schedulers),
            (held.scalers, self.scalers),
        ):
            for item, saved in zip(items, states, strict=True):
                if item is not None:
                    item.load_state_dict(copy.deepcopy(saved))  # the copy: optimizers keep what they load
        held.generator.set_state(self.generator)
        set_random_state(self.random, held.device)


def random_state(device: Any) -> tuple[Any, Any]:
    """torch's global random state (what dropout and random nodes draw from), and the device's."""
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def set_random_state(state: tuple[Any, Any], device: Any) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)
