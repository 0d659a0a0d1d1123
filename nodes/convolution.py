"""Convolution, pooling and resizing over 1-D signals and 2-D images.

Inputs are (N, C, L) or (N, C, H, W), or the same without the batch. Every size rule is torch's
formula, written out once in `window_size`; a size that would drop below 1 is a diagnostic.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from graphcore.exchange.torch_ops import X, attributes, compact
from graphcore.registry import (
    Dim,
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    call_template,
    expect,
    register,
    show,
)
from nodes.init import INIT_PARAMS, module_init, weight_init


def per_dim(value: int | list[int] | None, n: int, name: str, type_: str) -> list[int]:
    """An int or n-list param as one value per spatial dimension."""
    values = [value] * n if isinstance(value, int) else list(value or [])
    expect(len(values) == n, f"{type_} {name}={value} needs 1 or {n} values")
    return values


def window_size(
    size: Dim, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False, what: str = ""
) -> Dim:
    """Output length of a sliding window (torch's formula); symbolic sizes give an expression."""
    span = dilation * (kernel - 1) + 1
    if isinstance(size, str):
        return f"({size}+{2 * padding - span})//{stride}+1"
    out = (size + 2 * padding - span + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    expect(
        out >= 1,
        f"{what}: input size {size} is too small for kernel_size {kernel} "
        f"(dilation {dilation}, padding {padding}): the output would have size {out}",
    )
    return out


def spatial(x: Shape, n: int, type_: str) -> tuple[Shape, Dim, Shape]:
    """Split x into (batch dims, channels, spatial dims), checking its rank."""
    names = "(N, C, L)" if n == 1 else "(N, C, H, W)"
    expect(len(x) in (n + 1, n + 2), f"{type_} needs x of shape {names} or without N, not {show(x)}")
    return x[: -n - 1], x[-n - 1], x[-n:]


def conv_shape(n: int, type_: str, transposed: bool = False) -> Any:
    def rule(
        x: Shape,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        output_padding: Any = 0,
        **_: Any,
    ) -> Shape:
        batch, channels, sizes = spatial(x, n, type_)
        expect(
            channels == in_channels or isinstance(channels, str),
            f"{type_} in_channels={in_channels} but x has {channels} channels",
        )
        expect(
            in_channels % groups == 0 and out_channels % groups == 0,
            f"{type_} groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}",
        )
        k, s, p, d = (
            per_dim(v, n, name, type_)
            for v, name in (
                (kernel_size, "kernel_size"),
                (stride, "stride"),
                (padding, "padding"),
                (dilation, "dilation"),
            )
        )
        if not transposed:
            windows = zip(sizes, k, s, p, d, strict=True)
            return (
                *batch,
                out_channels,
                *(window_size(L, k_, s_, p_, d_, what=type_) for L, k_, s_, p_, d_ in windows),
            )
        extra = per_dim(output_padding, n, "output_padding", type_)
        out: list[Dim] = []
        for L, k_, s_, p_, d_, e in zip(sizes, k, s, p, d, extra, strict=True):
            expect(e < max(s_, d_), f"{type_} output_padding={e} must be smaller than stride or dilation")
            length = (
                f"({L}-1)*{s_}+{d_ * (k_ - 1) + e + 1 - 2 * p_}"
                if isinstance(L, str)
                else (L - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + e + 1
            )
            expect(isinstance(length, str) or length >= 1, f"{type_}: padding {p_} leaves no output")
            out.append(length)
        return (*batch, out_channels, *out)

    return rule


def conv_params(transposed: bool = False) -> tuple[Param, ...]:
    return (
        Param("in_channels", "int", 1, "Channels of x.", min=1),
        Param("out_channels", "int", 1, "Channels of the output (the number of filters).", min=1),
        Param(
            "kernel_size", "ints", 3, "Size of each filter: one value, or one per spatial dimension.", min=1
        ),
        Param("stride", "ints", 1, "Step between windows.", min=1),
        Param("padding", "ints", 0, "Zeros added on each side.", min=0),
        *(
            (Param("output_padding", "ints", 0, "Extra size added to one side of the output.", min=0),)
            if transposed
            else ()
        ),
        Param("dilation", "ints", 1, "Spacing between kernel elements.", min=1),
        Param("groups", "int", 1, "Split channels into groups convolved separately.", min=1),
        Param("bias", "bool", True, "Learn one bias per output channel."),
        *INIT_PARAMS,
    )


def conv_examples(n: int, transposed: bool = False) -> Any:
    def draw(r: random.Random) -> list[Example]:
        c, o, k = r.choice([1, 2]), r.choice([2, 4]), r.choice([1, 2, 3])
        sizes = tuple(r.randint(k + 1, 5) for _ in range(n))
        params: dict[str, Any] = {
            "in_channels": c,
            "out_channels": o,
            "kernel_size": k,
            "stride": r.choice([1, 2]),
            "padding": r.choice([0, 1]),
            "weight_init": r.choice(["default", "kaiming_uniform"]),
        }
        if transposed:
            params["output_padding"] = r.choice([0, params["stride"] - 1])
        grouped = {
            "in_channels": 2,
            "out_channels": 4,
            "kernel_size": [2] * n,
            "groups": 2,
            "dilation": 2,
            "bias": False,
        }
        return [Example(params, (("N", c, *sizes),)), Example(grouped, ((2, *(5,) * n),))]

    return draw


def conv_module(transposed: bool) -> Callable[[Any], dict[str, Any] | None]:
    """The params of an nn.Conv*; None for padding the type cannot say ("same", non-zero modes)."""

    def read(module: Any) -> dict[str, Any] | None:
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            return None
        params = {
            "in_channels": module.in_channels,
            "out_channels": module.out_channels,
            "kernel_size": compact(module.kernel_size),
            "stride": compact(module.stride),
            "padding": compact(module.padding),
            "dilation": compact(module.dilation),
            "groups": module.groups,
            "bias": module.bias is not None,
        }
        if transposed:
            params["output_padding"] = compact(module.output_padding)
        return params

    return read


CONVOLUTIONS = (
    (
        "Conv1d",
        1,
        False,
        "1-D convolution: filters slide along a sequence (N, C, L).",
        "y = W ⋆ x + b,  y[o, t] = b[o] + Σ_c Σ_j W[o, c, j]·x[c, s·t + j],  "
        "∂L/∂x is a transposed convolution of G",
    ),
    (
        "Conv2d",
        2,
        False,
        "2-D convolution: filters slide over an image (N, C, H, W).",
        "y = W ⋆ x + b,  y[o, i, j] = b[o] + Σ_c Σ_(u,v) W[o, c, u, v]·x[c, s·i + u, s·j + v],  "
        "∂L/∂x is a transposed convolution of G",
    ),
    (
        "ConvTranspose2d",
        2,
        True,
        "Transposed convolution: upsamples an image (the decoder of a conv autoencoder, a GAN's generator).",
        "y = Conv2d's input gradient applied to x,  H_out = (H − 1)·s − 2p + d(k − 1) + 1",
    ),
)
ALIASES = {
    "Conv1d": ("convolution", "conv1d", "temporal convolution"),
    "Conv2d": ("convolution", "conv", "filter"),
    "ConvTranspose2d": ("deconvolution", "transposed convolution", "upconv"),
}
for type_, n, transposed, doc, formula in CONVOLUTIONS:
    params = conv_params(transposed)
    keywords = [
        "stride",
        "padding",
        *(["output_padding"] if transposed else []),
        "dilation",
        "groups",
        "bias",
    ]
    register(
        NodeSpec(
            type_,
            "convolution",
            ("x",),
            ("out",),
            conv_shape(n, type_, transposed),
            kind="layer",
            init=module_init(
                type_, params, ["in_channels", "out_channels", "kernel_size"], keywords, always=["bias"]
            ),
            post_init=weight_init(),
            code="{module}({x})",
            doc=doc,
            formula=formula,
            params=params,
            examples=conv_examples(n, transposed),
            aliases=ALIASES[type_],
            torch_rules=(TorchRule(module=f"torch.nn.{type_}", read=conv_module(transposed)),),
        )
    )


def pool_shape(type_: str, dilated: bool) -> Any:
    def rule(
        x: Shape, *, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, dilation: Any = 1, **_: Any
    ) -> Shape:
        batch, channels, sizes = spatial(x, 2, type_)
        k = per_dim(kernel_size, 2, "kernel_size", type_)
        s = per_dim(stride if stride is not None else kernel_size, 2, "stride", type_)
        p, d = per_dim(padding, 2, "padding", type_), per_dim(dilation, 2, "dilation", type_)
        for k_, p_, d_ in zip(k, p, d, strict=True):
            expect(
                2 * p_ <= (d_ * (k_ - 1) + 1 if dilated else k_),
                f"{type_} padding={p_} must be at most half the kernel size {k_}",
            )
        return (
            *batch,
            channels,
            *(
                window_size(L, k_, s_, p_, d_, ceil=ceil_mode, what=type_)
                for L, k_, s_, p_, d_ in zip(sizes, k, s, p, d, strict=True)
            ),
        )

    return rule


def pool_params(dilated: bool) -> tuple[Param, ...]:
    return (
        Param("kernel_size", "ints", 2, "Size of each window.", min=1),
        Param("stride", "ints", None, "Step between windows; null means kernel_size.", min=1, optional=True),
        Param("padding", "ints", 0, "Padding on each side (at most half the kernel).", min=0),
        *((Param("dilation", "ints", 1, "Spacing between window elements.", min=1),) if dilated else ()),
        Param("ceil_mode", "bool", False, "Round the output size up instead of down."),
        *(
            ()
            if dilated
            else (Param("count_include_pad", "bool", True, "Count padding zeros in the average."),)
        ),
    )


def max_pool_module(module: Any) -> dict[str, Any] | None:
    if module.return_indices:
        return None
    return attributes("kernel_size", "stride", "padding", "dilation", "ceil_mode")(module)


def avg_pool_module(module: Any) -> dict[str, Any] | None:
    if module.divisor_override:
        return None
    return attributes("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")(module)


def pool_examples(r: random.Random) -> list[Example]:
    size = r.randint(4, 7)
    return [
        Example({"kernel_size": 2}, (("N", r.randint(1, 2), size, size),), ("spread",)),
        Example({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, ((2, 5, 6),), ("spread",)),
        Example({"kernel_size": [2, 3], "stride": [1, 2]}, (("N", 1, 4, 5),), ("spread",)),
    ]


MAX_POOL = pool_params(dilated=True)
register(
    NodeSpec(
        "MaxPool2d",
        "convolution",
        ("x",),
        ("out",),
        pool_shape("MaxPool2d", True),
        code=call_template(
            "F.max_pool2d", MAX_POOL, ["x", "kernel_size"], ["stride", "padding", "dilation", "ceil_mode"]
        ),
        doc="Largest value in each window: downsamples an image, keeping the strongest responses.",
        formula="y[i, j] = max over the window of x,  the gradient goes to each window's largest element",
        params=MAX_POOL,
        examples=pool_examples,
        aliases=("max pooling", "pool"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.max_pool2d",
                signature="input, kernel_size, stride=None, "
                "padding=0, dilation=1, ceil_mode=False, return_indices=False",
                rename=X,
            ),
            TorchRule(module="torch.nn.MaxPool2d", read=max_pool_module),
        ),
    )
)
AVG_POOL = pool_params(dilated=False)
register(
    NodeSpec(
        "AvgPool2d",
        "convolution",
        ("x",),
        ("out",),
        pool_shape("AvgPool2d", False),
        code=call_template(
            "F.avg_pool2d",
            AVG_POOL,
            ["x", "kernel_size"],
            ["stride", "padding", "ceil_mode", "count_include_pad"],
        ),
        doc="Average of each window: downsamples an image smoothly.",
        formula="y[i, j] = (1/k²) Σ over the window of x,  ∂y/∂x = 1/k² for each element of the window",
        params=AVG_POOL,
        examples=pool_examples,
        aliases=("average pooling", "mean pooling"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.avg_pool2d",
                signature="input, kernel_size, stride=None, "
                "padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None",
                rename=X,
            ),
            TorchRule(module="torch.nn.AvgPool2d", read=avg_pool_module),
        ),
    )
)


def adaptive_shape(x: Shape, *, output_size: int | list[int]) -> Shape:
    batch, channels, _ = spatial(x, 2, "AdaptiveAvgPool2d")
    return (*batch, channels, *per_dim(output_size, 2, "output_size", "AdaptiveAvgPool2d"))


register(
    NodeSpec(
        "AdaptiveAvgPool2d",
        "convolution",
        ("x",),
        ("out",),
        adaptive_shape,
        code="F.adaptive_avg_pool2d({x}, {output_size!r})",
        params=(
            Param("output_size", "ints", 1, "Output height and width (1 is global average pooling).", min=1),
        ),
        doc="Averages windows chosen so that the output has a fixed size, whatever the input size.",
        formula="y[i, j] = mean of window (i, j),  the windows spread evenly over x",
        examples=lambda r: [
            Example({"output_size": r.choice([1, 2])}, (("N", 2, 5, 6),)),
            Example({"output_size": [2, 3]}, ((1, 4, 7),)),
        ],
        aliases=("global average pooling", "gap"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.adaptive_avg_pool2d", signature="input, output_size", rename=X
            ),
            TorchRule(module="torch.nn.AdaptiveAvgPool2d", read=attributes("output_size")),
        ),
    )
)

UPSAMPLE_MODES = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,), "bicubic": (4,)}


def upsample_shape(
    x: Shape, *, size: Any, scale_factor: float | None, mode: str, align_corners: bool | None
) -> Shape:
    expect(
        len(x) in UPSAMPLE_MODES[mode],
        f"Upsample mode {mode!r} needs x of "
        f"{' or '.join(map(str, UPSAMPLE_MODES[mode]))} dimensions (N, C, ...), not {show(x)}",
    )
    expect((size is None) != (scale_factor is None), "Upsample needs exactly one of size and scale_factor")
    expect(
        align_corners is None or mode != "nearest",
        "Upsample align_corners needs an interpolating mode, not 'nearest'",
    )
    if size is not None:
        return (*x[:2], *per_dim(size, len(x) - 2, "size", "Upsample"))
    assert scale_factor is not None  # exactly one of the two, as expected above
    out = [f"int({d}*{scale_factor!r})" if isinstance(d, str) else int(d * scale_factor) for d in x[2:]]
    expect(
        all(isinstance(d, str) or d >= 1 for d in out),
        f"Upsample scale_factor={scale_factor} leaves no output",
    )
    return (*x[:2], *out)


UPSAMPLE = (
    Param(
        "size", "ints", None, "Output size: one value, or one per spatial dimension.", min=1, optional=True
    ),
    Param(
        "scale_factor",
        "float",
        2.0,
        "Multiplier of each spatial size (when size is null).",
        min=0.0,
        optional=True,
    ),
    Param("mode", "str", "nearest", "How new values are made.", choices=tuple(UPSAMPLE_MODES)),
    Param("align_corners", "bool", None, "For interpolating modes: align the corner pixels.", optional=True),
)
register(
    NodeSpec(
        "Upsample",
        "convolution",
        ("x",),
        ("out",),
        upsample_shape,
        code=call_template(
            "F.interpolate",
            UPSAMPLE,
            ["x"],
            ["size", "scale_factor", "mode", "align_corners"],
            always=["scale_factor"],
        ),
        doc="Resizes a signal or an image by repeating (nearest) or interpolating values.",
        formula="y = x resampled,  H_out = ⌊H · scale_factor⌋",
        params=UPSAMPLE,
        examples=lambda r: [
            Example({}, (("N", 2, 3, 3),)),
            Example(
                {"size": [5, 4], "scale_factor": None, "mode": "bilinear", "align_corners": True},
                ((1, 1, 3, 2),),
            ),
            Example({"mode": "linear", "scale_factor": r.choice([1.5, 3.0])}, (("N", 2, 4),)),
            Example({"mode": "bicubic", "scale_factor": 1.5}, ((1, 1, 4, 4),)),
        ],
        aliases=("interpolate", "resize", "upscale"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.interpolate",
                signature="input, size=None, scale_factor=None, "
                "mode='nearest', align_corners=None, recompute_scale_factor=None, antialias=False",
                rename=X,
            ),
        ),
    )
)
