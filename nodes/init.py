"""Weight initialisation shared by every layer with weights, and small helpers for layer declarations.

A layer's `weight_init` param chooses how its weights start. The choice becomes readable lines in the
generated `__init__` (`nn.init.xavier_uniform_(self.fc1.weight)`), right after the layer is built;
`torch.manual_seed(seed)` at the top of `__init__` makes a graph start from the same weights every time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphcore.registry import Param, call_template

# The nn.init schemes that a layer's weights (WEIGHT_INITS) and a Parameter (sources.PARAMETER_INITS) offer.
INIT_SCHEMES = (
    "normal",
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
)
WEIGHT_INITS = ("default", "zeros", *INIT_SCHEMES)

INIT_PARAMS = (
    Param(
        "weight_init",
        "str",
        "default",
        "How the weights start: torch's default, zeros, N(0, std²), U(−bound, bound), Glorot (xavier: "
        "Var w = 2/(fan_in + fan_out)) or He (kaiming, for ReLU: Var w = 2/fan_in); biases then start "
        "at 0.",
        choices=WEIGHT_INITS,
    ),
    Param("std", "float", 0.1, "Standard deviation for weight_init 'normal'.", min=0.0),
    Param("bound", "float", 0.1, "Half-width of U(−bound, bound) for weight_init 'uniform'.", min=0.0),
)


def init_call(scheme: str, tensor: str) -> str:
    """`nn.init.<scheme>_(tensor, ...)`, a template: its params are fields written with !r."""
    extra = {
        "normal": ", std={std!r}",
        "uniform": ", -{bound!r}, {bound!r}",
        "kaiming_uniform": ", nonlinearity='relu'",
        "kaiming_normal": ", nonlinearity='relu'",
    }
    return f"nn.init.{scheme}_({tensor}{extra.get(scheme, '')})"


def weight_init(
    weights: Sequence[str] = ("weight",), bias: str | None = "bias"
) -> Callable[[Mapping[str, Any]], str]:
    """post_init for a layer with named weights: one line per weight, biases to zero."""

    def template(params: Mapping[str, Any]) -> str:
        scheme = params["weight_init"]
        if scheme == "default":
            return ""
        lines = [init_call(scheme, f"{{module}}.{w}") for w in weights]
        if bias and params.get(bias, True):
            lines.append(f"nn.init.zeros_({{module}}.{bias})")
        return "\n".join(lines)

    return template


def all_weights_init(params: Mapping[str, Any]) -> str:
    """post_init for layers with many weights (RNNs, attention): every matrix, and every bias to zero."""
    scheme = params["weight_init"]
    if scheme == "default":
        return ""
    return "\n".join(
        [
            "for name, weight in {module}.named_parameters():",
            "    if weight.dim() > 1:",
            f"        {init_call(scheme, 'weight')}",
            '    elif "bias" in name:',
            "        nn.init.zeros_(weight)",
        ]
    )


def rendered(template: Callable[[Mapping[str, Any]], str]) -> Callable[[Mapping[str, Any]], str]:
    """An `init` function from a template: codegen writes a callable init's result as it is."""
    return lambda params: template(params).format(**params)


def module_init(
    module: str,
    params: Sequence[Param],
    positional: Sequence[str],
    keywords: Sequence[str] = (),
    always: Sequence[str] = (),
) -> Callable[[Mapping[str, Any]], str]:
    """A layer's `init`: `nn.<module>(positional, keywords unless at torch's default, dtype=dtype)`."""
    return rendered(call_template(f"nn.{module}", params, positional, keywords, "dtype=dtype", always=always))
