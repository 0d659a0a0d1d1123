"""Python source from a Program: what `graphcore export` writes and what the fast path runs.

Safety rests on two rules: every identifier comes from a `Namespace` (sanitised, unique, never a
keyword, builtin or module name), and every literal is a validated param written with repr().
Nothing a user types can become code. Node templates come only from the registry.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import linecache
import re
import string
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphcore.program import Instr, Program

# l, O and I are reserved because ruff (E741) rejects them as names.
_RESERVED = (
    set(keyword.kwlist)
    | set(dir(builtins))
    | {"torch", "nn", "F", "np", "self", "dtype", "seed", "l", "O", "I"}
)
_MODULE_ATTRIBUTES = {
    "forward",
    "training",
    "dtype",
    "device",
    "parameters",
    "buffers",
    "modules",
    "to",
    "cuda",
    "cpu",
    "train",
    "eval",
    "state_dict",
    "apply",
    "zero_grad",
    "type",
    "half",
    "float",
    "double",
    "children",
    "register_buffer",
    "register_parameter",
}


class Namespace:
    """Maps keys to unique Python identifiers made from human hints (torch.fx's _Namespace)."""

    def __init__(self, reserved: set[str] = _RESERVED) -> None:
        self._names: dict[str, str] = {}
        self._reserved = reserved
        self._taken = set(reserved)

    def name(self, key: str, hint: str) -> str:
        if key not in self._names:
            base = re.sub(r"\W+", "_", hint.encode("ascii", "ignore").decode()).strip("_") or "v"
            if base[0].isdigit() or base in self._reserved:
                base = f"v_{base}"
            candidate, n = base, 1
            while candidate in self._taken:
                n += 1
                candidate = f"{base}_{n}"
            self._taken.add(candidate)
            self._names[key] = candidate
        return self._names[key]


def plain_text(text: str) -> str:
    """User text fit for a docstring: one line, no quotes or backslashes (nothing that could end it)."""
    kept = "".join(c if c.isprintable() and c not in '"\\' else " " for c in text)
    return re.sub(r"\s+", " ", kept).strip()


def class_name_from(hint: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", hint.encode("ascii", "ignore").decode())
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    return f"Graph{name}" if name[0].isdigit() or keyword.iskeyword(name) or name in dir(builtins) else name


def template_fields(template: str) -> list[tuple[str, str | None]]:
    """(field, conversion) for each replacement field of a code template."""
    return [(f, conv) for _, f, _, conv in string.Formatter().parse(template) if f is not None]


def connected(instr: Instr) -> frozenset[str]:
    """The node's input ports that have an edge (the others are unconnected optional inputs)."""
    return frozenset(port for port, arg in zip(instr.spec.inputs, instr.args) if arg is not None)


def render(instr: Instr, names: Mapping[str, str]) -> str:
    """One node's line(s) of code, given the names of its inputs, outputs and module."""
    template = instr.spec.template(instr.params, connected(instr))
    fields = {**instr.params, **names}
    outs = [names[p] for p in instr.outputs]
    if any(f in instr.outputs for f, _ in template_fields(template)):
        return template.format(**fields)
    return f"{', '.join(outs)} = {template.format(**fields)}"


def _short_formula(instr: Instr) -> str:
    return instr.spec.formula.split(",  ")[0]


WIDTH = 88  # ruff's default line length: the exported file is ruff-formatted with ruff's defaults


def format_expression(text: str, prefix: str, suffix: str = "", width: int = 88) -> list[str]:
    """Lines for `prefix + text + suffix` as ruff format writes them: whole when it fits; else a
    call's arguments on one line inside its brackets or, failing that, one per line with a trailing
    comma; a list or dict literal one item per line; each item opened up in turn."""
    node = ast.parse(text, mode="eval").body
    indent = prefix[: len(prefix) - len(prefix.lstrip())]
    inner = indent + "    "
    flat = prefix + ast.unparse(node) + suffix
    if len(flat) <= width:
        return [flat]
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Call) and isinstance(node.right, ast.Call):
        return _format_sum_of_calls(node, prefix, suffix, width)
    if isinstance(node, ast.Dict):
        lines = [f"{prefix}{{"]
        for key, entry in zip(node.keys, node.values, strict=True):
            head = f"{inner}**" if key is None else f"{inner}{ast.unparse(key)}: "
            lines += format_expression(ast.unparse(entry), head, ",", width)
        return [*lines, f"{indent}}}" + suffix]
    if isinstance(node, ast.List):
        lines = [f"{prefix}["]
        for item in node.elts:
            lines += format_expression(ast.unparse(item), inner, ",", width)
        return [*lines, f"{indent}]" + suffix]
    if not isinstance(node, ast.Call):
        return [flat]
    items = [*map(ast.unparse, node.args), *(f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords)]
    opening, closing = f"{prefix}{ast.unparse(node.func)}(", f"{indent})" + suffix
    if len(inner + ", ".join(items)) <= width:
        return [opening, inner + ", ".join(items), closing]
    lines = [opening]
    for argument in items:
        name, equals, value = argument.partition("=")
        keyword = equals and name.isidentifier()
        lines += format_expression(
            value if keyword else argument, inner + (f"{name}=" if keyword else ""), ","
        )
    return [*lines, closing]


OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


def _format_sum_of_calls(node: ast.BinOp, prefix: str, suffix: str, width: int) -> list[str]:
    """`f(...) + g(...)` too long for a line: each call opened, the operator after the first's
    closing bracket (`) + g(`), as ruff format writes two BCE terms summed."""
    indent = prefix[: len(prefix) - len(prefix.lstrip())]
    left = format_expression(ast.unparse(node.left), prefix, "", width)
    operator = OPERATORS.get(type(node.op))
    if len(left) == 1 or operator is None:
        return [prefix + ast.unparse(node) + suffix]
    return [*left[:-1], *format_expression(ast.unparse(node.right), f"{indent}) {operator} ", suffix, width)]


def code_lines(line: str, indent: int, comment: str = "") -> list[str]:
    """`line` at `indent`, its comment (a formula) above it when both do not fit, and an assignment
    of a long call split as ruff format would split it. Only layout changes, never the AST."""
    pad = " " * indent
    if "\n" in line:
        return [pad + part for part in line.split("\n")]
    if comment and len(pad + line + "  # " + comment) <= WIDTH:
        return [f"{pad}{line}  # {comment}"]
    above = [f"{pad}# {comment}"] if comment else []
    target, equals, value = line.partition(" = ")
    if len(pad + line) > WIDTH and equals and re.fullmatch(r"(self\.)?[A-Za-z_]\w*", target):
        try:
            return [*above, *format_expression(value, f"{pad}{target} = ")]
        except SyntaxError:
            pass
    return [*above, pad + line]


@dataclass(frozen=True)
class GeneratedModule:
    """Source of an nn.Module for a program, and how its names map back to the graph."""

    source: str
    class_name: str
    inputs: tuple[str, ...]  # node ids of the Input nodes, in forward-argument order
    outputs: tuple[str, ...]  # values ("node.port") returned by forward, in order
    attributes: Mapping[str, str]  # node id -> attribute of the module (parameters, buffers, layers)
    arguments: tuple[str, ...] = ()  # forward's parameter names, one per entry of `inputs`
    returned: tuple[str, ...] = ()  # the names forward returns, one per entry of `outputs`
    # each class's name for each of its nodes, by scope ("" the model, else a block's name):
    # scope -> (class name, node id -> `x`, `self.fc1` or `h1`), which the export's NODES table writes
    code_names: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)


@dataclass
class ClassCode:
    """One nn.Module class as it is written, node by node: the names its forward and attributes
    use, the lines of its __init__ and forward. The flat model and every block class share it, so
    a node is the same code wherever it sits."""

    local: Namespace
    attrs: Namespace
    expr: dict[str, str] = field(default_factory=dict)  # value -> how forward refers to it
    init_lines: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # node ids of the Input nodes, in argument order
    attributes: dict[str, str] = field(default_factory=dict)  # node id -> attribute
    helpers: list[str] = field(default_factory=list)
    # node id -> how the code names it: an argument, `self.attr` (layers, parameters, constants,
    # block instances) or the local holding its first output
    names: dict[str, str] = field(default_factory=dict)

    def add(self, instr: Instr, unused: Collection[str] = ()) -> None:
        """The node's attribute (a layer, parameter or constant) and its line of forward; its
        values in `unused` get names starting with "_", which linters read as unused on purpose."""
        spec = instr.spec
        if spec.helpers and spec.helpers not in self.helpers:
            self.helpers.append(spec.helpers)
        if spec.kind == "input":
            argument = self.local.name(instr.outs[0], instr.code_name)
            self.expr[instr.outs[0]] = self.names[instr.node] = argument
            self.inputs.append(instr.node)
            return
        if spec.kind in ("parameter", "constant", "layer"):
            attr = self.attributes[instr.node] = self.attrs.name(instr.node, instr.code_name)
            self.names[instr.node] = f"self.{attr}"
            init = spec.init(instr.params) if callable(spec.init) else spec.init.format(**instr.params)
            if spec.kind == "constant":
                self.init_lines.append(f'self.register_buffer("{attr}", {init})')
            else:
                self.init_lines.append(f"self.{attr} = {init}")
            if post_init := spec.post_init_template(instr.params):
                self.init_lines.extend(post_init.format(**instr.params, module=f"self.{attr}").split("\n"))
            if spec.kind != "layer":
                self.expr[instr.outs[0]] = f"self.{attr}"
                return
        names = {port: self.expr[arg] if arg else "None" for port, arg in zip(spec.inputs, instr.args)}
        for port, value in zip(instr.outputs, instr.outs):
            hint = instr.code_name if not spec.returns_tuple else f"{instr.code_name}_{port}"
            name = self.local.name(value, hint)
            names[port] = self.expr[value] = f"_{name}" if value in unused else name
            self.names.setdefault(instr.node, names[port])
        if spec.kind == "layer":
            names["module"] = f"self.{self.attributes[instr.node]}"
        self.body.extend(code_lines(render(instr, names), 8, _short_formula(instr)))

    def lines(
        self, class_name: str, init_signature: str, init_head: Sequence[str], returned: str, doc: str = ""
    ) -> list[str]:
        """The class (`doc` its docstring): `__init__(self, {init_signature})` starting with
        `init_head`, then forward."""
        arguments = "".join(f", {self.expr[f'{node}.out']}" for node in self.inputs)
        return [
            f"class {class_name}(nn.Module):",
            *([f'    """{doc}"""', ""] if doc else []),
            f"    def __init__(self, {init_signature}):",
            "        super().__init__()",
            *init_head,
            *[wrapped for line in self.init_lines for wrapped in code_lines(line, 8)],
            "",
            f"    def forward(self{arguments}):",
            *self.body,
            f"        return {returned}",
        ]


def helper_names(instrs: Iterable[Instr]) -> set[str]:
    """What the nodes' helpers define: a local must not take such a name and hide the helper."""
    return {name for i in instrs for name in re.findall(r"^(?:def|class) (\w+)", i.spec.helpers, re.M)}


def module_head(docstring: str, body: Sequence[str], helpers: Sequence[str]) -> list[str]:
    """The generated file down to its first class: docstring, imports, the nodes' helpers."""
    uses_f = any("F." in line for line in body)
    return [
        f'"""{docstring}: generated by Backprop Studio."""',
        "",
        "import torch",
        *(["import torch.nn.functional as F"] if uses_f else []),
        "from torch import nn",
        "",
        *[line for h in helpers for line in ("", h.strip("\n"), "")],
        "",
    ]


def python_source(
    program: Program,
    class_name: str = "Model",
    outputs: Sequence[str] | None = None,
    seed: int = 0,
    docstring: str = "",
) -> GeneratedModule:
    """The graph as a standalone nn.Module: __init__ builds the weights, forward is straight-line code."""
    outputs = tuple(outputs or program.sinks)
    code = ClassCode(Namespace(_RESERVED | helper_names(program)), Namespace(_RESERVED | _MODULE_ATTRIBUTES))
    for instr in program:
        # an output nothing reads (a GRU's `out` when only `h` is used): "_" marks it unused for linters
        unused = [v for v in instr.outs if not program.consumers[v] and v not in outputs]
        code.add(instr, unused if instr.spec.returns_tuple else ())
    arguments = tuple(code.expr[f"{node}.out"] for node in code.inputs)
    returned = tuple(code.expr[v] for v in outputs)
    lines = [
        *module_head(docstring or class_name, code.body, code.helpers),
        *code.lines(
            class_name,
            f"dtype=torch.float32, seed={seed!r}",
            ["        torch.manual_seed(seed)"],
            ", ".join(returned),
        ),
        "",
    ]
    return GeneratedModule(
        "\n".join(lines),
        class_name,
        tuple(code.inputs),
        outputs,
        code.attributes,
        arguments,
        returned,
        {"": (class_name, code.names)},
    )


_counter = iter(range(1, 1 << 62))


def exec_source(source: str, label: str) -> dict[str, Any]:
    """Run generated source in a fresh namespace; tracebacks show its lines (fx's linecache trick)."""
    filename = f"<graphcore:{label}:{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope: dict[str, Any] = {"__name__": f"graphcore_generated_{label}"}
    exec(compile(source, filename, "exec"), scope)
    return scope


_node_functions: dict[tuple[str, str, frozenset[str]], Callable[..., Any]] = {}


def node_function(instr: Instr) -> Callable[..., Any]:
    """The node's own code as a function `(module, *inputs) -> output or tuple of outputs`.

    The stepping engine and the derivative interpreters call this: the same template the
    generated module runs, so every path computes exactly the same thing.
    """
    key = (instr.spec.type, repr(sorted(instr.params.items())), connected(instr))
    if key not in _node_functions:
        spec, ns = instr.spec, Namespace()
        names = {port: ns.name(port, port) for port in (*spec.inputs, *instr.outputs)}
        names["module"] = ns.name("<module>", "module")
        line = render(instr, names)
        result = ", ".join(names[p] for p in instr.outputs)
        if spec.returns_tuple and len(instr.outputs) == 1:
            result += ","  # a tuple of one, as the shape rule and the pullbacks expect
        args = ", ".join(names[p] for p in spec.inputs)
        source = "\n".join(
            [
                "import torch",
                "import torch.nn.functional as F",
                "from torch import nn",
                spec.helpers,
                f"def node_fn({names['module']}{', ' if args else ''}{args}):",
                *[f"    {x}" for x in line.split("\n")],
                f"    return {result}",
            ]
        )
        _node_functions[key] = exec_source(source, spec.type)["node_fn"]
    return _node_functions[key]
