"""What the training host measures for the window besides losses: a decision-boundary image of a
2-D classification set, histograms of one node, and CPU copies of the weights. Each is computed
from the trainer in the process that trains, and is small and picklable, so it travels to the
window over the pipe as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BOUNDARY_RES = 64
HISTOGRAM_BINS = 40


@dataclass
class BoundaryFrame:
    image: np.ndarray  # [res, res], image[i, j] at (xs[i], ys[j]); -1..1, sign = predicted class
    rect: tuple[float, float, float, float]  # x, y, width, height
    points: np.ndarray  # [n, 2] training samples
    labels: np.ndarray  # [n] class of each sample
    step: int


@dataclass
class NodeHistograms:
    node: str
    step: int
    histograms: dict[str, tuple[np.ndarray, np.ndarray]]  # "value x.out" -> (counts, edges)


@dataclass
class WeightsFrame:
    """The trainer's weights after `step` steps and its first few training samples, copied to the CPU
    so that the window can evaluate the graph there, in its own process."""

    step: int
    state: dict[str, Any]  # the module's state_dict (parameters and buffers)
    inputs: dict[str, Any]  # Input node -> its first rows of the training set


def histogram(tensor: Any) -> tuple[np.ndarray, np.ndarray] | None:
    values = tensor.detach().float().cpu().numpy().ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high))


def boundary_setup(trainer: Any) -> dict[str, Any] | None:
    """The grid to evaluate for a 2-D classification set, or None when the set is not one."""
    from graphcore._torch import torch

    config, data = trainer.config, trainer.train_data
    target = trainer.target
    feature = next(
        (
            node
            for node, t in data.items()
            if node != target and t.is_floating_point() and t.dim() == 2 and t.shape[1] == 2
        ),
        None,
    )
    if config.predict is None or feature is None or target not in data:
        return None
    x = data[feature]
    low, high = x.min(0).values, x.max(0).values
    margin = (high - low) * 0.15 + 1e-3
    low, high = low - margin, high + margin
    xs = torch.linspace(float(low[0]), float(high[0]), BOUNDARY_RES)
    ys = torch.linspace(float(low[1]), float(high[1]), BOUNDARY_RES)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    inputs = {feature: grid.to(x.device, x.dtype)}
    for node, t in data.items():
        if node != feature:
            inputs[node] = t[:1].expand(len(grid), *t.shape[1:]).contiguous()
    y = data[target]
    if y.is_floating_point() and y.dim() == 2 and y.shape[1] > 1:
        labels = y.argmax(-1)
    elif y.is_floating_point():
        labels = (y.reshape(-1) > 0.5).long()
    else:
        labels = y.reshape(-1)
    rect = (float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1]))
    return {
        "inputs": inputs,
        "rect": rect,
        "points": x.detach().cpu().numpy(),
        "labels": labels.detach().cpu().numpy(),
    }


def boundary_frame(trainer: Any, setup: dict[str, Any]) -> BoundaryFrame:
    from graphcore._torch import torch

    module = trainer.module
    module.eval()
    try:
        with torch.no_grad():
            out = trainer.runtime.forward(setup["inputs"])[trainer.config.predict].float()
    finally:
        module.train()
    if out.dim() >= 2 and out.shape[-1] > 1:
        classes = out.shape[-1]
        image = out.argmax(-1).float() / max(1, classes - 1) * 2 - 1
    else:
        score = out.reshape(-1)
        threshold = trainer.config.threshold
        if threshold == 0.5 and bool(((score >= 0) & (score <= 1)).all()):
            image = (score - 0.5) * 2
        else:
            image = torch.tanh(score - threshold)
    image = torch.nan_to_num(image, 0.0).reshape(BOUNDARY_RES, BOUNDARY_RES)
    return BoundaryFrame(
        image.cpu().numpy(), setup["rect"], setup["points"], setup["labels"], trainer.step_count
    )


def node_histograms(trainer: Any, node: str) -> NodeHistograms | None:
    """Histograms of a node's value on the first batch, and of its weights and their gradients."""
    from graphcore.interpreter import Evaluator

    program, runtime = trainer.program, trainer.runtime
    if node not in program.by_node:
        return None
    found: dict[str, Any] = {}
    instr = program.by_node[node]
    if instr.spec.kind == "parameter":
        weights = [(node, runtime.source_value(instr))]
    elif instr.spec.kind == "layer":
        weights = [(f"{node}.{k}", p) for k, p in runtime.module_of(instr).named_parameters()]
    else:
        weights = []
    batch = {k: v[: trainer.config.batch_size] for k, v in trainer.train_data.items()}
    given = {program.by_node[k].outs[0]: v for k, v in batch.items() if k in program.by_node}
    evaluator = Evaluator(runtime)  # the program up to the node, on the first batch
    module = trainer.module
    module.eval()
    try:
        for step in evaluator.steps(given):
            if step.node == node:
                break
    finally:
        module.train()
    values = evaluator.env
    for name in instr.outs:
        if values.get(name) is not None and values[name].is_floating_point():
            found[f"value {name}"] = histogram(values[name])
    for name, weight in weights:
        found[f"weight {name}"] = histogram(weight)
        if weight.grad is not None:
            found[f"gradient {name}"] = histogram(weight.grad)
    return NodeHistograms(node, trainer.step_count, {k: v for k, v in found.items() if v is not None})


def weights_frame(trainer: Any, rows: int) -> WeightsFrame:
    state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.module.state_dict().items()}
    inputs = {node: t[:rows].detach().to("cpu", copy=True) for node, t in trainer.train_data.items()}
    return WeightsFrame(trainer.step_count, state, inputs)
