"""Imported ops: a torch call that `graphcore import-torch` found no node type for.

An Opaque node records the call as data: the torch function by its dotted name, its literal
arguments, and the shapes it had when it was imported, which are its shape rule. Loading a graph
never evaluates or imports anything: the name is checked against an allow-list of torch's own
tensor functions (those torch.overrides lists, less in-place ones and the few with effects beyond
their result) and looked up as one attribute of torch, torch.nn.functional or torch.Tensor. It runs
on every path a node runs on; the app shows it read-only (`editable=False`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from graphcore._torch import torch
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    ShapeError,
    dim_product,
    expect,
    register,
    show,
)

PORTS = ("x0", "x1", "x2", "x3", "x4", "x5")
NAMESPACES = {"torch": "torch", "torch.nn.functional": "F", "torch.Tensor": "torch.Tensor"}
# Overridable, yet more than a function of their arguments: gradients, hooks, storage, host copies.
DENIED = frozenset(
    {
        "backward",
        "register_hook",
        "register_post_accumulate_grad_hook",
        "module_load",
        "numpy",
        "tolist",
        "item",
        "storage",
        "untyped_storage",
        "data_ptr",
        "pin_memory",
        "record_stream",
        "share_memory_",
        "set_",
    }
)
_DIM = re.compile(r"([A-Za-z_]\w*|\d+)(\*([A-Za-z_]\w*|\d+))*")


@functools.cache
def allowed_calls() -> frozenset[str]:
    """Every dotted name an Opaque node may call, e.g. "torch.cumsum", "torch.nn.functional.pad"."""
    owners = {"torch": torch, "torch.nn.functional": torch.nn.functional, "torch.Tensor": torch.Tensor}
    found = set()
    for functions in torch.overrides.get_overridable_functions().values():
        for function in functions:
            name = getattr(function, "__name__", "")
            if not name.isidentifier() or name.startswith("_") or name.endswith("_") or name in DENIED:
                continue
            for prefix, owner in owners.items():
                if getattr(owner, name, None) is function:
                    found.add(f"{prefix}.{name}")
    return frozenset(found)


def resolve(target: str) -> Any:
    """The torch callable an Opaque node names: one attribute lookup, allow-listed."""
    if target not in allowed_calls():
        raise ValueError(f"{target!r} is not a torch function an imported node may call")
    prefix, _, name = target.rpartition(".")
    owner = {"torch": torch, "torch.nn.functional": torch.nn.functional, "torch.Tensor": torch.Tensor}[prefix]
    return getattr(owner, name)


def is_input_ref(value: Any) -> bool:
    """`{"input": k}` in args or kwargs stands for the k-th tensor input (port x<k>)."""
    return isinstance(value, dict) and set(value) == {"input"} and value["input"] in range(len(PORTS))


def input_refs(value: Any) -> list[int]:
    if is_input_ref(value):
        return [value["input"]]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [k for v in items for k in input_refs(v)]


def _argument(value: Any, field: str) -> str:
    """Template text for one argument: a port field, a list holding ports, or the literal `{field!r}`."""
    if is_input_ref(value):
        return f"{{{PORTS[value['input']]}}}"
    if isinstance(value, list) and input_refs(value):
        return "[" + ", ".join(_argument(v, f"{field}[{i}]") for i, v in enumerate(value)) + "]"
    return f"{{{field}!r}}"


def opaque_code(params: Mapping[str, Any], connected: frozenset[str] = frozenset()) -> str:
    """`torch.cumsum({x0}, {args[1]!r})`: the call, with literals written by repr from the params.

    The call names only the ports its arguments refer to, so `connected` needs no special case."""
    target, args, kwargs = params["target"], params["args"], params["kwargs"]
    resolve(target)
    prefix, _, name = target.rpartition(".")
    parts = [_argument(v, f"args[{i}]") for i, v in enumerate(args)]
    parts += [f"{key}={_argument(v, f'kwargs[{key}]')}" for key, v in kwargs.items()]
    if prefix == "torch.Tensor":
        if not args or not is_input_ref(args[0]):
            raise ValueError(f"{target} is a method: its first argument must be a tensor input")
        call = f"{parts[0]}.{name}({', '.join(parts[1:])})"
    else:
        call = f"{NAMESPACES[prefix]}.{name}({', '.join(parts)})"
    return call if params["item"] is None else f"{call}[{{item!r}}]"


def opaque_call(params: Mapping[str, Any], tensors: list[Any]) -> Any:
    """The recorded call on `tensors`, made directly: what the code template writes, for the VJP rule."""
    function = resolve(params["target"])

    def fill(value: Any) -> Any:
        if is_input_ref(value):
            return tensors[value["input"]]
        if isinstance(value, list) and input_refs(value):
            return [fill(v) for v in value]
        return value

    result = function(*map(fill, params["args"]), **{k: fill(v) for k, v in params["kwargs"].items()})
    return result if params["item"] is None else result[params["item"]]


def opaque_vjp(cotangent: Any, *tensors: Any, **params: Any) -> tuple[Any, ...]:
    """torch.func.vjp of the call; an output that is no float (a comparison, an argmax) passes no gradient."""
    slots = [i for i, t in enumerate(tensors) if isinstance(t, torch.Tensor) and t.is_floating_point()]

    def call(*values: Any) -> Any:
        full = list(tensors)
        for slot, value in zip(slots, values):
            full[slot] = value
        return opaque_call(params, full)

    grads: list[Any] = [None] * len(tensors)
    if not slots or not opaque_call(params, list(tensors)).is_floating_point():
        return tuple(torch.zeros_like(tensors[i]) if i in slots else None for i in range(len(tensors)))
    _, pull = torch.func.vjp(call, *(tensors[i] for i in slots))  # type: ignore[misc]  # torch.func stubs: one return type for both has_aux
    for slot, grad in zip(slots, pull(cotangent)):
        grads[slot] = grad
    return tuple(grads)


def _bind(recorded: list[Any], actual: Shape, port: str, target: str, symbols: dict[str, Any]) -> None:
    expect(
        len(recorded) == len(actual),
        f"{target} was imported for {port} of shape {show(tuple(recorded))}, not {show(actual)}",
    )
    for want, got in zip(recorded, actual):
        if isinstance(want, int):
            expect(
                isinstance(got, str) or got == want,
                f"{target} was imported for {port} of shape {show(tuple(recorded))}, not {show(actual)}",
            )
        elif want in symbols:
            expect(
                symbols[want] == got or isinstance(got, str) or isinstance(symbols[want], str),
                f"{target}: {port} has {got} where {want} = {symbols[want]}",
            )
        else:
            symbols[want] = got


def _substitute(dim: Any, symbols: Mapping[str, Any]) -> Any:
    if isinstance(dim, int):
        return dim
    factors = [symbols.get(f, f) if not f.isdigit() else int(f) for f in dim.split("*")]
    return dim_product(factors)


def opaque_shape(
    *inputs: Shape | None,
    target: str,
    args: list[Any],
    kwargs: dict[str, Any],
    item: int | None,
    shape: list[Any],
    input_shapes: list[Any],
) -> Shape:
    """The shape recorded at import, with its symbolic sizes bound to the inputs' sizes now."""
    expect(target in allowed_calls(), f"{target!r} is not a torch function an imported node may call")
    used = sorted(set(input_refs(args) + input_refs(kwargs)))
    connected = [i for i, s in enumerate(inputs) if s is not None]
    expect(
        used == connected,
        f"{target} reads inputs {', '.join(PORTS[i] for i in used) or 'none'} "
        f"but {', '.join(PORTS[i] for i in connected) or 'none'} are connected",
    )
    for dims in (shape, *input_shapes):
        if not (isinstance(dims, list) and all(isinstance(d, int) or _DIM.fullmatch(str(d)) for d in dims)):
            raise ShapeError(f"{target}: recorded shape {dims!r} is not a list of sizes")
    expect(len(input_shapes) == len(connected), f"{target}: one recorded shape per connected input")
    symbols: dict[str, Any] = {}
    for index, recorded in zip(connected, input_shapes):
        _bind(recorded, inputs[index], PORTS[index], target, symbols)  # type: ignore[arg-type]
    return tuple(_substitute(d, symbols) for d in shape)


def unconnected(shapes: tuple[Shape, ...]) -> tuple[Shape | None, ...]:
    return shapes + (None,) * (len(PORTS) - len(shapes))


def _examples(_: Any) -> list[Example]:
    one, two = {"input": 0}, {"input": 1}
    return [
        Example(
            {"target": "torch.cumsum", "args": [one, 1], "shape": ["N", 3], "input_shapes": [["N", 3]]},
            unconnected((("N", 3),)),
        ),
        Example(
            {
                "target": "torch.nn.functional.pad",
                "args": [one, [1, 2]],
                "shape": ["N", 2, 6],
                "input_shapes": [["N", 2, 3]],
            },
            unconnected((("N", 2, 3),)),
        ),
        Example(
            {
                "target": "torch.max",
                "args": [one],
                "kwargs": {"dim": 1},
                "item": 0,
                "shape": ["N"],
                "input_shapes": [["N", 4]],
            },
            unconnected((("N", 4),)),
            ("spread",),
        ),
        Example(
            {
                "target": "torch.Tensor.flip",
                "args": [one, [0]],
                "shape": [2, "N"],
                "input_shapes": [[2, "N"]],
            },
            unconnected(((2, "N"),)),
        ),
        Example(
            {
                "target": "torch.cat",
                "args": [[one, two, one]],
                "kwargs": {"dim": -1},
                "shape": ["N", 7],
                "input_shapes": [["N", 3], ["N", 1]],
            },
            unconnected((("N", 3), ("N", 1))),
        ),
    ]


register(
    NodeSpec(
        "Opaque",
        "imported",
        PORTS,
        ("out",),
        opaque_shape,
        code=opaque_code,
        vjp=opaque_vjp,
        optional_inputs=PORTS[1:],
        editable=False,
        doc="A torch call imported from a PyTorch module that no node type computes. It runs, differentiates "
        "and exports like any node, but its params record the call rather than ask for it, so it cannot be "
        "edited; its shape rule is the shapes it had when imported.",
        formula="y = f(x₀, …), the recorded torch call",
        params=(
            Param(
                "target", "str", "torch.clone", "The torch function, e.g. torch.cumsum or torch.Tensor.flip."
            ),
            Param(
                "args", "list", [{"input": 0}], 'Positional arguments; {"input": k} is the tensor on x<k>.'
            ),
            Param("kwargs", "object", {}, "Keyword arguments, literals or tensor inputs as in args."),
            Param(
                "item", "int", None, "The element of a tuple result that this node outputs.", optional=True
            ),
            Param("shape", "list", [], 'The output shape when imported; "N" is the batch.'),
            Param("input_shapes", "list", [[]], "The shape of each connected input when imported."),
        ),
        examples=_examples,
        aliases=("imported", "opaque", "torch call"),
    )
)
