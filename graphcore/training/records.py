"""What training reports and returns: progress for listeners, the steps taken, and the run's result.

Plain records: the Trainer (graphcore.training.train) makes them, the training child pickles them
to the app, and the CLI and the app read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from graphcore.schedule import Phase


class StepError(ValueError):
    """A training step failed outside any one node (the message says at which step, and how)."""


@dataclass
class Progress:
    """One report to listeners: where training is, and everything new since the last report."""

    step: int
    epoch: int
    total_steps: int
    losses: list[
        tuple[int, float]
    ]  # (step, loss) for every step since the last report (the lead objective's)
    lr: float
    grad_norms: dict[str, float] = field(default_factory=dict)  # parameter -> gradient norm, now
    validation: dict[str, float] = field(default_factory=dict)  # latest validation metrics, if any
    accuracy: float | None = None  # latest training-batch accuracy
    objectives: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # name -> its (step, loss)


@dataclass
class NonFinite:
    """Where a NaN or Inf first appeared: in a node's value (forward) or a gradient (backward)."""

    node: str
    phase: Phase
    value: str
    step: int
    objective: str = ""  # the objective whose pass found it, when there are several

    def __str__(self) -> str:
        where = "value" if self.phase == "forward" else "gradient"
        of = f" in objective {self.objective!r}" if self.objective else ""
        return f"non-finite {where} at step {self.step}{of}: {self.value} (node {self.node!r})"


@dataclass
class StepRecord:
    """One step taken: the lead's learning rate in it, each due objective's loss (a tensor on the
    device until `Trainer.settle` reads it) and, once checked, where a NaN/Inf stopped it."""

    step: int  # the step count after it (unchanged by a step stopped at a NaN/Inf)
    epoch: int  # the epoch count before it
    lr: float
    losses: dict[str, Any] = field(default_factory=dict)
    found: NonFinite | None = None


StopReason = Literal["finished", "early_stopping", "stopped", "nonfinite"]


@dataclass
class TrainResult:
    losses: list[float]
    lrs: list[float]
    epochs: list[dict[str, float]]
    train: dict[str, float]
    validation: dict[str, float]
    wall_time: float
    stopped: StopReason
    nonfinite: NonFinite | None = None
    step: int = 0  # the trainer's step count at the end: every step since fresh weights, resumes included
    objectives: dict[str, list[float | None]] = field(
        default_factory=dict
    )  # name -> loss per step (None: not due)

    def as_dict(self) -> dict[str, Any]:
        return {
            "losses": self.losses,
            **({"objectives": self.objectives} if len(self.objectives) > 1 else {}),
            "lrs": self.lrs,
            "epochs": self.epochs,
            "train": self.train,
            "validation": self.validation,
            "wall_time": self.wall_time,
            "stopped": self.stopped,
            "nonfinite": None
            if self.nonfinite is None
            else {
                "node": self.nonfinite.node,
                "phase": self.nonfinite.phase,
                "value": self.nonfinite.value,
                "step": self.nonfinite.step,
            },
        }
