"""Gradient control: `detach` passes a value on and stops its gradient.

A GAN's discriminator loss reads the generator's samples through `detach`, so that loss trains the
discriminator only; a target network or a "stop-gradient" trick does the same. The forward value is
the identity; reverse mode passes a zero gradient back and forward mode a zero tangent, which is what
`torch.func` computes for `x.detach()` (the stepper and the Jacobian lab show the path adds nothing).
"""

from __future__ import annotations

import random

from graphcore.exchange.torch_ops import X
from graphcore.registry import Example, NodeSpec, TorchRule, register, same_shape


def detach_examples(r: random.Random) -> list[Example]:
    """A batch, a 3-D tensor and a scalar: the value passes unchanged whatever its shape."""
    return [
        Example({}, (("N", r.randint(1, 4)),)),
        Example({}, ((2, r.randint(1, 3), r.randint(1, 3)),)),
        Example({}, ((),)),
    ]


register(
    NodeSpec(
        "detach",
        "elementwise",
        ("x",),
        ("out",),
        same_shape,
        code="{x}.detach()",
        doc="The value of x, with no gradient flowing back (stop-gradient): what follows it sees x, but "
        "a loss computed from it does not train what made x.",
        formula="y = x,  ∂y/∂x = 0",
        examples=detach_examples,
        aliases=("stop gradient", "stop_gradient", "no grad"),
        torch_rules=(
            TorchRule(function="torch.detach", signature="input", rename=X),
            TorchRule(method="detach", signature="self", rename=X),
        ),
    )
)
