"""Losses: `input` and `target` in, a scalar `out` (per-element or per-sample with reduction 'none').

Besides torch's losses: the Gaussian KL term of a VAE and the GAN losses, written with the torch
functions a course would use, so the exported code shows the formula.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from graphcore.exchange.torch_ops import attributes
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    call_template,
    expect,
    register,
    same_dim,
    show,
)


def unweighted(*names: str) -> Callable[[Any], dict[str, Any] | None]:
    """A loss module's params; None when it has class or positive weights, which no param holds."""

    def read(module: Any) -> dict[str, Any] | None:
        if getattr(module, "weight", None) is not None or getattr(module, "pos_weight", None) is not None:
            return None
        return attributes(*names)(module)

    return read


def _same(a: Shape, b: Shape) -> bool:
    return len(a) == len(b) and all(map(same_dim, a, b))


def pointwise_loss_shape(input: Shape, target: Shape, *, reduction: str = "mean", **_: Any) -> Shape:
    expect(_same(input, target), f"input {show(input)} and target {show(target)} must have the same shape")
    return input if reduction == "none" else ()


REDUCTION = Param(
    "reduction", "str", "mean", "How per-element losses are combined.", choices=("mean", "sum", "none")
)


def loss(
    type_: str,
    code: Any,
    formula: str,
    doc: str,
    *,
    params: tuple[Param, ...] = (REDUCTION,),
    shape: Callable[..., Shape] = pointwise_loss_shape,
    inputs: tuple[str, ...] = ("input", "target"),
    examples: Callable[[random.Random], list[Example]] | None = None,
    values: tuple[str, ...] = ("real", "real"),
    **rules: Any,
) -> None:
    """A loss; by default element-wise over input and target of the same shape."""
    if examples is None:

        def examples(r: random.Random) -> list[Example]:
            reduction = r.choice(["mean", "sum", "none"])
            return [
                Example({"reduction": reduction}, (("N", k := r.randint(1, 3)), ("N", k)), values),
                Example({}, ((2, 3, 2), (2, 3, 2)), values),
                Example({}, ((), ()), values),
            ]

    register(
        NodeSpec(
            type_,
            "losses",
            inputs,
            ("out",),
            shape,
            code=code,
            doc=doc,
            formula=formula,
            params=params,
            examples=examples,
            **rules,
        )
    )


def reduction_call(
    function: str,
    params: tuple[Param, ...] = (REDUCTION,),
    ports: tuple[str, ...] = ("input", "target"),
    always: tuple[str, ...] = ("reduction",),
) -> Callable[[Any], str]:
    """`F.loss(input, target, reduction='mean', ...)`: reduction is always written out."""
    return call_template(function, params, list(ports), [p.name for p in params], always=always)


loss(
    "MSELoss",
    reduction_call("F.mse_loss"),
    "L = (1/n) Σᵢ (xᵢ − yᵢ)²,  ∂L/∂xᵢ = 2(xᵢ − yᵢ)/n",
    "Mean squared error between prediction and target.",
    aliases=("squared error", "l2 loss", "mse"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.mse_loss",
            signature="input, target, size_average=None, reduce=None, reduction='mean', weight=None",
        ),
        TorchRule(module="torch.nn.MSELoss", read=attributes("reduction")),
    ),
)
loss(
    "L1Loss",
    reduction_call("F.l1_loss"),
    "L = (1/n) Σᵢ |xᵢ − yᵢ|,  ∂L/∂xᵢ = sign(xᵢ − yᵢ)/n",
    "Mean absolute error: less sensitive to outliers than MSE.",
    aliases=("absolute error", "mae"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.l1_loss",
            signature="input, target, size_average=None, reduce=None, reduction='mean'",
        ),
        TorchRule(module="torch.nn.L1Loss", read=attributes("reduction")),
    ),
)
HUBER = (REDUCTION, Param("delta", "float", 1.0, "Where the loss turns from quadratic to linear.", min=1e-12))
loss(
    "HuberLoss",
    reduction_call("F.huber_loss", HUBER),
    "lᵢ = ½dᵢ² if |dᵢ| < δ else δ(|dᵢ| − ½δ),  dᵢ = xᵢ − yᵢ,  ∂lᵢ/∂xᵢ = clamp(dᵢ, −δ, δ)",
    "Quadratic for small errors, linear for large ones.",
    params=HUBER,
    aliases=("huber",),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.huber_loss",
            signature="input, target, reduction='mean', delta=1.0, weight=None",
        ),
        TorchRule(module="torch.nn.HuberLoss", read=attributes("reduction", "delta")),
    ),
)
SMOOTH = (REDUCTION, Param("beta", "float", 1.0, "Where the loss turns from quadratic to linear.", min=0.0))
loss(
    "SmoothL1Loss",
    reduction_call("F.smooth_l1_loss", SMOOTH),
    "lᵢ = ½dᵢ²/β if |dᵢ| < β else |dᵢ| − ½β,  dᵢ = xᵢ − yᵢ,  ∂lᵢ/∂xᵢ = clamp(dᵢ/β, −1, 1)",
    "L1 loss with a quadratic bowl near zero (Huber divided by β).",
    params=SMOOTH,
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.smooth_l1_loss",
            signature="input, target, size_average=None, reduce=None, reduction='mean', beta=1.0",
        ),
        TorchRule(module="torch.nn.SmoothL1Loss", read=attributes("reduction", "beta")),
    ),
)
loss(
    "BCELoss",
    reduction_call("F.binary_cross_entropy"),
    "L = −(1/n) Σᵢ [yᵢ ln pᵢ + (1 − yᵢ) ln(1 − pᵢ)],  ∂L/∂pᵢ = (pᵢ − yᵢ)/(pᵢ(1 − pᵢ) n)",
    "Binary cross-entropy of probabilities p in (0, 1), e.g. after a sigmoid.",
    values=("unit", "unit"),
    aliases=("binary cross entropy", "log loss"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.binary_cross_entropy",
            signature="input, target, weight=None, size_average=None, reduce=None, reduction='mean'",
        ),
        TorchRule(module="torch.nn.BCELoss", read=unweighted("reduction")),
    ),
)
loss(
    "BCEWithLogitsLoss",
    reduction_call("F.binary_cross_entropy_with_logits"),
    "L = −(1/n) Σᵢ [yᵢ ln σ(zᵢ) + (1 − yᵢ) ln(1 − σ(zᵢ))],  ∂L/∂zᵢ = (σ(zᵢ) − yᵢ)/n",
    "Sigmoid and binary cross-entropy in one stable step, on raw scores z.",
    values=("real", "unit"),
    aliases=("sigmoid cross entropy", "logistic loss"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.binary_cross_entropy_with_logits",
            signature="input, target, weight=None, size_average=None, reduce=None, reduction='mean', pos_weight=None",
        ),
        TorchRule(module="torch.nn.BCEWithLogitsLoss", read=unweighted("reduction")),
    ),
)


def class_loss_shape(type_: str, probabilities: bool) -> Callable[..., Shape]:
    """Scores (C), (N, C) or (N, C, d₁, …) against class indices, one per item (or probabilities)."""

    def rule(input: Shape, target: Shape, *, reduction: str, ignore_index: int = -100, **_: Any) -> Shape:
        expect(
            len(input) >= 1, f"{type_} needs input of shape (C), (N, C) or (N, C, d1, ...), not {show(input)}"
        )
        per_item = () if len(input) == 1 else (input[0], *input[2:])
        if probabilities and len(target) == len(input):
            expect(
                _same(target, input),
                f"{type_} target probabilities must have the shape of input "
                f"{show(input)}, not {show(target)}",
            )
            expect(ignore_index == -100, f"{type_} ignore_index works with class indices, not probabilities")
        else:
            expect(
                _same(target, per_item),
                f"{type_} target must hold one class index per item: shape "
                f"{show(per_item)} for input {show(input)}, not {show(target)}"
                + (" (or class probabilities shaped like input)" if probabilities else ""),
            )
        return per_item if reduction == "none" else ()

    return rule


def class_examples(
    values: str = "index", extra: dict[str, Any] | None = None
) -> Callable[..., list[Example]]:
    def draw(r: random.Random) -> list[Example]:
        c = r.randint(2, 4)
        params = {"reduction": r.choice(["mean", "sum", "none"]), **(extra or {})}
        found = [
            Example(params, (("N", c), ("N",)), ("real", f"index:{c}")),
            Example({}, ((c,), ()), ("real", f"index:{c}")),
            Example({"reduction": "none"}, (("N", c, 2), ("N", 2)), ("real", f"index:{c}")),
        ]
        if values == "probs":
            found.append(Example({**params, "label_smoothing": 0.1}, (("N", c), ("N", c)), ("real", "probs")))
        return found

    return draw


IGNORE = Param("ignore_index", "int", -100, "A target class that contributes nothing (e.g. padding).")
CROSS_ENTROPY = (
    REDUCTION,
    IGNORE,
    Param(
        "label_smoothing",
        "float",
        0.0,
        "Mixes the target with the uniform distribution by this much.",
        min=0.0,
        max=1.0,
    ),
)
loss(
    "CrossEntropyLoss",
    reduction_call("F.cross_entropy", CROSS_ENTROPY),
    "L = −(1/N) Σₙ ln softmax(zₙ)[yₙ],  ∂L/∂zₙ = (softmax(zₙ) − onehot(yₙ))/N",
    "Softmax and negative log-likelihood in one stable step: raw class scores z against class indices "
    "(dtype long) or class probabilities.",
    params=CROSS_ENTROPY,
    shape=class_loss_shape("CrossEntropyLoss", True),
    examples=class_examples("probs"),
    aliases=("cross entropy", "softmax loss", "categorical cross entropy"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.cross_entropy",
            signature="input, target, weight=None, size_average=None, "
            "ignore_index=-100, reduce=None, reduction='mean', label_smoothing=0.0",
        ),
        TorchRule(
            module="torch.nn.CrossEntropyLoss",
            read=unweighted("reduction", "ignore_index", "label_smoothing"),
        ),
    ),
)
NLL = (REDUCTION, IGNORE)
loss(
    "NLLLoss",
    reduction_call("F.nll_loss", NLL),
    "L = −(1/N) Σₙ xₙ[yₙ],  ∂L/∂xₙ[yₙ] = −1/N",
    "Negative log-likelihood of log-probabilities x (after LogSoftmax) against class indices (dtype long).",
    params=NLL,
    shape=class_loss_shape("NLLLoss", False),
    examples=class_examples(),
    aliases=("negative log likelihood",),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.nll_loss",
            signature="input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean'",
        ),
        TorchRule(module="torch.nn.NLLLoss", read=unweighted("reduction", "ignore_index")),
    ),
)

KL_DIV = (
    Param(
        "reduction",
        "str",
        "batchmean",
        "How per-element terms are combined; batchmean is the true KL divergence per sample.",
        choices=("batchmean", "sum", "none"),
    ),
    Param("log_target", "bool", False, "target is given as log-probabilities."),
)
loss(
    "KLDivLoss",
    reduction_call("F.kl_div", KL_DIV),
    "L = (1/N) Σ yᵢ (ln yᵢ − xᵢ),  ∂L/∂xᵢ = −yᵢ/N  (x: log-probabilities, y: probabilities)",
    "Kullback–Leibler divergence KL(y ‖ exp x) of a target distribution from predicted log-probabilities x.",
    params=KL_DIV,
    examples=lambda r: [
        Example({}, (("N", 3), ("N", 3)), ("real", "probs")),
        Example({"log_target": True, "reduction": r.choice(["sum", "none"])}, ((2, 4), (2, 4))),
    ],
    aliases=("kl divergence", "relative entropy"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.kl_div",
            signature="input, target, size_average=None, reduce=None, reduction='mean', log_target=False",
        ),
        TorchRule(module="torch.nn.KLDivLoss", read=attributes("reduction", "log_target")),
    ),
)
HINGE = (Param("margin", "float", 1.0, "Margin Δ for the negative pairs.", min=0.0), REDUCTION)
loss(
    "HingeEmbeddingLoss",
    reduction_call("F.hinge_embedding_loss", HINGE),
    "lᵢ = xᵢ if yᵢ = 1, max(0, Δ − xᵢ) if yᵢ = −1,  ∂lᵢ/∂xᵢ = 1, or −1 inside the margin",
    "For distances x of pairs labelled similar (1) or dissimilar (−1).",
    params=HINGE,
    values=("real", "sign"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.hinge_embedding_loss",
            signature="input, target, margin=1.0, size_average=None, reduce=None, reduction='mean'",
        ),
    ),
)


def multi_margin_shape(input: Shape, target: Shape, *, reduction: str, **_: Any) -> Shape:
    expect(len(input) in (1, 2), f"MultiMarginLoss needs input of shape (N, C) or (C), not {show(input)}")
    return class_loss_shape("MultiMarginLoss", False)(input, target, reduction=reduction)


MULTI_MARGIN = (
    Param("p", "int", 1, "1 for the hinge, 2 for the squared hinge.", choices=(1, 2)),
    Param("margin", "float", 1.0, "Margin Δ.", min=0.0),
    REDUCTION,
)
loss(
    "MultiMarginLoss",
    reduction_call("F.multi_margin_loss", MULTI_MARGIN),
    "lₙ = (1/C) Σ_(j ≠ y) max(0, Δ − x[y] + x[j])ᵖ,  ∂lₙ/∂x[j] = p·(margin term)ᵖ⁻¹/C for each violating j",
    "Multi-class hinge loss (the SVM loss) on raw class scores against class indices (dtype long).",
    params=MULTI_MARGIN,
    shape=multi_margin_shape,
    examples=lambda r: [
        e for e in class_examples(extra={"p": r.choice([1, 2])})(r) if len(e.shapes[0] or ()) < 3
    ],
    no_jvp_reason="torch has no forward-mode rule for multi_margin_loss; use reverse mode.",
    aliases=("svm loss", "multi-class hinge"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.multi_margin_loss",
            signature="input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction='mean'",
        ),
    ),
)


def gaussian_nll_shape(input: Shape, target: Shape, var: Shape, *, reduction: str, **_: Any) -> Shape:
    expect(_same(input, target), f"input {show(input)} and target {show(target)} must have the same shape")
    fits = (
        _same(var, input)
        or _same(var, input[:-1])
        or (len(var) == len(input) > 0 and same_dim(var[-1], 1) and _same(var[:-1], input[:-1]))
    )
    expect(
        fits,
        f"var {show(var)} must be shaped like input {show(input)}, or like it with the last "
        "dimension 1 or left out",
    )
    return input if reduction == "none" else ()


POSITIVE_VAR = ("real", "real", "positive")
GAUSSIAN_NLL = (
    Param("full", "bool", False, "Add the constant ½ ln 2π."),
    Param("eps", "float", 1e-6, "var is clamped to at least eps.", min=0.0),
    REDUCTION,
)
loss(
    "GaussianNLLLoss",
    reduction_call("F.gaussian_nll_loss", GAUSSIAN_NLL, ("input", "target", "var")),
    "lᵢ = ½(ln σᵢ² + (xᵢ − yᵢ)²/σᵢ²),  ∂lᵢ/∂xᵢ = (xᵢ − yᵢ)/σᵢ²,  ∂lᵢ/∂σᵢ² = ½(1/σᵢ² − (xᵢ − yᵢ)²/σᵢ⁴)",
    "Negative log-likelihood of target under a normal distribution with mean input and variance var.",
    params=GAUSSIAN_NLL,
    shape=gaussian_nll_shape,
    inputs=("input", "target", "var"),
    examples=lambda r: [
        Example({"full": r.random() < 0.5}, (("N", 3), ("N", 3), ("N", 3)), POSITIVE_VAR),
        Example({"reduction": "none"}, (("N", 2), ("N", 2), ("N", 1)), POSITIVE_VAR),
        Example({"reduction": "sum"}, (("N", 2), ("N", 2), ("N",)), POSITIVE_VAR),
    ],
    aliases=("gaussian likelihood", "heteroscedastic"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.gaussian_nll_loss",
            signature="input, target, var, full=False, eps=1e-06, reduction='mean'",
        ),
    ),
)

KL_TERM = "1 + {logvar} - {mu} ** 2 - torch.exp({logvar})"
GAUSSIAN_KL = {
    "batchmean": f"-0.5 * torch.sum({KL_TERM}, dim=-1).mean()",
    "sum": f"-0.5 * torch.sum({KL_TERM})",
    "mean": f"-0.5 * torch.mean({KL_TERM})",
    "none": f"-0.5 * ({KL_TERM})",
}


def gaussian_kl_shape(mu: Shape, logvar: Shape, *, reduction: str) -> Shape:
    expect(
        len(mu) >= 1 and _same(mu, logvar),
        f"mu {show(mu)} and logvar {show(logvar)} must have the same shape, (N, latent) or (latent)",
    )
    return mu if reduction == "none" else ()


loss(
    "GaussianKLLoss",
    lambda p: GAUSSIAN_KL[p["reduction"]],
    "KL = −½ Σⱼ (1 + ln σⱼ² − μⱼ² − σⱼ²),  the KL divergence of N(μ, σ²) from N(0, 1),  "
    "∂/∂μⱼ = μⱼ,  ∂/∂ln σⱼ² = ½(σⱼ² − 1)",
    "The VAE's regulariser: how far the encoder's N(μ, σ²) is from the prior N(0, 1), given mu and "
    "logvar = ln σ². batchmean sums over the latent dimension and averages over the batch.",
    params=(
        Param(
            "reduction",
            "str",
            "batchmean",
            "Sum over the last dimension, then average (batchmean); or sum, mean, none over every element.",
            choices=tuple(GAUSSIAN_KL),
        ),
    ),
    shape=gaussian_kl_shape,
    inputs=("mu", "logvar"),
    examples=lambda r: [
        Example({"reduction": r.choice(list(GAUSSIAN_KL))}, (("N", r.randint(1, 3)),) * 2),
        Example({}, ((3,), (3,))),
    ],
    aliases=("vae kl", "kl term", "latent loss"),
)

register(
    NodeSpec(
        "GANDiscriminatorLoss",
        "losses",
        ("real", "fake"),
        ("out",),
        lambda real, fake: (),
        code="F.binary_cross_entropy_with_logits({real}, torch.ones_like({real})) + "
        "F.binary_cross_entropy_with_logits({fake}, torch.zeros_like({fake}))",
        doc="The discriminator's loss, from its raw scores (logits) on real samples (port real) and on generated "
        "ones (port fake).",
        formula="L_D = −mean ln D(x) − mean ln(1 − D(G(z))),  D = σ(score),  ∂L_D/∂s_real = (σ(s) − 1)/n, "
        "∂L_D/∂s_fake = σ(s)/n",
        examples=lambda r: [Example({}, (("N", 1), ("N", 1))), Example({}, ((3,), (2,)))],
        aliases=("gan loss", "discriminator loss", "adversarial loss"),
    )
)

GENERATOR = {
    False: "F.binary_cross_entropy_with_logits({fake}, torch.ones_like({fake}))",
    True: "-F.binary_cross_entropy_with_logits({fake}, torch.zeros_like({fake}))",
}
register(
    NodeSpec(
        "GANGeneratorLoss",
        "losses",
        ("fake",),
        ("out",),
        lambda fake, **_: (),
        code=lambda p: GENERATOR[p["saturating"]],
        params=(
            Param(
                "saturating",
                "bool",
                False,
                "The original minimax loss, whose gradient vanishes when D "
                "wins; false for the non-saturating one used in practice.",
            ),
        ),
        doc="The generator's loss, from the discriminator's raw scores on generated samples.",
        formula="L_G = −mean ln D(G(z)), or mean ln(1 − D(G(z))) when saturating,  "
        "∂L_G/∂s = (σ(s) − 1)/n, or −σ(s)/n when saturating (vanishing as D(G(z)) → 0)",
        examples=lambda r: [
            Example({"saturating": r.random() < 0.5}, (("N", 1),)),
            Example({"saturating": True}, ((3,),)),
        ],
        aliases=("gan loss", "generator loss", "adversarial loss"),
    )
)
