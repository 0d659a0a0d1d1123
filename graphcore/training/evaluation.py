"""Scoring a trained graph: accuracy on a batch, and loss and accuracy over a whole split."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphcore._torch import torch
from graphcore.runtime import Runtime
from graphcore.training.config import TrainingConfig
from graphcore.training.performance import autocast


def accuracy(prediction: Any, target: Any, threshold: float) -> float | None:
    """Share of right answers: argmax over classes, or `prediction > threshold` for one output."""
    if prediction is None or target is None:
        return None
    if prediction.dim() >= 2 and prediction.shape[-1] > 1:
        predicted = prediction.argmax(-1)
        if target.is_floating_point() and target.dim() == prediction.dim():
            target = target.argmax(-1)
    else:
        predicted = (prediction > threshold).long().reshape(target.shape)
    return (predicted == target.long()).double().mean().item()


def evaluate(
    runtime: Runtime,
    config: TrainingConfig,
    data: Mapping[str, Any],
    target: str,
    node_error: Callable[[Exception, Mapping[str, Any]], ValueError],
) -> dict[str, float]:
    """Loss (and accuracy against the Input `target`) over a whole split, in eval mode, batch by
    batch: `loss`, or with several objectives each one's as `<name> loss`. A batch that raises is
    named by `node_error`, as a training step's is."""
    if not data:
        return {}
    module = runtime.module
    module.eval()
    n = len(next(iter(data.values())))
    objectives = config.objectives
    keys = ["loss"] if len(objectives) == 1 else [f"{o.name} loss" for o in objectives]
    totals, correct, size = [0.0] * len(keys), 0.0, config.batch_size
    with torch.no_grad():
        for start in range(0, n, size):
            batch = {k: v[start : start + size] for k, v in data.items()}
            try:
                with autocast(config.precision, runtime.device):
                    outputs = runtime.forward(batch)
            except Exception as error:
                raise node_error(error, batch) from error
            count = len(next(iter(batch.values())))
            for index, objective in enumerate(objectives):
                totals[index] += outputs[objective.loss].item() * count
            prediction = outputs.get(config.predict) if config.predict else None
            correct += (accuracy(prediction, batch.get(target), config.threshold) or 0.0) * count
    module.train()
    metrics = {key: total / n for key, total in zip(keys, totals, strict=True)}
    if config.predict:
        metrics["accuracy"] = correct / n
    return metrics
