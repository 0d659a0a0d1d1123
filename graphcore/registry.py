"""Node types, each declared once as data. The registry is the only extension point.

A `NodeSpec` holds everything graphcore, the app and the exporter need to know about a type:
ports, params, a shape rule, the code that computes it, and the text a user reads. The code is a
Python template (`"torch.sigmoid({x})"`): the exporter writes it out, and the runtime compiles the
very same text, so the app and the exported file cannot disagree.

Calling convention (autodidax's `bind`): tensors are positional in port order, params are keywords.
"""

from __future__ import annotations

import math
import random
import reprlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

Dim = int | str  # a str is a symbolic dimension such as "N", the batch
Shape = tuple[Dim, ...]

NodeKind = Literal["input", "parameter", "constant", "op", "layer"]
ParamKind = Literal["int", "float", "bool", "str", "shape", "value", "ints", "dims", "list", "object"]
SOURCE_KINDS: tuple[NodeKind, ...] = ("input", "parameter", "constant")


class ShapeError(ValueError):
    """Raised by a shape rule; the message is shown to the user as it is."""


def expect(condition: bool, message: str) -> None:
    """Shape rules state their assumptions with this; a failure becomes a diagnostic."""
    if not condition:
        raise ShapeError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


MAX_INT = 2**31 - 1  # sizes, dims and counts beyond this are typing mistakes, not networks
MAX_LITERAL_INT = 2**53  # integers in literal values: exact as float64, never overflow torch
MAX_NESTING = 32  # deepest list a literal value or call argument may be
MAX_STRING = 10_000  # longest string param


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    """A number that torch and JSON both take: a float that is finite, an int of sensible size."""
    if isinstance(value, float):
        return math.isfinite(value)
    return abs(value) <= MAX_LITERAL_INT


def _nested_numbers(value: Any, depth: int = 0) -> bool:
    """A number, or a rectangular nested list of numbers (what `torch.tensor` accepts)."""
    if _is_number(value):
        return _finite(value)
    if not isinstance(value, list) or not value or depth >= MAX_NESTING:
        return False
    if not all(_nested_numbers(v, depth + 1) for v in value):
        return False
    shapes = {literal_shape(v) for v in value}
    return len(shapes) == 1


def _encodable(text: str) -> bool:
    """No lone surrogate ("\\ud800"), which loads from JSON but can never be saved as UTF-8."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _nesting(value: Any) -> int:
    """How deep lists and objects nest in `value`, counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            if depth >= MAX_NESTING:
                return depth + 1
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _ints_in(value: Any) -> list[int]:
    """The integers a shape, ints or dims param holds (names and nulls are not sizes)."""
    items = value if isinstance(value, list) else [value]
    return [v for v in items if _is_int(v)]


def literal_shape(value: Any) -> Shape:
    """The shape of a literal number or nested list."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0]
    return tuple(shape)


@dataclass(frozen=True)
class Param:
    """One parameter of a node type: what the inspector shows and what loading checks.

    kind is one of: int, float, bool, str (with choices), shape (list of ints or symbolic names),
    value (a number or nested list), ints (an int or a list of ints), dims (null, an int or a list),
    list and object (JSON literals: what an imported call records as its arguments).
    """

    name: str
    kind: ParamKind
    default: Any
    doc: str = ""
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    optional: bool = False  # null is allowed

    def problem(self, value: Any) -> str | None:
        """None when `value` is acceptable, else a sentence saying what is wrong with it."""
        if value is None:
            return None if self.optional else "must be given"
        if self.kind in ("value", "list", "object") and _nesting(value) > MAX_NESTING:
            return f"nested more than {MAX_NESTING} levels deep"
        check = _KIND_CHECKS[self.kind]
        if not check[0](value):
            return f"expected {check[1]}, got {shorten(value)}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}; got {shorten(value)}"
        if isinstance(value, str) and len(value) > MAX_STRING:
            return f"is {len(value):,} characters long; at most {MAX_STRING:,} are allowed"
        if self.kind == "str" and not _encodable(value):  # list and object kinds: checked above
            return "holds a string that cannot be saved (a lone surrogate such as \\ud800)"
        if self.kind in ("int", "shape", "ints", "dims"):
            for number in _ints_in(value):
                if abs(number) > MAX_INT:
                    return f"{shorten(number)} is too large (at most {MAX_INT:,} in size)"
        numbers = [value] if _is_number(value) else value if self.kind == "ints" else []
        for number in numbers:
            if self.min is not None and number < self.min:
                return f"must be >= {self.min:g}; got {shorten(number)}"
            if self.max is not None and number > self.max:
                return f"must be <= {self.max:g}; got {shorten(number)}"
        return None


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 4, 8, 6
_SHORT.maxstring = _SHORT.maxlong = _SHORT.maxother = 70


def shorten(value: Any, limit: int = 80) -> str:
    """repr(value) cut to about `limit` characters, so a 10 MB bad value makes a one-line message."""
    if _is_int(value) and value.bit_length() > 4000:
        return "an integer of over 1,200 digits"  # repr() itself refuses ints past 4,300 digits
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_literal(value: Any, depth: int = 0) -> bool:
    """A JSON value that repr() writes as a Python literal and UTF-8 can save: no NaN or infinity, no
    lone surrogate, object keys identifiers."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, int | float):
        return _finite(value) if isinstance(value, float) else True
    if depth >= MAX_NESTING:
        return False
    if isinstance(value, list):
        return all(json_literal(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and k.isidentifier() and json_literal(v, depth + 1) for k, v in value.items()
        )
    return False


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


_KIND_CHECKS: dict[ParamKind, tuple[Callable[[Any], bool], str]] = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: _is_number(v) and math.isfinite(v), "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "shape": (
        lambda v: (
            isinstance(v, list)
            and all(
                (isinstance(d, int) and not isinstance(d, bool) and d >= 0)
                or (isinstance(d, str) and d.isidentifier())
                for d in v
            )
        ),
        'a list of sizes (non-negative ints, or a name such as "N" for the batch)',
    ),
    "value": (_nested_numbers, "a number or a rectangular nested list of numbers"),
    "ints": (
        lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (_int_list(v) and v != []),
        "an integer or a list of integers",
    ),
    "dims": (
        lambda v: (isinstance(v, int) and not isinstance(v, bool)) or _int_list(v),
        "null, an integer or a list of integers",
    ),
    "list": (
        lambda v: isinstance(v, list) and json_literal(v),
        "a list of literals (numbers, strings, lists)",
    ),
    "object": (
        lambda v: isinstance(v, dict) and json_literal(v),
        "an object of literals whose keys are Python names",
    ),
}


ACCEPTED_LIMIT = 10_000  # distinct accepted params remembered per node type
_PLAIN = frozenset({str, int, float, bool, type(None)})
_PLAIN_OR_LIST = _PLAIN | {list}
_SHORT_LIST = 8


def _params_key(params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """`params` as a hashable key that tells values of different types apart (1, 1.0 and True), or None
    when a value is not a plain scalar or a short list of them (those are checked every time)."""
    if type(params) is not dict:
        return None
    values = tuple(params.values())
    kinds = tuple(map(type, values))
    if not _PLAIN.issuperset(kinds):
        if not _PLAIN_OR_LIST.issuperset(kinds) or not all(
            len(v) <= _SHORT_LIST and _PLAIN.issuperset(map(type, v)) for v in values if type(v) is list
        ):
            return None
        values = tuple((tuple(map(type, v)), tuple(v)) if type(v) is list else v for v in values)
    return tuple(params), kinds, values


@dataclass(frozen=True)
class Example:
    """One valid configuration of a node type: the contract tests run it, so adding a type adds its tests.

    `shapes` has one entry per input port ("N" is the batch; None leaves an optional input
    unconnected). `values` says how to draw each input, away from kinks and outside domains: real,
    positive, unit (0..1), nonzero, spread (distinct values, no ties), spread2 (distinct from spread),
    sign (±1), probs (rows that sum to 1 over dim 1) or index:K (class indices below K).
    """

    params: Mapping[str, Any]
    shapes: tuple[Shape | None, ...]
    values: tuple[str, ...] = ()

    def value_kind(self, index: int) -> str:
        return self.values[index] if index < len(self.values) else "real"


@dataclass(frozen=True)
class TorchRule:
    """A torch call that a node type computes, read by `graphcore import-torch`.

    Exactly one of `function` (a function or operator, "torch.relu", "operator.add"), `method` (a
    Tensor method, "relu") or `module` (an nn.Module class, "torch.nn.ReLU") is given; functions and
    classes are named by dotted path, so declaring a rule does not import torch.

    Functions and methods give `signature`, the call's parameter list in torch's own names
    ("input, dim=None, keepdim=False"), and `rename` maps those names to the type's ports and params.
    An argument the type has no param for must keep its default, or the call is imported as an
    Opaque node. With `varargs` the last parameter also collects extra positionals (x.view(2, -1)).
    Modules give `read`: the type's params from the module's attributes, or None when the type
    cannot express that module. `count` names a param that records how many results the call
    returned where its arguments do not say (split by one size: the number of pieces); `scalars`
    maps a port to the param that holds a plain number passed for it (`x ** 2` is pow with
    exponent 2, not a Constant node feeding b).
    """

    function: str = ""
    method: str = ""
    module: str = ""
    signature: str = ""
    rename: Mapping[str, str] = field(default_factory=dict, hash=False)  # hash=False: a spec stays hashable
    varargs: bool = False
    read: Callable[[Any], dict[str, Any] | None] | None = None
    count: str = ""
    scalars: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if sum(map(bool, (self.function, self.method, self.module))) != 1:
            raise ValueError("a TorchRule names exactly one of function, method or module")
        if bool(self.module) != (self.read is not None):
            raise ValueError(f"TorchRule {self.key}: a module rule gives read, a call rule gives signature")

    @property
    def key(self) -> str:
        """What the rule matches, as a reader writes it: torch.relu, Tensor.relu, torch.nn.ReLU."""
        return self.function or self.module or f"Tensor.{self.method}"


# How a torch call's result maps to a type's output ports: "out", or a tuple such as
# ("out", ("h", "c")) for an LSTM's (out, (h, c)).
ResultPorts = str | tuple["ResultPorts", ...]

MAX_OUTPUTS = 64  # output ports a type may compute from its params (chunk's chunks): more is a typo


def numbered_outputs(count: int) -> tuple[str, ...]:
    """out0, out1, ...: the ports of a type with `count` outputs, as files and code name them."""
    return tuple(f"out{i}" for i in range(count))


@dataclass(frozen=True)
class NodeSpec:
    """Everything about one node type.

    `code` is the Python that computes the node. Its fields are the input ports (`{x}`), the params
    written with `!r` (`{dim!r}`) and, for layers, `{module}`. When it names an output port
    (`"{out}, {h} = {module}({x})"`) it is a statement, otherwise an expression. `code` may be a
    function of the params returning the template, to leave out arguments that have their defaults.
    Layers (kind "layer") also give `init`, the expression that builds their `nn.Module` in
    `__init__`; sources give `init` as a function of their params. `post_init` (a template, or a
    function of the params returning one) holds statements run right after the module is built, such
    as weight initialisation; `{module}` names the module there. `vjp`/`jvp` are optional
    hand-written local rules (declared where the formula is the lesson); without them torch.func
    differentiates `code`. `examples` draws valid configurations for the registry-driven tests.
    `editable` is False for types whose params record something rather than ask for it (an op
    imported from PyTorch): the app shows them read-only. `torch_rules` are the torch calls and
    modules the type computes, which `graphcore import-torch` maps to it; `torch_result` is how such
    a call's result maps to the output ports (default: the one port "out"), or a function of the
    params giving it. `output_ports`, when given, computes the output ports from the params (chunk's
    `chunks`, split's sections): `outputs` is then what the default params give, and every reader
    asks `outputs_for(params)`. It gets the params with defaults filled in, may assume they passed
    `param_problems`, and must return at most MAX_OUTPUTS ports.
    """

    type: str
    category: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    shape: Callable[..., Shape | tuple[Shape, ...]]
    code: str | Callable[..., str]
    doc: str
    formula: str = ""
    params: tuple[Param, ...] = ()
    kind: NodeKind = "op"
    init: str | Callable[[Mapping[str, Any]], str] = ""
    optional_inputs: tuple[str, ...] = ()
    vjp: Callable[..., tuple[Any, ...]] | None = None  # (cotangent, *tensors, **params)
    jvp: Callable[..., Any] | None = None  # (tangents, *tensors, **params)
    no_jvp_reason: str = ""
    # (params, training) -> whether no_jvp_reason holds there; None: it always does
    no_jvp_reason_applies: Callable[[Mapping[str, Any], bool], bool] | None = None
    aliases: tuple[str, ...] = ()
    helpers: str = ""  # module-level source the code needs (a function or class), emitted once
    post_init: str | Callable[[Mapping[str, Any]], str] = ""
    editable: bool = True
    torch_rules: tuple[TorchRule, ...] = ()
    torch_result: ResultPorts | Callable[[Mapping[str, Any]], ResultPorts] = "out"
    output_ports: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = field(default=None, compare=False)
    examples: Callable[[random.Random], Sequence[Example]] | None = field(default=None, compare=False)
    _accepted: set[tuple[Any, ...]] = field(default_factory=set, init=False, repr=False, compare=False)

    @property
    def is_source(self) -> bool:
        return self.kind in SOURCE_KINDS

    @property
    def returns_tuple(self) -> bool:
        """Whether its code and shape rule give a tuple, one entry per output (even a single one)."""
        return len(self.outputs) > 1 or self.output_ports is not None

    def outputs_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The output ports a node of this type has with `params`. Params that do not pass
        param_problems give `outputs` (validation reports them), so a typo never makes 10⁶ ports."""
        if self.output_ports is None:
            return self.outputs
        if self.param_problems(params):
            return self.outputs
        return self.output_ports(self.with_defaults(params))[:MAX_OUTPUTS]

    def result_ports(self, params: Mapping[str, Any]) -> ResultPorts:
        """How a torch call's result maps to the output ports of a node with `params`."""
        return (
            self.torch_result(self.with_defaults(params))
            if callable(self.torch_result)
            else self.torch_result
        )

    def template(self, params: Mapping[str, Any], connected: Collection[str] | None = None) -> str:
        """The code template. For a type with optional inputs, a `code` function also receives the
        connected input ports (default: all), so the generated call can leave the others out."""
        if not callable(self.code):
            return self.code
        if self.optional_inputs:
            return self.code(params, frozenset(self.inputs if connected is None else connected))
        return self.code(params)

    def jvp_refusal(self, params: Mapping[str, Any], training: bool) -> str:
        """Why forward mode is not available with these params in this mode; "" when it is. A layer
        that only draws random numbers while training (Dropout) has forward mode in evaluation."""
        if self.no_jvp_reason_applies is not None and not self.no_jvp_reason_applies(params, training):
            return ""
        return self.no_jvp_reason

    def post_init_template(self, params: Mapping[str, Any]) -> str:
        return self.post_init(params) if callable(self.post_init) else self.post_init

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def defaults(self) -> dict[str, Any]:
        return dict(self._defaults)

    @cached_property
    def _defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**self._defaults, **params}

    def param_problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(param, message) for each unknown, missing or out-of-range param. Params seen to be fine
        before are not checked again: loading checks each node's params and validating checks them again."""
        key = _params_key(params)
        if key is not None and key in self._accepted:
            return []
        known = {p.name for p in self.params}
        problems = [(name, f"{self.type} has no param {name!r}") for name in params if name not in known]
        full = self.with_defaults(params)
        for p in self.params:
            if (message := p.problem(full[p.name])) is not None:
                problems.append((p.name, message))
        if key is not None and not problems:
            if len(self._accepted) >= ACCEPTED_LIMIT:
                self._accepted.clear()
            self._accepted.add(key)
        return problems


Registry = Mapping[str, NodeSpec]

REGISTRY: dict[str, NodeSpec] = {}  # empty until an entry point calls load_library()

NO_LIBRARY = "no node library loaded: call graphcore.load_library()"


class NoLibraryError(RuntimeError):
    """A file was read with an empty registry: the caller forgot to load the node library."""


def register(spec: NodeSpec, registry: dict[str, NodeSpec] | None = None) -> NodeSpec:
    """Add `spec` to `registry` (the global REGISTRY by default, where `nodes/` declares its types)."""
    registry = REGISTRY if registry is None else registry
    if spec.type in registry:
        raise ValueError(f"node type {spec.type!r} is registered twice")
    registry[spec.type] = spec
    return spec


def load_library() -> dict[str, NodeSpec]:
    """Register the built-in node library (`nodes/`) in REGISTRY and return it.

    The entry points call this: the CLI's main, the app, the tests' conftest, and scripts
    (`import graphcore; graphcore.load_library()`). graphcore functions never do: they take the
    registry they read, defaulting to REGISTRY."""
    import nodes  # noqa: F401  (registers every family)

    return REGISTRY


def require_library(registry: Registry) -> None:
    """Raise NoLibraryError when `registry` is empty, before it makes every node a placeholder."""
    if not registry:
        raise NoLibraryError(NO_LIBRARY)


# Shape helpers shared by node families.


def same_shape(x: Shape, **_: Any) -> Shape:
    return x


def broadcast(a: Shape, b: Shape, **_: Any) -> Shape:
    """numpy/torch broadcasting; a symbolic dim matches itself, 1, or a concrete size."""
    out: list[Dim] = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        elif isinstance(da, str) or isinstance(db, str):
            out.append(db if isinstance(da, str) else da)
        else:
            raise ShapeError(f"cannot broadcast {list(a)} with {list(b)}: dim -{i} is {da} vs {db}")
    return tuple(reversed(out))


def same_dim(a: Dim, b: Dim) -> bool:
    """Equal sizes, or a symbolic size on either side (checked when the batch is known)."""
    return a == b or isinstance(a, str) or isinstance(b, str)


def dim_product(dims: Sequence[Dim]) -> Dim:
    """The number of elements of `dims`: an int, or an expression such as "N*12" when symbolic."""
    size, symbols = 1, []
    for d in dims:
        if isinstance(d, str):
            symbols.append(d if d.isidentifier() else f"({d})")
        else:
            size *= d
    if not symbols:
        return size
    return "*".join(symbols if size == 1 else [*symbols, str(size)])


def call_template(
    function: str,
    params: Sequence[Param],
    positional: Sequence[str],
    keywords: Sequence[str] = (),
    tail: str = "",
    always: Sequence[str] = (),
) -> Callable[[Mapping[str, Any]], str]:
    """A template `function(x, 3, k=...)`: ports as fields, params with !r. A keyword is left out when
    its param has its default (which must then be torch's), unless it is in `always`, so generated
    code reads like hand-written torch."""
    known = {p.name: p for p in params}

    def template(values: Mapping[str, Any]) -> str:
        args = [f"{{{name}!r}}" if name in known else f"{{{name}}}" for name in positional]
        args += [
            f"{name}={{{name}!r}}"
            for name in keywords
            if name in always or values[name] != known[name].default
        ]
        return f"{function}({', '.join([*args, *([tail] if tail else [])])})"

    return template


def show(shape: Shape) -> str:
    """A shape as users read it: [N, 3]; [] for a scalar."""
    return "[" + ", ".join(map(str, shape)) + "]"
