"""The fast gradient sign method (Goodfellow et al. 2015): x' = x + ε·sign(∇ₓ CE(logits(x), label)).

One backward sweep of the classifier's cross-entropy to the input; the perturbation is the sign of
that gradient times ε, and the class probabilities (softmax of the logits) before and after show
what it did. The image is not clipped to the data's range."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from graphcore._torch import torch
from graphcore.input_grads.model import InputModel
from graphcore.input_grads.unit import InputGradError

MAX_EPS = 1e6


@dataclass
class Adversarial:
    output: str  # the logits value
    input: str
    eps: float
    label: int  # the class the loss pushes away from
    x: Any  # the sample's input, without the batch dim (on the CPU, as the three below)
    gradient: Any  # d CE / d x
    perturbation: Any  # eps · sign(gradient)
    adversarial: Any  # x + perturbation
    before: list[float]  # class probabilities at x
    after: list[float]  # at the adversarial input
    weights: str
    source: str

    @property
    def predicted_before(self) -> int:
        return max(range(len(self.before)), key=self.before.__getitem__)

    @property
    def predicted_after(self) -> int:
        return max(range(len(self.after)), key=self.after.__getitem__)


def fgsm(model: InputModel, output: str, eps: float, label: int | None = None) -> Adversarial:
    """The FGSM example of the model's sample; `label` defaults to the sample's own, else the prediction."""
    if not (isinstance(eps, int | float) and math.isfinite(eps) and 0 <= eps <= MAX_EPS):
        raise InputGradError(f"eps must be a number from 0 to {MAX_EPS:g}, got {eps}")
    x = model.x.detach().clone().requires_grad_(True)
    logits = model.value(x, output)
    if not logits.is_floating_point() or logits.dim() != 1 or logits.shape[0] < 2:
        raise InputGradError(
            f"{output} has shape {list(logits.shape)} per sample: the classifier's output must be "
            "one score (logit) per class"
        )
    classes = logits.shape[0]
    before = torch.softmax(logits.detach(), 0)
    if label is None:
        label = model.label if model.label is not None else int(before.argmax())
    if not (isinstance(label, int) and 0 <= label < classes):
        raise InputGradError(
            f"label {label} is out of range: {output} scores {classes} classes (0..{classes - 1})"
        )
    loss = torch.nn.functional.cross_entropy(logits[None], torch.tensor([label], device=logits.device))
    (gradient,) = torch.autograd.grad(loss, x, allow_unused=True)
    if gradient is None:
        raise InputGradError(f"{output} does not depend on the Input {model.input!r}")
    perturbation = eps * gradient.sign()
    adversarial = (x + perturbation).detach()
    with torch.no_grad():
        after = torch.softmax(model.value(adversarial, output), 0)
    return Adversarial(
        output,
        model.input,
        float(eps),
        label,
        model.per_sample(x).detach().cpu(),
        model.per_sample(gradient).cpu(),
        model.per_sample(perturbation).cpu(),
        model.per_sample(adversarial).cpu(),
        before.tolist(),
        after.tolist(),
        model.weights,
        model.source,
    )
