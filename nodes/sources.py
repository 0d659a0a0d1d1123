"""Sources: where values enter the graph. Inputs are fed, Parameters are learned, Constants are fixed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphcore.registry import NodeSpec, Param, Shape, expect, literal_shape, register, show

PARAMETER_INITS = (
    "value", "zeros", "ones", "normal", "uniform",
    "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
)


def _literal_fits(shape: list[Any], value: Any, what: str) -> Shape:
    if value is not None:
        got = literal_shape(value)
        fits = len(got) == len(shape) and all(isinstance(s, str) or s == g for s, g in zip(shape, got))
        expect(fits, f"{what} has shape {show(got)} but shape is {show(tuple(shape))}")
    return tuple(shape)


def input_shape(*, shape: list[Any], value: Any = None, dtype: str = "float") -> Shape:
    return _literal_fits(shape, value, "value")


def parameter_shape(*, shape: list[Any], init: str, value: Any = None, std: float = 1.0,
                    bound: float = 1.0) -> Shape:
    expect(all(isinstance(d, int) for d in shape), f"a Parameter's shape must be concrete, not {show(tuple(shape))}")
    if init == "value":
        expect(value is not None, "init is 'value' but no value is given")
        return _literal_fits(shape, value, "value")
    if init.startswith(("xavier", "kaiming")):
        expect(len(shape) >= 2, f"{init} needs a weight of at least 2 dimensions, not {show(tuple(shape))}")
    return tuple(shape)


def parameter_init(params: Mapping[str, Any]) -> str:
    """The expression that creates the Parameter in the generated module's __init__."""
    init, shape = params["init"], tuple(params["shape"])
    empty = f"torch.empty({shape!r}, dtype=dtype)"
    tensor = {
        "value": f"torch.tensor({params['value']!r}, dtype=dtype)",
        "zeros": f"torch.zeros({shape!r}, dtype=dtype)",
        "ones": f"torch.ones({shape!r}, dtype=dtype)",
        "normal": f"nn.init.normal_({empty}, std={params['std']!r})",
        "uniform": f"nn.init.uniform_({empty}, -{params['bound']!r}, {params['bound']!r})",
        "xavier_uniform": f"nn.init.xavier_uniform_({empty})",
        "xavier_normal": f"nn.init.xavier_normal_({empty})",
        "kaiming_uniform": f"nn.init.kaiming_uniform_({empty}, nonlinearity='relu')",
        "kaiming_normal": f"nn.init.kaiming_normal_({empty}, nonlinearity='relu')",
    }[init]
    return f"nn.Parameter({tensor})"


def constant_shape(*, value: Any) -> Shape:
    return literal_shape(value)


def constant_init(params: Mapping[str, Any]) -> str:
    return f"torch.tensor({params['value']!r}, dtype=dtype)"


register(NodeSpec(
    "Input", "sources", (), ("out",), input_shape, code="", kind="input",
    doc="Data fed to the graph: a fixed value, or a batch from the dataset.",
    formula="x",
    params=(
        Param("shape", "shape", [], 'Size of each dimension; a name such as "N" is the batch.'),
        Param("value", "value", None, "A literal value used when no dataset feeds this input.", optional=True),
        Param("dtype", "str", "float", "float for real values, long for class indices.", choices=("float", "long")),
    ),
    aliases=("data", "placeholder", "x"),
))

register(NodeSpec(
    "Parameter", "sources", (), ("out",), parameter_shape, code="", kind="parameter",
    init=parameter_init,
    doc="A learned tensor (weight or bias); optimisers update it.",
    formula="θ",
    params=(
        Param("shape", "shape", [], "Size of each dimension; [] is a scalar."),
        Param("init", "str", "value", "How the initial value is drawn.", choices=PARAMETER_INITS),
        Param("value", "value", None, "The initial value when init is 'value'.", optional=True),
        Param("std", "float", 1.0, "Standard deviation for init 'normal'.", min=0.0),
        Param("bound", "float", 1.0, "Half-width of U(−bound, bound) for init 'uniform'.", min=0.0),
    ),
    aliases=("weight", "bias", "variable", "theta"),
))

register(NodeSpec(
    "Constant", "sources", (), ("out",), constant_shape, code="", kind="constant",
    init=constant_init,
    doc="A fixed tensor that is never trained.",
    formula="c",
    params=(Param("value", "value", 1.0, "The value: a number or a nested list."),),
    aliases=("literal", "number"),
))
