"""The optimizer and learning-rate schedule of an objective, built from the expressions that
`graphcore export --train` writes (graphcore.training.code), so that the two train alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphcore._torch import torch
from graphcore.training.code import optimizer_code, schedule_code
from graphcore.training.config import TrainingConfigError


def make_optimizer(config: Mapping[str, Any], parameters: Any, where: str = "optimizer") -> Any:
    """The optimizer `optimizer_code` writes: the export writes the same expression."""
    try:
        return eval(optimizer_code(config), {"torch": torch}, {"parameters": parameters})
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"training.{where}: {error}") from None


def make_schedule(
    config: Mapping[str, Any], optimizer: Any, total_steps: int, where: str = "schedule"
) -> Any:
    """The scheduler `schedule_code` writes (None for a constant rate), stepped once per step."""
    code = schedule_code(config)
    if code is None:
        return None
    try:
        return eval(code, {"torch": torch}, {"optimizer": optimizer, "total_steps": total_steps})
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"training.{where}: {error}") from None
