"""The graph an fx trace describes: one pass over the traced nodes, with the values of example runs.

A value the trace computes is a `Ref` (a tensor the graph computes, at an output port), a `Static`
(anything else: sizes, dtypes, constants, one value per example run), a tuple of those (a layer's
(out, h)), or `Pending` (the tuple result of an Opaque call, split by the getitems that use it).
Comparing the runs, which differ only in their symbolic sizes, tells which integers follow the
batch (`Varying`) and which sizes of a shape are symbolic.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphcore._torch import torch
from graphcore.exchange.torch_ops import IDENTITY_METHODS, OPERATORS, Rule, TorchTables
from graphcore.graph import Graph, Node, PortRef, output_ports
from graphcore.registry import Registry, dim_product

COLUMN, ROW = 220.0, 140.0


class ImportTorchError(ValueError):
    """A module that cannot be imported; the message is one line saying what and where."""


@dataclass
class ImportResult:
    graph: Graph
    opaque: list[tuple[str, str]] = field(default_factory=list)  # (node id, torch call) with no node type
    notes: list[str] = field(default_factory=list)
    layers: dict[str, str] = field(default_factory=dict)  # layer node id -> the module's submodule name
    attributes: dict[str, str] = field(
        default_factory=dict
    )  # Parameter/Constant node id -> its tensor's name
    returned: list[str] = field(default_factory=list)  # the values forward returns ("node.port"), in order
    # (scope, node id) -> (class, the name its code gives the node: `x`, `self.fc1`, `h1`); scope ""
    # is the graph, else a block definition's name (graphcore.exchange.import_nodes)
    code_names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ref:
    """A tensor the graph computes: the output port that holds it."""

    port: str


@dataclass(frozen=True)
class Static:
    """A value that is no tensor of the graph, once per example run (runs differ in their sizes)."""

    runs: tuple[Any, ...]


@dataclass(frozen=True)
class Varying:
    """An integer that follows a symbolic size: -1 in a reshape, else its first run's value."""

    value: int


@dataclass(frozen=True)
class Pending:
    """A tuple result of an Opaque call: each element used becomes an Opaque node with `item`."""

    call: Any  # the fx node


REDUCE_ALONG = Rule("", ("input", "dim", "keepdim"), {"keepdim": False})  # torch.max(x, dim, keepdim)
VALUES_READS = {(operator.getitem, 0), (getattr, "values")}  # what x.max(dim) may be read by


class _NotLiteral(Exception):
    """An argument a graph file cannot record as a literal."""


def module_params(module: Any, registry: Registry, rules: TorchTables) -> tuple[str, dict[str, Any]] | None:
    """The node type and params that compute `module`, or None when no type can."""
    found = rules.modules.get(type(module))
    if found is None:
        return None
    params = found[1](module)
    if params is None or registry[found[0]].param_problems(params):
        return None
    return found[0], params


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Size | tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, torch.dtype):
        raise _NotLiteral()
    return value


def merge_runs(runs: tuple[Any, ...]) -> Any:
    """One value for all runs: the shared one, with Varying where an integer follows a size."""
    first, rest = _jsonable(runs[0]), [_jsonable(r) for r in runs[1:]]
    if all(r == first for r in rest):
        return first
    if isinstance(first, list) and all(isinstance(r, list) and len(r) == len(first) for r in rest):
        return [merge_runs((f, *(r[i] for r in rest))) for i, f in enumerate(first)]
    if isinstance(first, int) and not isinstance(first, bool):
        return Varying(first)
    raise _NotLiteral()


def symbolic_shape(shapes: list[tuple[int, ...]], symbols: list[str], batch: int) -> list[Any]:
    """A shape from its sizes over the runs: a size that follows symbols s and t is "s*t" (or "s*t*k").

    Run 0 has every symbol at `batch`; run i has symbol i-1 at batch + 1."""
    result: list[Any] = []
    for i, base in enumerate(shapes[0]):
        present = [s for s, shape in zip(symbols, shapes[1:]) if shape[i] != base]
        factor, rest = divmod(base, batch ** len(present))
        for symbol, shape in zip(symbols, shapes[1:]):
            if shape[i] != base and (rest or shape[i] * batch != base * (batch + 1)):
                raise ImportTorchError(f"a size {base} changes with {symbol} in a way a shape cannot say")
        result.append(dim_product([*present, factor]) if present else base)
    return result


class Builder:
    """Walks the traced graph once, adding a graph node for each fx node that computes a tensor."""

    def __init__(
        self,
        gm: Any,
        runs: list[dict[Any, Any]],
        inputs: Mapping[str, Any],
        symbols: list[str],
        batch: int,
        source: Path,
        helpers: Mapping[Any, Rule],
        registry: Registry,
        rules: TorchTables,
    ) -> None:
        self.gm, self.runs, self.inputs, self.helpers = gm, runs, inputs, helpers
        self.registry, self.rules = registry, rules
        self.symbols, self.batch, self.source = symbols, batch, source.resolve()
        self.graph = Graph()
        self.result = ImportResult(self.graph)
        self.env: dict[Any, Any] = {}
        self.values: dict[Ref, tuple[Any, ...]] = {}  # a graph tensor's value in each run
        self.origins: dict[str, Any] = {}  # graph node -> the fx node it was made for
        self.current: Any = None

    def build(self) -> ImportResult:
        for n in self.gm.graph.nodes:
            self.current = n
            self.env[n] = value = getattr(self, f"on_{n.op}")(n)
            self.remember(value, tuple(run.get(n) for run in self.runs))
        lay_out(self.graph)
        return self.result

    def remember(self, value: Any, runs: tuple[Any, ...]) -> None:
        if isinstance(value, Ref):
            self.values.setdefault(value, runs)
        elif isinstance(value, tuple):
            for i, element in enumerate(value):
                self.remember(element, tuple(r[i] for r in runs))

    def where(self, n: Any) -> str:
        frames = re.findall(r'File "([^"]+)", line (\d+)', n.stack_trace or "")
        mine = [f"{Path(f).name}:{line}" for f, line in frames if Path(f).resolve() == self.source]
        return f" ({mine[-1]})" if mine else ""

    def add(self, hint: str, type_: str, params: dict[str, Any]) -> str:
        node_id = self.graph.unique_id(re.sub(r"\W", "_", hint) or "node")
        self.graph.add_node(Node(node_id, type_, params))
        self.origins[node_id] = self.current
        return node_id

    def connect(self, value: Any, node_id: str, port: str) -> None:
        ref = value if isinstance(value, Ref) else self.constant(value, f"{node_id}_{port}")
        self.graph.connect(PortRef.parse(ref.port), PortRef(node_id, port))

    def constant(self, value: Any, hint: str) -> Ref:
        """A number or tensor that the graph does not compute, as a Constant node."""
        if isinstance(value, Static) and _is_integer_tensor(value.runs[0]):
            return self.integer_input(value, hint)
        if isinstance(value, Static):
            shapes = {tuple(torch.as_tensor(v).shape) for v in value.runs}
            if len(shapes) > 1:
                self.result.notes.append(
                    f"{hint}: a tensor whose shape follows the batch is fixed to {value.runs[0].shape}"
                )
            value = value.runs[0]
        tensor = torch.as_tensor(value)
        data = shortest(tensor)
        if tensor.dtype == torch.bool or not isinstance(data, int | float | list):
            raise ImportTorchError(f"{hint}: cannot use {value!r} as a tensor")
        if isinstance(value, torch.Tensor) and not tensor.is_floating_point():
            self.result.notes.append(f"{hint}: an integer tensor, imported as a float Constant")
        ref = Ref(f"{self.add(hint, 'Constant', {'value': data})}.out")
        self.values[ref] = (tensor,) * len(self.runs)
        return ref

    def integer_input(self, value: Static, hint: str) -> Ref:
        """An integer tensor forward computes from no input (`torch.arange(t)` for positions) as an Input
        of dtype long holding its value: a Constant holds floats, which an Embedding refuses."""
        tensor = value.runs[0]
        shapes = {tuple(run.shape) for run in value.runs}
        fixed = f", its shape fixed to {list(tensor.shape)}" if len(shapes) > 1 else ""
        self.result.notes.append(
            f"{hint}: an integer tensor forward computes, imported as a long Input{fixed}"
        )
        params = {"shape": list(tensor.shape), "value": tensor.tolist(), "dtype": "long"}
        ref = Ref(f"{self.add(hint, 'Input', params)}.out")
        self.values[ref] = (tensor,) * len(self.runs)
        return ref

    def encode(self, arg: Any, refs: list[Ref] | None) -> Any:
        """An argument as JSON: a graph tensor is {"input": k}, the k-th of `refs` (None: not allowed)."""
        if isinstance(arg, torch.fx.Node):
            value = self.env[arg]
            tensor = isinstance(value, Ref) or (
                isinstance(value, Static) and isinstance(value.runs[0], torch.Tensor)
            )
            if tensor and refs is None:  # a param takes literals only
                raise _NotLiteral()
            if isinstance(value, Static) and isinstance(value.runs[0], torch.Tensor):
                value = self.constant(value, f"{arg.name}_value")
            if isinstance(value, Ref):
                assert refs is not None  # a tensor with refs None raised above
                if value not in refs:
                    refs.append(value)
                return {"input": refs.index(value)}
            if isinstance(value, Static):
                return merge_runs(value.runs)
            raise _NotLiteral()
        if isinstance(arg, list | tuple):
            return [self.encode(a, refs) for a in arg]
        if isinstance(arg, dict):
            return {k: self.encode(v, refs) for k, v in arg.items()}
        if arg is None or isinstance(arg, bool | int | float | str):
            return arg
        raise _NotLiteral()

    def fixed(self, value: Any, n: Any) -> Any:
        """Varying sizes as their first run's value, with a note."""
        if isinstance(value, Varying):
            self.result.notes.append(
                f"{n.name}{self.where(n)}: a size that follows {' or '.join(self.symbols)} is fixed to "
                f"{value.value}"
            )
            return value.value
        if isinstance(value, list):
            return [self.fixed(v, n) for v in value]
        if isinstance(value, dict):
            return {k: self.fixed(v, n) for k, v in value.items()}
        return value

    # --- fx nodes -------------------------------------------------------------------------------

    def on_placeholder(self, n: Any) -> Any:
        if n.target not in self.inputs:  # an argument left at its default (`targets=None`)
            return Static(tuple(run[n] for run in self.runs))
        return Ref(f"{self.add(n.target, 'Input', dict(self.inputs[n.target]))}.out")

    def on_get_attr(self, n: Any) -> Ref | None:
        if not n.users:  # read while tracing (a layer's bias, to see whether it has one) but never used
            return None
        tensor = self.gm
        for part in n.target.split("."):
            tensor = getattr(tensor, part)
        if isinstance(tensor, torch.nn.Parameter) and tensor.requires_grad:
            params = {"shape": list(tensor.shape), "init": "value", "value": shortest(tensor)}
            ref = Ref(f"{self.add(n.name, 'Parameter', params)}.out")
        else:
            ref = self.constant(tensor, n.name)
        self.result.attributes[PortRef.parse(ref.port).node] = n.target
        return ref

    def on_output(self, n: Any) -> None:
        for value in returned_values(n.args[0], self.env):
            if isinstance(value, Ref):
                self.result.returned.append(value.port)
            else:
                self.result.notes.append(f"forward returns {value!r}, which is no tensor the graph computes")

    def on_call_module(self, n: Any) -> Any:
        module = self.gm.get_submodule(n.target)
        type_, params = module_params(module, self.registry, self.rules)  # type: ignore[misc]
        spec = self.registry[type_]
        ports = dict(zip(spec.inputs, n.args))
        for key, value in n.kwargs.items():
            key = {"hx": spec.inputs[1] if len(spec.inputs) > 1 else key, "input": "x"}.get(key, key)
            if key in spec.inputs:
                ports[key] = value
            elif value not in (None, True) or key not in ("need_weights", "key_padding_mask", "attn_mask"):
                raise ImportTorchError(
                    f"{n.name}{self.where(n)}: {type(module).__name__} with {key}={value!r}"
                )
        if type_ == "LSTM" and isinstance(ports.get("h0"), tuple | list):
            ports["h0"], ports["c0"] = ports["h0"]
        if len(n.args) > len(spec.inputs):
            raise ImportTorchError(
                f"{n.name}{self.where(n)}: {type(module).__name__} with more arguments than ports"
            )
        node_id = self.add(n.name, type_, params)
        if spec.kind == "layer":
            self.result.layers[node_id] = n.target
        for port, arg in ports.items():
            if arg is not None:
                self.connect(self.env[arg] if isinstance(arg, torch.fx.Node) else arg, node_id, port)
        return self.outputs(node_id, type_, params)

    def outputs(self, node_id: str, type_: str, params: Mapping[str, Any]) -> Any:
        def refs(ports: Any) -> Any:
            return tuple(refs(p) for p in ports) if isinstance(ports, tuple) else Ref(f"{node_id}.{ports}")

        return refs(self.registry[type_].result_ports(params))

    def on_call_method(self, n: Any) -> Any:
        return self.on_call_function(n)

    def on_call_function(self, n: Any) -> Any:
        first = self.env.get(n.args[0]) if n.args and isinstance(n.args[0], torch.fx.Node) else None
        if n.target is operator.getitem and isinstance(first, tuple | Pending):
            index = n.args[1]
            return first[index] if isinstance(first, tuple) else self.opaque(first.call, index, n.name)
        if not _holds_tensor(self.runs[0][n]) or not any(
            isinstance(self.env.get(a), Ref | Pending | tuple) for a in n.all_input_nodes
        ):
            return Static(tuple(run[n] for run in self.runs))
        if n.op == "call_method" and n.target in IDENTITY_METHODS:
            return first
        if n.target is operator.getitem and isinstance(first, Ref):
            return self.index(n, first)
        if n.target is getattr and isinstance(first, tuple) and n.args[1] == "values":
            return first[0]  # x.max(dim).values
        if isinstance(first, Ref) and (self.converts_to_own_dtype(n, first) or self.read_as_mask(n)):
            return first
        if isinstance(first, Ref) and (values := self.values_only(n, first)) is not None:
            return values
        if isinstance(first, Ref) and (narrowed := self.narrowed_to_size(n, first)) is not None:
            return narrowed
        rule = (self.rules.methods if n.op == "call_method" else self.rules.functions).get(n.target)
        rule = self.helpers.get(n.target, rule)
        mapped = self.apply(rule, n) if rule is not None else None
        method = self.rules.methods.get(getattr(n.target, "__name__", ""))
        if mapped is None and method is not None and getattr(torch, n.target.__name__, None) is n.target:
            mapped = self.apply(method, n)  # torch.max(x, 1) is x.max(1)
        if mapped is None and n.op == "call_method" and n.target == "type_as":
            mapped = self.apply(self.rules.methods["float"], n)
        return mapped if mapped is not None else self.opaque(n)

    def converts_to_own_dtype(self, n: Any, source: Ref) -> bool:
        """x.float(), x.type_as(y), x.to(dtype) where x has that dtype already: no node, in any dtype the
        graph runs in (a graph's float tensors follow its dtype)."""
        if n.op != "call_method" or n.target not in ("float", "double", "half", "type_as", "to", "type"):
            return False
        before, after = self.values[source][0], self.runs[0][n]
        return isinstance(after, torch.Tensor) and (
            before.dtype == after.dtype or (before.is_floating_point() and after.is_floating_point())
        )

    @staticmethod
    def read_as_mask(n: Any) -> bool:
        """m.bool() read only as masked_fill's mask or where's condition: those nodes test m ≠ 0
        themselves, so the cast is no node (an exported graph writes it for an integer mask)."""
        if n.op != "call_method" or n.target != "bool" or not n.users:
            return False
        return all(
            (u.op == "call_method" and u.target == "masked_fill" and u.args[1:2] == (n,))
            or (u.target is torch.where and u.args[:1] == (n,))
            for u in n.users
        )

    def values_only(self, n: Any, source: Ref) -> Ref | tuple[Ref] | None:
        """x.max(dim) and x.min(dim) give (values, indices); when only the values are read, they are
        the max or min reduction along dim (torch.amax)."""
        name = n.target if n.op == "call_method" else getattr(n.target, "__name__", "")
        if name not in ("max", "min") or getattr(torch, name) is not n.target and n.op != "call_method":
            return None
        if not isinstance(self.runs[0][n], tuple):
            return None  # x.max(): one tensor, the reduction over everything
        reads = [(u.target, u.args[1] if len(u.args) > 1 else None) for u in n.users]
        if any(r not in VALUES_READS for r in reads):
            return None
        bound = REDUCE_ALONG.bind(list(n.args), dict(n.kwargs))
        if bound is None or not all(isinstance(bound[k], int) for k in ("dim", "keepdim")):
            return None
        node_id = self.add(n.name, name, {"dim": bound["dim"], "keepdim": bool(bound["keepdim"])})
        self.connect(source, node_id, "x")
        return (Ref(f"{node_id}.out"),)

    def apply(self, rule: Rule, n: Any) -> Any:
        """The node `rule` names, or None when the call says more than that type can."""
        bound = rule.bind(list(n.args), dict(n.kwargs))
        if bound is None:
            return None
        spec = self.registry[rule.type]
        if "tensors" in bound:  # cat and stack: one port per tensor, in order (more than fit: Opaque)
            tensors = bound.pop("tensors")
            tensors = [tensors] if isinstance(tensors, torch.fx.Node) else tensors  # einsum("ij->ji", x)
            required = len(spec.inputs) - len(spec.optional_inputs)
            if not isinstance(tensors, list | tuple) or not required <= len(tensors) <= len(spec.inputs):
                return None
            bound.update(zip(spec.inputs, tensors))
        names = {p.name for p in spec.params}
        ports: dict[str, Any] = {}
        params: dict[str, Any] = {}
        try:
            for name, value in bound.items():
                if name in spec.inputs:
                    if value is None and name in spec.optional_inputs:
                        continue  # F.layer_norm(x, shape, weight=None)
                    value = self.env[value] if isinstance(value, torch.fx.Node) else value
                    if not isinstance(value, Ref | Static | int | float) or isinstance(value, bool):
                        return None
                    if name in rule.scalars and isinstance(value, int | float):  # x ** 2: a param
                        params[rule.scalars[name]] = value
                        continue
                    ports[name] = value
                elif name in names:
                    params[name] = self.encode(value, None)
                elif isinstance(value, torch.fx.Node) or value != rule.defaults.get(name, object()):
                    return None
        except _NotLiteral:
            return None
        type_ = rule.type
        if type_ in ("reshape", "view") and isinstance(params["shape"], int):
            params["shape"] = [params["shape"]]  # x.view(-1)
        if type_ in ("reshape", "view") and any(isinstance(d, Varying) for d in params["shape"]):
            # view(x.size(0), -1): the sizes of the result, with -1 where the batch goes
            shape = symbolic_shape([tuple(run[n].shape) for run in self.runs], self.symbols, self.batch)
            if sum(isinstance(d, str) for d in shape) != 1:
                return None
            params["shape"] = [-1 if isinstance(d, str) else d for d in shape]
        if type_ == "masked_fill" and isinstance(params["value"], float) and math.isinf(params["value"]):
            params = {"value": 0.0, "fill": "-inf" if params["value"] < 0 else "inf"}  # files hold no ±inf
        if type_ == "layer_norm" and isinstance(dims := params["normalized_shape"], list) and len(dims) == 1:
            params["normalized_shape"] = dims[0]  # (k,): one size, as the LayerNorm layer's reader writes it
        if type_ == "norm":
            params = norm_order(params)
        if type_ == "flatten" and params.get("start_dim") == 1 and params.get("end_dim") == -1:
            type_ = "Flatten"  # torch.flatten(x, 1): what the Flatten node writes
        params = self.fixed(params, n)
        result = self.runs[0][n]
        if rule.count and isinstance(result, tuple | list) and len(spec.outputs_for(params)) != len(result):
            params[rule.count] = len(result)  # split by one size: the pieces the call made
        if self.registry[type_].param_problems(params):
            return None
        ports_of_result = self.registry[type_].result_ports(params)
        if not isinstance(ports_of_result, str) and len(result) != len(ports_of_result):
            return None
        node_id = self.add(n.name, type_, params)
        for port, value in ports.items():
            self.connect(value, node_id, port)
        return self.outputs(node_id, type_, params)

    def index(self, n: Any, source: Ref) -> Ref:
        """x[i], x[a:b], x[::2], x[None], x[..., i], x[[0, 2]]: one select, narrow, index_select or
        unsqueeze node per key, left to right, each on the dimension the key reaches."""
        raw = n.args[1] if isinstance(n.args[1], tuple) else (n.args[1],)
        keys = [self.index_key(key, n) for key in raw]
        shapes = [list(value.shape) for value in self.values[source]]  # the indexed value, in each run
        if keys.count(Ellipsis) > 1 or len(shapes[0]) < sum(
            k is not None and k is not Ellipsis for k in keys
        ):
            raise ImportTorchError(
                f"{n.name}{self.where(n)}: indexing with {raw!r} has more keys than dimensions"
            )
        if Ellipsis in keys:
            at = keys.index(Ellipsis)
            keys[at : at + 1] = [slice(None)] * (len(shapes[0]) - len(keys) + 1 + keys.count(None))
        value, dim = source, 0
        sized = self.sizes_in_slices(raw, len(keys))
        for position, key in enumerate(keys):
            if position in sized:  # x[:T] with T a traced size: as many entries as that tensor has
                like, like_dim = sized[position]
                node_id = self.add(n.name, "narrow_to", {"dim": dim, "like_dim": like_dim})
                self.connect(value, node_id, "x")
                self.connect(like, node_id, "like")
                value = Ref(f"{node_id}.out")
                for shape, run in zip(shapes, self.values[like]):
                    shape[dim] = min(shape[dim], run.shape[like_dim])
                dim += 1
                continue
            if isinstance(key, slice):
                key = slice(*(self.fixed(k, n) for k in (key.start, key.stop, key.step)))
            key = self.fixed(key, n)
            step = self.index_step(key, dim, [shape[dim] if dim < len(shape) else 0 for shape in shapes], n)
            if step is not None:
                node_id = self.add(n.name, *step)
                self.connect(value, node_id, "x")
                value = Ref(f"{node_id}.out")
            for shape in shapes:
                if key is None:
                    shape.insert(dim, 1)
                elif isinstance(key, int):
                    del shape[dim]
                else:
                    shape[dim] = len(range(shape[dim])[key]) if isinstance(key, slice) else len(key)
            dim += not isinstance(key, int)
        return value

    def narrowed_to_size(self, n: Any, source: Ref) -> Ref | None:
        """torch.narrow(x, dim, 0, like.size(d)), as a narrow_to export writes it: narrow_to, so the
        length keeps following like's size."""
        if getattr(n.target, "__name__", n.target) != "narrow" or n.kwargs or len(n.args) != 4:
            return None
        _, dim, start, length = n.args
        sized = self.size_source(length)
        if sized is None or start != 0 or not isinstance(dim, int):
            return None
        node_id = self.add(n.name, "narrow_to", {"dim": dim, "like_dim": sized[1]})
        self.connect(source, node_id, "x")
        self.connect(sized[0], node_id, "like")
        return Ref(f"{node_id}.out")

    def sizes_in_slices(self, raw: tuple[Any, ...], count: int) -> dict[int, tuple[Ref, int]]:
        """Key position -> (tensor, dim) for each `:T` key whose stop is a traced tensor's size
        (`T = x.size(2)`, `B, H, T, _ = x.size()`, `x.shape[2]`) that follows the symbolic sizes;
        positions count as in `keys` (no Ellipsis before them)."""
        if Ellipsis in raw and raw.index(Ellipsis) < len(raw) - 1:
            return {}
        found = {}
        for position, key in enumerate(raw[:count]):
            if not isinstance(key, slice) or key.start not in (None, 0) or key.step not in (None, 1):
                continue
            source = self.size_source(key.stop)
            if source is not None and isinstance(merge_runs(self.env[key.stop].runs), Varying):
                found[position] = source
        return found

    def size_source(self, node: Any) -> tuple[Ref, int] | None:
        """(tensor, dim) when `node` is the size of a graph tensor along a fixed dim, else None."""
        if not isinstance(node, torch.fx.Node) or not isinstance(self.env.get(node), Static):
            return None
        tensor: Any
        dim: Any
        if node.op == "call_method" and node.target == "size" and len(node.args) == 2:
            tensor, dim = node.args
        elif node.target is operator.getitem and isinstance(node.args[0], torch.fx.Node):
            whole: Any = node.args[0]
            dim = node.args[1]
            shape_of = whole.op == "call_method" and whole.target == "size" and len(whole.args) == 1
            shape_attr = whole.target is getattr and whole.args[1:] == ("shape",)
            if not (shape_of or shape_attr):
                return None
            tensor = whole.args[0]
        else:
            return None
        ref = self.env.get(tensor) if isinstance(tensor, torch.fx.Node) else None
        return (ref, dim) if isinstance(ref, Ref) and isinstance(dim, int) else None

    def index_key(self, key: Any, n: Any) -> Any:
        """One key of an index with its traced sizes as numbers (a Varying where they change)."""
        if isinstance(key, slice):
            return slice(*(self.index_key(k, n) for k in (key.start, key.stop, key.step)))
        if isinstance(key, torch.fx.Node):
            found = self.env[key]
            if not isinstance(found, Static) or _holds_tensor(found.runs[0]):
                raise ImportTorchError(
                    f"{n.name}{self.where(n)}: indexing by a tensor (x[mask], x[indices]) has no node type: "
                    "use torch.gather or torch.masked_select"
                )
            try:
                return merge_runs(found.runs)
            except _NotLiteral:
                raise ImportTorchError(
                    f"{n.name}{self.where(n)}: an index {key.name} that is no number"
                ) from None
        if isinstance(key, list | tuple):
            if not all(isinstance(k, int) and not isinstance(k, bool) for k in key):
                raise ImportTorchError(f"{n.name}{self.where(n)}: indexing with {key!r}: a list of ints only")
            return list(key)
        return key

    def index_step(self, key: Any, dim: int, sizes: list[int], n: Any) -> tuple[str, dict[str, Any]] | None:
        """The node type and params that apply one key at `dim` (of `sizes` in the runs); None: none."""
        if key is None:
            return "unsqueeze", {"dim": dim}
        if isinstance(key, int):
            return "select", {"dim": dim, "index": key}
        if isinstance(key, list):
            return "index_select", {"dim": dim, "index": key}
        if key == slice(None):
            return None
        if isinstance(key.start, int) and key.start < 0 and key.stop is None and key.step in (None, 1):
            return "narrow", {"dim": dim, "start": key.start, "length": -key.start}  # x[-3:] at any size
        picked = {tuple(range(size)[key]) for size in sizes}
        if len(picked) > 1:
            raise ImportTorchError(
                f"{n.name}{self.where(n)}: the slice {key} of a dimension whose size changes with the "
                "symbolic sizes picks different entries at different sizes"
            )
        entries = list(picked.pop())
        if key.step in (None, 1):
            start, stop, _ = key.indices(sizes[0])
            return "narrow", {"dim": dim, "start": start, "length": max(0, stop - start)}
        return "index_select", {"dim": dim, "index": entries}

    def opaque(self, n: Any, item: int | None = None, name: str | None = None) -> Any:
        target = self.target_name(n)
        if target is None:
            called = getattr(n.target, "__name__", n.target)
            raise ImportTorchError(
                f"{n.name}{self.where(n)}: {called} has no node type, and an Opaque node may only call "
                "torch's own tensor functions"
            )
        result = self.runs[0][n]
        if item is None and isinstance(result, tuple | list):
            return Pending(n)
        refs: list[Ref] = []
        try:
            args = self.fixed(self.encode(list(n.args), refs), n)
            kwargs = self.fixed(self.encode(dict(n.kwargs), refs), n)
        except _NotLiteral:
            raise ImportTorchError(
                f"{n.name}{self.where(n)}: {target} takes an argument a graph file cannot hold"
            ) from None
        ports = self.registry["Opaque"].inputs
        if len(refs) > len(ports):
            raise ImportTorchError(f"{n.name}{self.where(n)}: {target} reads more than {len(ports)} tensors")
        outputs = [run[n] if item is None else run[n][item] for run in self.runs]
        params = {
            "target": target,
            "args": args,
            "kwargs": kwargs,
            "item": item,
            "shape": symbolic_shape([tuple(o.shape) for o in outputs], self.symbols, self.batch),
            "input_shapes": [
                symbolic_shape([tuple(t.shape) for t in self.values[r]], self.symbols, self.batch)
                for r in refs
            ],
        }
        node_id = self.add(name or n.name, "Opaque", params)
        for index, ref in enumerate(refs):
            self.connect(ref, node_id, ports[index])
        self.result.opaque.append((node_id, target))
        if not outputs[0].is_floating_point():
            self.result.notes.append(opaque_reason(node_id, target, outputs[0].dtype))
        return Ref(f"{node_id}.out")

    def target_name(self, n: Any) -> str | None:
        """The allow-listed dotted name of the call, if it has one."""
        if n.op == "call_method":
            candidates = [f"torch.Tensor.{n.target}", f"torch.{n.target}"]
        elif n.target in OPERATORS:
            candidates = [OPERATORS[n.target]]
        else:
            name = getattr(n.target, "__name__", "")
            owners = {"torch": torch, "torch.nn.functional": torch.nn.functional}
            candidates = [
                f"{p}.{name}" for p, owner in owners.items() if getattr(owner, name, None) is n.target
            ]
        return next((c for c in candidates if opaque_may_call(c, self.registry)), None)


def lay_out(graph: Graph) -> None:
    """Nodes in columns by topological generation, as an imported graph first opens."""
    for column, ids in enumerate(graph.generations()):
        for row, node_id in enumerate(ids):
            graph.set_attr(node_id, "pos", (column * COLUMN, row * ROW))


def unread_values(graph: Graph, registry: Registry) -> list[str]:
    """The values ("node.port") nothing reads, in topological order: a graph's default outputs."""
    return [
        f"{node.id}.{port}"
        for node_id in graph.topological_order()
        for node in [graph.node(node_id)]
        for port in output_ports(registry[node.type], node)
        if not graph.consumers_of(PortRef(node.id, port))
    ]


def _is_integer_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and not value.is_floating_point() and value.dtype != torch.bool


def opaque_reason(node_id: str, target: str, dtype: Any) -> str:
    """Why a call giving integers or bools stays Opaque: node types compute float tensors (whose
    derivatives the stepper shows), so a comparison's mask or an argmax's indices keep their torch call."""
    kind = "bool" if dtype == torch.bool else "integer"
    return (
        f"{node_id}: {target} gives {kind} values ({str(dtype).removeprefix('torch.')}), and node types "
        "compute float tensors: it stays an Opaque call, which passes no gradient"
    )


def norm_order(params: dict[str, Any]) -> dict[str, Any]:
    """x.norm()'s p as the norm node's: "fro" (its default) and 2.0 are 2, 1.0 is 1; any other p
    stays as it is, which the node refuses, so the call is imported as an Opaque one."""
    p = params.get("p", 2)
    if p == "fro" or (isinstance(p, float) and p in (1.0, 2.0)):
        return {**params, "p": 2 if p == "fro" else int(p)}
    return params


def returned_values(value: Any, env: Mapping[Any, Any]) -> list[Any]:
    """What forward returns, flattened in order: `return logits, (h, c)` is three values, each a Ref
    where the graph computes it."""
    if isinstance(value, torch.fx.Node):
        value = env.get(value, value)
    if isinstance(value, tuple | list):
        return [v for element in value for v in returned_values(element, env)]
    return [value]


def shortest(tensor: Any) -> Any:
    """A tensor's values as numbers; float32 ones as the shortest decimals that round to them (-0.3,
    not -0.30000001192092896), so a graph exported in float32 and imported again keeps its values."""
    if tensor.dtype != torch.float32:
        return tensor.detach().tolist()
    import numpy as np

    array = tensor.detach().cpu().numpy()
    shortest = [float(np.format_float_positional(v, unique=True, trim="-")) for v in array.reshape(-1)]
    return np.array(shortest, dtype=np.float64).reshape(array.shape).tolist()


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, tuple | list):
        return any(_holds_tensor(v) for v in value)
    return isinstance(value, torch.Tensor)


def opaque_may_call(name: str, registry: Registry) -> bool:
    """Whether an Opaque node may call `name`: its declaration (nodes/imported.py) decides."""
    spec = registry["Opaque"]
    try:
        spec.template({**spec.defaults(), "target": name})
    except ValueError:
        return False
    return True
