"""The machinery behind `graphcore import-torch`'s mapping of torch calls to node types.

Each node type declares the torch calls it computes (`NodeSpec.torch_rules`, in `nodes/`); this
module turns those declarations into lookup tables (`tables`) and binds a call's arguments to the
type's ports and params (`Rule.bind`). Arguments the type has no param for must keep their
defaults, or the rule does not apply and the call is imported as an Opaque node. Module rules read
params from the module's attributes (`attributes`, `compact`).
"""

from __future__ import annotations

import ast
import functools
import importlib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore.registry import NodeSpec, ResultPorts, TorchRule

REQUIRED = object()


@dataclass(frozen=True)
class Rule:
    """A call `f(names...)` computed by node type `type`; `*name` collects extra positionals."""

    type: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    varargs: str | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    count: str = ""  # the param that records how many results the call returned (TorchRule.count)
    scalars: Mapping[str, str] = field(default_factory=dict)  # port -> the param a plain number goes to

    def bind(self, args: list[Any], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Argument name (renamed) -> value, as Python binds the call; None when it does not fit."""
        bound: dict[str, Any] = {}
        extra = []
        for index, value in enumerate(args):
            if index < len(self.names):
                bound[self.names[index]] = value
            elif self.varargs:
                extra.append(value)
            else:
                return None
        for key, value in kwargs.items():
            if key not in self.names or key in bound:
                return None
            bound[key] = value
        for name in self.names:
            if name not in bound:
                if self.defaults.get(name, REQUIRED) is REQUIRED:
                    return None
                bound[name] = self.defaults[name]
        if extra and self.varargs:  # x.view(2, -1) as x.view((2, -1))
            bound[self.varargs] = [bound[self.varargs], *extra]
        return {self.rename.get(k, k): v for k, v in bound.items()}


X = {"input": "x", "self": "x"}  # the usual renames: a one-tensor call's argument is port x
AB = {"input": "a", "self": "a", "other": "b"}  # a two-tensor call's are ports a and b


def function_and_method(name: str, parameters: str, rename: Mapping[str, str]) -> tuple[TorchRule, TorchRule]:
    """`torch.NAME(input, ...)` and `tensor.NAME(...)`, both taking `parameters` after the tensor."""
    after = f", {parameters}" if parameters else ""
    return (
        TorchRule(function=f"torch.{name}", signature=f"input{after}", rename=rename),
        TorchRule(method=name, signature=f"self{after}", rename=rename),
    )


def resolve(path: str) -> Any:
    """The object a dotted path names: "torch.nn.functional.relu", "operator.add"."""
    head, *rest = path.split(".")
    found: Any = importlib.import_module(head)
    for part in rest:
        found = getattr(found, part)
    return found


@functools.cache
def _signature(signature: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    function = ast.parse(f"def f({signature}): pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    names = [a.arg for a in [*function.args.args, *function.args.kwonlyargs]]
    positional = function.args.args
    defaults = {
        a.arg: ast.literal_eval(d)
        for a, d in zip(positional[len(positional) - len(function.args.defaults) :], function.args.defaults)
    }
    defaults.update(
        {
            a.arg: ast.literal_eval(d)
            for a, d in zip(function.args.kwonlyargs, function.args.kw_defaults)
            if d is not None
        }
    )
    return tuple(names), defaults


def rule(
    type_: str,
    signature: str,
    varargs: bool = False,
    count: str = "",
    scalars: Mapping[str, str] | None = None,
    **rename: str,
) -> Rule:
    """A rule from a Python parameter list: `rule("sum", "input, dim=None, keepdim=False", input="x")`."""
    names, defaults = _signature(signature)
    return Rule(
        type_, names, dict(defaults), names[-1] if varargs else None, rename, count, dict(scalars or {})
    )


ModuleReader = Callable[[Any], dict[str, Any] | None]


@dataclass(frozen=True)
class TorchTables:
    """The node library's torch rules as lookup tables: what the importer matches fx nodes against."""

    functions: dict[Any, Rule]  # function or operator -> rule
    methods: dict[str, Rule]  # Tensor method name -> rule
    modules: dict[type, tuple[str, ModuleReader]]  # nn.Module class -> (node type, param reader)
    results: dict[
        str, ResultPorts | Callable[[Mapping[str, Any]], ResultPorts]
    ]  # node type -> NodeSpec.torch_result


def tables(registry: Mapping[str, NodeSpec]) -> TorchTables:
    """Every `torch_rules` entry of `registry`, resolved; a call two types claim is a declaration error."""
    found = TorchTables({}, {}, {}, {})
    claimed: dict[tuple[str, Any], str] = {}  # (kind, call) -> the type that claims it
    for spec in registry.values():
        if spec.torch_result != "out":
            found.results[spec.type] = spec.torch_result
        for declared in spec.torch_rules:
            key: Any = declared.method or resolve(declared.function or declared.module)
            kind = "method" if declared.method else "function" if declared.function else "module"
            if (kind, key) in claimed:
                raise ValueError(f"{declared.key} is claimed by both {claimed[kind, key]} and {spec.type}")
            claimed[kind, key] = spec.type
            if declared.read is not None:
                found.modules[key] = (spec.type, declared.read)
                continue
            made = rule(
                spec.type,
                declared.signature,
                declared.varargs,
                declared.count,
                declared.scalars,
                **declared.rename,
            )
            if declared.method:
                found.methods[key] = made
            else:
                found.functions[key] = made
    return found


# Python operators on tensors, as the torch functions they call (what an Opaque node may record)
OPERATORS = {
    operator.gt: "torch.gt",
    operator.ge: "torch.ge",
    operator.lt: "torch.lt",
    operator.le: "torch.le",
    operator.eq: "torch.eq",
    operator.ne: "torch.ne",
    operator.mod: "torch.remainder",
    operator.floordiv: "torch.floor_divide",
    operator.and_: "torch.bitwise_and",
    operator.or_: "torch.bitwise_or",
    operator.xor: "torch.bitwise_xor",
    operator.invert: "torch.bitwise_not",
    operator.pow: "torch.pow",
    operator.truediv: "torch.div",
    operator.mul: "torch.mul",
    operator.add: "torch.add",
    operator.sub: "torch.sub",
    operator.matmul: "torch.matmul",
    operator.neg: "torch.neg",
}


# Calls that compute their argument unchanged: the importer wires around them.
IDENTITY_METHODS = {"contiguous"}


def compact(value: Any) -> Any:
    """(3, 3) as 3, as a user writes it: torch takes one int for every dimension alike."""
    if isinstance(value, tuple | list):
        return value[0] if len(set(value)) == 1 else list(value)
    return value


def attributes(*names: str, **renamed: str) -> ModuleReader:
    """A module reader: params named as the module's attributes (renamed: param=attribute)."""

    def read(module: Any) -> dict[str, Any]:
        values = {name: getattr(module, name) for name in names}
        values.update({param: getattr(module, attribute) for param, attribute in renamed.items()})
        return {k: compact(v) for k, v in values.items()}

    return read


def no_params(module: Any) -> dict[str, Any]:
    """The reader of a module with nothing to read (nn.ReLU)."""
    return {}
