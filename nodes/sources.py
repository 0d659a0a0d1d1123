"""Sources: where values enter the graph. Inputs are fed, Parameters are learned, Constants are fixed.

The `*_like` nodes and `randn` make a tensor shaped like their input `x` (labels for a GAN's loss, the
noise ε of a VAE's reparameterisation trick), so they follow the batch size of whatever feeds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphcore.exchange.torch_ops import X
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    expect,
    literal_shape,
    register,
    same_shape,
    show,
)
from nodes.init import INIT_SCHEMES, init_call

PARAMETER_INITS = ("value", "zeros", "ones", *INIT_SCHEMES)


def _literal_fits(shape: list[Any], value: Any, what: str) -> Shape:
    if value is not None:
        got = literal_shape(value)
        fits = len(got) == len(shape) and all(
            isinstance(s, str) or s == g for s, g in zip(shape, got, strict=True)
        )
        expect(fits, f"{what} has shape {show(got)} but shape is {show(tuple(shape))}")
    return tuple(shape)


def input_shape(*, shape: list[Any], value: Any = None, dtype: str = "float") -> Shape:
    return _literal_fits(shape, value, "value")


def parameter_shape(
    *, shape: list[Any], init: str, value: Any = None, std: float = 1.0, bound: float = 1.0
) -> Shape:
    expect(
        all(isinstance(d, int) for d in shape),
        f"a Parameter's shape must be concrete, not {show(tuple(shape))}",
    )
    if init == "value":
        expect(value is not None, "init is 'value' but no value is given")
        return _literal_fits(shape, value, "value")
    if init.startswith(("xavier", "kaiming")):
        expect(len(shape) >= 2, f"{init} needs a weight of at least 2 dimensions, not {show(tuple(shape))}")
    return tuple(shape)


def parameter_init(params: Mapping[str, Any]) -> str:
    """The expression that creates the Parameter in the generated module's __init__."""
    init, shape = params["init"], tuple(params["shape"])
    if init == "value":
        tensor = f"torch.tensor({params['value']!r}, dtype=dtype)"
    elif init in ("zeros", "ones"):
        tensor = f"torch.{init}({shape!r}, dtype=dtype)"
    else:  # the same nn.init call a layer's weight_init writes
        tensor = init_call(init, f"torch.empty({shape!r}, dtype=dtype)").format(**params)
    return f"nn.Parameter({tensor})"


def constant_shape(*, value: Any) -> Shape:
    return literal_shape(value)


def constant_init(params: Mapping[str, Any]) -> str:
    return f"torch.tensor({params['value']!r}, dtype=dtype)"


register(
    NodeSpec(
        "Input",
        "sources",
        (),
        ("out",),
        input_shape,
        code="",
        kind="input",
        doc="Data fed to the graph: a fixed value, or a batch from the dataset.",
        formula="x",
        params=(
            Param("shape", "shape", [], 'Size of each dimension; a name such as "N" is the batch.'),
            Param(
                "value",
                "value",
                None,
                "A literal value used when no dataset feeds this input.",
                optional=True,
            ),
            Param(
                "dtype",
                "str",
                "float",
                "float for real values, long for class indices.",
                choices=("float", "long"),
            ),
        ),
        aliases=("data", "placeholder", "x"),
        examples=lambda r: [
            Example({"shape": ["N", r.randint(1, 4)]}, ()),
            Example({"shape": [2, 3], "dtype": "long"}, ()),
            Example({"shape": [], "value": 1.5}, ()),
        ],
    )
)

register(
    NodeSpec(
        "Parameter",
        "sources",
        (),
        ("out",),
        parameter_shape,
        code="",
        kind="parameter",
        init=parameter_init,
        doc="A learned tensor (weight or bias); optimisers update it.",
        formula="θ",
        params=(
            Param("shape", "shape", [], "Size of each dimension; [] is a scalar."),
            Param("init", "str", "value", "How the initial value is drawn.", choices=PARAMETER_INITS),
            # 0.0, not null: a Parameter added from the palette (shape [], init 'value') is valid as added
            Param("value", "value", 0.0, "The initial value when init is 'value'.", optional=True),
            Param("std", "float", 1.0, "Standard deviation for init 'normal'.", min=0.0),
            Param("bound", "float", 1.0, "Half-width of U(−bound, bound) for init 'uniform'.", min=0.0),
        ),
        aliases=("weight", "bias", "variable", "theta"),
        examples=lambda r: [
            Example({"shape": [r.randint(1, 4), r.randint(1, 4)], "init": r.choice(PARAMETER_INITS[1:])}, ()),
            Example({"shape": [2], "init": "value", "value": [0.5, -1.0]}, ()),
            Example({}, ()),  # as the palette adds it
        ],
    )
)

register(
    NodeSpec(
        "Constant",
        "sources",
        (),
        ("out",),
        constant_shape,
        code="",
        kind="constant",
        init=constant_init,
        doc="A fixed tensor that is never trained.",
        formula="c",
        params=(Param("value", "value", 1.0, "The value: a number or a nested list."),),
        aliases=("literal", "number"),
        examples=lambda r: [
            Example({"value": [[1.0, 2.0, 3.0]]}, ()),
            Example({"value": r.uniform(-2, 2)}, ()),
        ],
    )
)


def like(
    type_: str,
    code: str | Any,
    formula: str,
    doc: str,
    params: tuple[Param, ...] = (),
    example: dict[str, Any] | None = None,
    **rules: Any,
) -> None:
    register(
        NodeSpec(
            type_,
            "sources",
            ("x",),
            ("out",),
            same_shape,
            code=code,
            doc=doc,
            formula=formula,
            params=params,
            examples=lambda r: [Example({}, (("N", r.randint(1, 3)),)), Example(example or {}, ((),))],
            **rules,
        )
    )


like(
    "zeros_like",
    "torch.zeros_like({x})",
    "0",
    "Zeros shaped like x (the 'fake' labels of a GAN's discriminator loss).",
    aliases=("zeros",),
    torch_rules=(TorchRule(function="torch.zeros_like", signature="input", rename=X),),
)
like(
    "ones_like",
    "torch.ones_like({x})",
    "1",
    "Ones shaped like x (the 'real' labels of a GAN's losses).",
    aliases=("ones",),
    torch_rules=(TorchRule(function="torch.ones_like", signature="input", rename=X),),
)
like(
    "full_like",
    "torch.full_like({x}, {fill_value!r})",
    "c",
    "A constant shaped like x (smoothed labels such as 0.9).",
    params=(Param("fill_value", "float", 0.0, "The value of every element."),),
    example={"fill_value": 0.9},
    aliases=("fill",),
    torch_rules=(TorchRule(function="torch.full_like", signature="input, fill_value", rename=X),),
)

SEEDED_RANDN = '''
def seeded_randn_like(x, seed):
    """Standard normal noise shaped like x; the same noise on every call for a given seed."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
'''

like(
    "randn",
    lambda p: "torch.randn_like({x})" if p["seed"] is None else "seeded_randn_like({x}, {seed!r})",
    "ε ~ N(0, 1)",
    "Standard normal noise shaped like x: ε of the reparameterisation trick z = μ + σ·ε. Without a seed, "
    "new noise each run (torch's generator, seeded when the model is built); with one, the same noise "
    "every run. Its gradient is zero: the noise does not depend on x.",
    params=(
        Param("seed", "int", None, "Fixes the noise; null draws new noise each run.", min=0, optional=True),
    ),
    example={"seed": 7},
    helpers=SEEDED_RANDN,
    aliases=("noise", "epsilon", "normal noise", "randn_like"),
    torch_rules=(TorchRule(function="torch.randn_like", signature="input", rename=X),),
)
