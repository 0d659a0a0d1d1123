"""`graphcore import-torch`: a PyTorch module, traced with torch.fx, as a graph.

Each fx node becomes a graph node: placeholders become Inputs, parameters and buffers read with
get_attr become Parameters and Constants, calls that a node type computes become that type (the
`torch_rules` each type declares in nodes/), and any other call becomes an Opaque node, listed in the report.
Sizes such as `x.size(0)` are computed by running the traced module on example inputs, once more
per symbolic size ("N"), so a value that follows the batch is recognised (`view(x.size(0), -1)`
becomes `view([-1, ...])`). The graph file it writes never runs the module: only node types, and
Opaque calls to allow-listed torch functions. A module class used several times becomes a block
definition, a run of them in an nn.Sequential one repeated Block node (import_blocks; `flat` keeps
every call a node of its own).
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import json
import re
import sys
import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import graphcore
from graphcore._torch import torch
from graphcore.exchange.import_blocks import Call, make_blocks
from graphcore.exchange.import_builder import (
    Builder,
    ImportResult,
    ImportTorchError,
    module_params,
    unread_values,
)
from graphcore.exchange.import_nodes import TABLE, flat_code_names, restore_nodes
from graphcore.exchange.import_weights import keep_weights
from graphcore.exchange.torch_ops import Rule, TorchTables, tables
from graphcore.registry import REGISTRY, Registry, require_library

__all__ = [
    "ImportResult",
    "ImportTorchError",
    "declared_inputs",
    "import_from_file",
    "import_module",
    "instantiate",
    "load_class",
    "parse_argument",
]

ARGUMENT = re.compile(r"([A-Za-z_]\w*)=\[?([A-Za-z_0-9, ]*)\]?(?::(float|long))?")


def parse_argument(text: str) -> tuple[str, dict[str, Any]]:
    """`x=[N,3]` or `tokens=[N,12]:long` -> ("x", Input params). A name among the sizes is symbolic."""
    match = ARGUMENT.fullmatch(text.strip())
    if match is None:
        raise ImportTorchError(f"--args {text!r}: write NAME=[SIZES], e.g. x=[N,3] or tokens=[N,12]:long")
    name, dims, dtype = match.groups()
    shape = [int(d) if d.isdigit() else d for d in (d.strip() for d in dims.split(",")) if d]
    if not all(isinstance(d, int) or d.isidentifier() for d in shape):
        raise ImportTorchError(f"--args {text!r}: sizes are integers or names such as N")
    return name, {"shape": shape, **({"dtype": "long"} if dtype == "long" else {})}


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def load_class(spec: str) -> tuple[Any, Path, dict[str, Any]]:
    """`path/to/file.py:ClassName` -> (class, path, the file's globals: INPUTS, helper functions).

    This runs the file, as importing it from Python would; the graph written afterwards never does.
    """
    path_text, colon, class_name = spec.rpartition(":")
    if not colon or not path_text or not class_name.isidentifier():
        raise ImportTorchError(f"{spec!r}: write FILE.py:ClassName")
    path = Path(path_text)
    if not path.is_file():
        raise ImportTorchError(f"{path}: no such file")
    name = "graphcore_import_" + re.sub(r"\W", "_", path.stem)
    loader = importlib.util.spec_from_file_location(name, path)
    if loader is None or loader.loader is None:
        raise ImportTorchError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(loader)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        loader.loader.exec_module(module)
    except SyntaxError as error:
        raise ImportTorchError(f"{path}:{error.lineno}: cannot import: {error.msg}") from None
    except BaseException as error:  # the file may raise anything, SystemExit included
        raise ImportTorchError(f"{path}: cannot import: {_one_line(error)}") from None
    finally:
        sys.path.remove(folder)
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        found = sorted(
            k for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
        )
        raise ImportTorchError(
            f"{path}: no nn.Module class {class_name!r} (found: {', '.join(found) or 'none'})"
        )
    return cls, path, vars(module)


def instantiate(cls: Any, kwargs: Mapping[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except BaseException as error:
        raise ImportTorchError(f"{cls.__name__}(**{dict(kwargs)!r}) failed: {_one_line(error)}") from None


def declared_inputs(table: Any, where: str, registry: Registry = REGISTRY) -> dict[str, dict[str, Any]]:
    """Input params per forward argument, checked as a graph file's Input nodes are."""
    if not isinstance(table, Mapping):
        raise ImportTorchError(f'{where}: expected {{"argument": {{"shape": [...]}}, ...}}')
    require_library(registry)
    spec = registry["Input"]
    for name, params in table.items():
        problems = spec.param_problems(params) if isinstance(params, dict) else [("", "expected an object")]
        if problems:
            raise ImportTorchError(f"{where}: {name}.{problems[0][0]}: {problems[0][1]}")
    return {str(name): dict(params) for name, params in table.items()}


class _Tracer(torch.fx.Tracer):
    """Modules with a node type stay whole; every other module is traced through to its calls.

    Python control flow on a traced value (`assert t <= block_size`, `for s in x.size()[1:]`) is
    decided by its value in the example runs (`examples`: each run's forward arguments, in order),
    which must agree; on a tensor's values it stops with the source line."""

    proxy_buffer_attributes = True  # a buffer sliced by a traced size (`self.bias[:, :, :T, :T]`)

    def __init__(
        self,
        registry: Registry,
        rules: TorchTables,
        examples: list[list[Any]],
        leaf_functions: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(autowrap_functions=leaf_functions)
        self.registry, self.rules, self.examples = registry, rules, examples
        self.record_stack_traces = True
        self.known: list[dict[Any, Any]] = [{} for _ in examples]
        self.evaluating = False  # while True, module calls and attributes are the real ones
        self.calls: dict[str, Call] = {}  # each submodule call, keyed as fx's nn_module_stack keys it

    def is_leaf_module(self, m: Any, qualified_name: str) -> bool:
        return module_params(m, self.registry, self.rules) is not None

    def call_module(self, m: Any, forward: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.evaluating:
            return forward(*args, **kwargs)
        path = self.path_of_module(m)
        if self.is_leaf_module(m, path):
            return super().call_module(m, forward, args, kwargs)
        count = self.num_calls.get(path, 0)
        call = self.calls[f"{path}@{count}" if count else path] = Call(path, type(m), args, kwargs)
        call.returned = super().call_module(m, forward, args, kwargs)
        return call.returned

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        return attr_val if self.evaluating else super().getattr(attr, attr_val, parameter_proxy_cache)

    def to_bool(self, obj: Any) -> bool:
        values = self.runs_of(obj.node)
        if any(isinstance(v, torch.Tensor) for v in values):
            raise ImportTorchError(
                f"{_user_line()}: a condition on a tensor's values cannot be traced (its graph would differ "
                "from input to input): compute both branches and pick with torch.where"
            )
        if len({bool(v) for v in values}) > 1:
            raise ImportTorchError(
                f"{_user_line()}: a condition on a size that changes with the symbolic sizes cannot be "
                "traced: give that size a fixed value in --args"
            )
        return bool(values[0])

    def iter(self, obj: Any) -> Any:
        lengths = {len(v) for v in self.runs_of(obj.node)}
        if len(lengths) > 1:
            raise ImportTorchError(
                f"{_user_line()}: a loop over a value whose length changes with the symbolic sizes cannot "
                "be traced"
            )
        return iter([obj[i] for i in range(lengths.pop())])

    def runs_of(self, node: Any) -> list[Any]:
        """The value of a traced node in each example run, computed from the graph traced so far."""
        self.evaluating = True
        try:
            with torch.no_grad():
                return [self._value(node, run) for run in range(len(self.examples))]
        finally:
            self.evaluating = False

    def _value(self, node: Any, run: int) -> Any:
        known = self.known[run]
        if node not in known:
            args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), lambda a: self._value(a, run))
            if node.op == "placeholder":
                places = [n for n in self.graph.nodes if n.op == "placeholder"]
                known[node] = self.examples[run][places.index(node)]
            elif node.op == "get_attr":
                known[node] = _attribute(self.root, node.target)
            elif node.op == "call_module":
                known[node] = self.root.get_submodule(node.target)(*args, **kwargs)
            elif node.op == "call_method":
                known[node] = getattr(args[0], node.target)(*args[1:], **kwargs)
            else:
                known[node] = node.target(*args, **kwargs)
        return known[node]


def _attribute(root: Any, target: str) -> Any:
    for part in target.split("."):
        root = getattr(root, part)
    return root


def _is_library(filename: str) -> bool:
    path = Path(filename).resolve()
    return filename.startswith("<") or any(
        path.is_relative_to(Path(str(package.__file__)).parent) for package in (torch, graphcore)
    )


def _user_line(frames: list[traceback.FrameSummary] | None = None) -> str:
    """`file.py:12` of the innermost frame of the module's own code (default: the current stack)."""
    for frame in reversed(frames if frames is not None else traceback.extract_stack()):
        if not _is_library(frame.filename):
            return f"{Path(frame.filename).name}:{frame.lineno}"
    return "<forward>"


class _Recorder(torch.fx.Interpreter):
    """Runs the traced module and keeps every node's value."""

    def __init__(self, module: Any) -> None:
        super().__init__(module, garbage_collect_values=False)
        self.values: dict[Any, Any] = {}

    def run_node(self, n: Any) -> Any:
        self.values[n] = result = super().run_node(n)
        return result


def example_value(declared: Mapping[str, Any], sizes: Mapping[str, int], seed: int) -> Any:
    long = declared.get("dtype") == "long"
    if declared.get("value") is not None:
        return torch.tensor(declared["value"], dtype=torch.long if long else torch.float32)
    shape = [sizes[d] if isinstance(d, str) else d for d in declared["shape"]]
    if long:
        return torch.zeros(shape, dtype=torch.long)
    # in (0.1, 0.9): inside the domain of log, sqrt, BCE and variances; only shapes are read from it
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 0.8 + 0.1


def helper_rules(namespace: Mapping[str, Any], registry: Registry = REGISTRY) -> dict[Any, Rule]:
    """Functions a graphcore export defines (a node type's `helpers`, as `positional_encoding`), as rules.

    A function counts only when its source is the registry's text, so a user's own function of the
    same name is traced through like any other code."""
    found = {}
    for spec in registry.values():
        match = re.search(r"^def (\w+)\(", spec.helpers, re.MULTILINE)
        function = namespace.get(match[1]) if match else None
        if function is None or not inspect.isfunction(function):
            continue
        try:
            same = inspect.getsource(function).strip() == spec.helpers.strip()
        except (OSError, TypeError):
            same = False
        if same:
            parameters = inspect.signature(function).parameters
            defaults = {
                k: p.default for k, p in parameters.items() if p.default is not inspect.Parameter.empty
            }
            found[function] = Rule(spec.type, tuple(parameters), defaults)
    return found


def import_module(
    module: Any,
    inputs: Mapping[str, Mapping[str, Any]],
    *,
    batch: int = 4,
    source: Path | str = "<module>",
    namespace: Mapping[str, Any] | None = None,
    registry: Registry = REGISTRY,
    flat: bool = False,
) -> ImportResult:
    """Trace `module` and build its graph; `inputs` gives each forward argument's Input params.

    `namespace` is the module file's globals, where a graphcore export's helper functions live and
    its NODES table, which gives the nodes back their ids, labels and positions. A class used
    several times becomes a block (graphcore.exchange.import_blocks) unless `flat`."""
    require_library(registry)
    parameters = inspect.signature(module.forward).parameters
    unknown = sorted(set(inputs) - set(parameters))
    if unknown:
        raise ImportTorchError(f"{type(module).__name__}.forward has no argument {unknown[0]!r}")
    concrete = {
        k: p.default
        for k, p in parameters.items()
        if k not in inputs and p.default is not inspect.Parameter.empty
    }
    helpers = helper_rules(namespace or {}, registry)
    rules = tables(registry)
    symbols = sorted({d for params in inputs.values() for d in params["shape"] if isinstance(d, str)})
    examples = []  # each run's forward arguments, in order: one run more per symbolic size
    for changed in [None, *symbols]:
        sizes = {s: batch + (s == changed) for s in symbols}
        examples.append(
            [
                example_value(inputs[k], sizes, i) if k in inputs else concrete.get(k)
                for i, k in enumerate(parameters)
            ]
        )
    tracer = _Tracer(registry, rules, examples, tuple(helpers))
    try:
        traced = tracer.trace(module, concrete_args=concrete or None)
    except ImportTorchError:
        raise
    except Exception as error:
        where = _user_line(traceback.extract_tb(error.__traceback__))
        raise ImportTorchError(
            f"{where}: cannot trace {type(module).__name__}.forward with torch.fx: {_one_line(error)}"
        ) from None
    renamed = rename_clashes(tracer.root, traced)
    gm = torch.fx.GraphModule(
        {n.target: _attribute(tracer.root, renamed.get(n.target, n.target)) for n in _owned(traced)}
        if renamed
        else tracer.root,
        traced,
    )
    places = gm.graph.find_nodes(op="placeholder")
    names = dict(zip(places, parameters))  # fx names an argument given a value `targets_1`
    for n in places:
        if names[n] not in inputs and names[n] not in concrete:
            raise ImportTorchError(
                f"forward argument {names[n]!r} needs a shape: --args {names[n]}=[N,3], say"
            )
    runs = []
    training = gm.training
    gm.eval()
    try:
        for args in examples:
            recorder = _Recorder(gm)
            with torch.no_grad():
                recorder.run(*args[: len(places)])
            runs.append(recorder.values)
    except Exception as error:
        raise ImportTorchError(
            f"{type(module).__name__} fails on example inputs: {_one_line(error)}"
        ) from None
    finally:
        gm.train(training)
    name_after_assignments(gm, Path(source))
    builder = Builder(gm, runs, inputs, symbols, batch, Path(source), helpers, registry, rules)
    result = builder.build()
    for table in (result.layers, result.attributes):
        table.update({node: renamed.get(target, target) for node, target in table.items()})
    mine = str(Path(source).resolve())
    result.code_names = flat_code_names(
        result, builder.origins, builder.env, module, Path(source), lambda n: _line_in(n, mine)
    )
    declare_outputs(result, registry)
    keep_weights(result, module)
    if not flat:
        make_blocks(result, builder.origins, tracer.calls, builder.env, registry, type(module).__name__)
    if namespace is not None and TABLE in namespace:  # an export's: the nodes' ids, labels, positions
        restore_nodes(result, namespace[TABLE])
    return result


def _owned(graph: Any) -> list[Any]:
    return [n for n in graph.nodes if n.op in ("get_attr", "call_module")]


def rename_clashes(root: Any, graph: Any) -> dict[str, str]:
    """Give each submodule or tensor whose name a GraphModule takes for itself (an autoencoder's
    `self.code`, a `self.graph`) another target in the traced graph; returns new target -> the module's."""
    renamed: dict[str, str] = {}
    for n in _owned(graph):
        head, dot, rest = n.target.partition(".")
        if not hasattr(torch.fx.GraphModule, head):
            continue
        new = f"{head}_"
        while hasattr(root, new) or hasattr(torch.fx.GraphModule, new):
            new += "_"
        renamed[new + dot + rest] = n.target
        n.target = new + dot + rest
    return renamed


def assigned_once(source: Path) -> dict[int, str]:
    """Line -> the variable its statement assigns, for each `name = ...` of the file whose name its
    function assigns once and takes as no argument (an export's `h1 = torch.tanh(fc1)`; not the
    `x = ...` a hand-written forward repeats)."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    lines = {}
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
        assigns = [
            a
            for a in ast.walk(function)
            if isinstance(a, ast.Assign) and len(a.targets) == 1 and isinstance(a.targets[0], ast.Name)
        ]
        counts = Counter(a.targets[0].id for a in assigns)  # type: ignore[attr-defined]
        for a in assigns:
            name = a.targets[0].id  # type: ignore[attr-defined]
            if counts[name] == 1 and name not in arguments:
                lines.update(dict.fromkeys(range(a.lineno, (a.end_lineno or a.lineno) + 1), name))
    return lines


def name_after_assignments(gm: Any, source: Path) -> None:
    """Each traced call takes the name of the variable its line assigns (the last call of the line,
    the one whose value is assigned), so an exported graph imports with its node names."""
    lines, mine = assigned_once(source), str(source.resolve())
    if not lines:
        return
    calls = ("call_module", "call_function", "call_method")
    located = [(n, lines.get(_line_in(n, mine) or 0) if n.op in calls else None) for n in gm.graph.nodes]
    for (n, name), (_, after) in zip(located, [*located[1:], (None, None)]):
        if name is not None and after != name:
            n.name = name


def _line_in(n: Any, source: str) -> int | None:
    """The innermost line of file `source` in the fx node's stack trace, if it has one."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', n.stack_trace or "")
    lines = [int(line) for f, line in frames if str(Path(f).resolve()) == source]
    return lines[-1] if lines else None


def declare_outputs(result: ImportResult, registry: Registry) -> None:
    """The graph's outputs are what forward returns, in order: meta.outputs says so where the values
    nothing reads differ (a returned value others read too, an LSTM's unreturned h and c)."""
    if result.returned and result.returned != unread_values(result.graph, registry):
        result.graph.meta["outputs"] = list(result.returned)


def import_from_file(
    spec: str,
    arguments: Sequence[str],
    kwargs_text: str,
    *,
    batch: int = 4,
    labels: tuple[str, str] = ("--args", "--kwargs"),
    no_inputs: str = "",
    flat: bool = False,
) -> tuple[Any, ImportResult]:
    """The class at `path/to/file.py:ClassName`, built with the JSON object `kwargs_text` and traced:
    `graphcore import-torch` and File ▸ Import ▸ PyTorch module both run this. The forward arguments'
    shapes come from `arguments` (NAME=[shape] words), else the file's INPUTS table, else none, or
    ImportTorchError(no_inputs) when that is given. `labels` name the arguments and the keyword
    arguments in messages (the CLI's options, the dialog's fields); `flat` imports without blocks.
    Returns the class and the result."""
    cls, source, namespace = load_class(spec)
    if arguments:
        inputs = declared_inputs(dict(map(parse_argument, arguments)), labels[0])
    elif "INPUTS" in namespace:
        inputs = declared_inputs(namespace["INPUTS"], f"{source}: INPUTS")
    elif no_inputs:
        raise ImportTorchError(no_inputs)
    else:
        inputs = {}
    try:
        kwargs = json.loads(kwargs_text)
    except json.JSONDecodeError as error:
        raise ImportTorchError(f"{labels[1]}: not a JSON object ({error.msg})") from None
    if not isinstance(kwargs, dict):
        raise ImportTorchError(f'{labels[1]}: expected a JSON object such as {{"hidden": 16}}')
    module = instantiate(cls, kwargs)
    result = import_module(module, inputs, batch=batch, source=source, namespace=namespace, flat=flat)
    if "TRAINING" in namespace:
        read_training(namespace, result)
    return cls, result


def read_training(namespace: Mapping[str, Any], result: ImportResult) -> None:
    """A training export's TRAINING section, renamed into the imported graph: each Input by its
    dataset field (FIELDS: forward argument -> field), each loss and the prediction by its place among
    forward's returns (an export returns the losses, then the prediction). A section that does not
    fit is left out, with a note saying why."""
    from graphcore.training.config import TrainingConfigError, parse

    section, fields = namespace["TRAINING"], namespace.get("FIELDS")
    try:
        if not isinstance(section, dict) or not isinstance(section.get("inputs"), dict):
            raise TrainingConfigError("expected the training section, a dict with inputs")
        if not isinstance(fields, dict) or sorted(map(str, fields.values())) != sorted(
            map(str, section["inputs"].values())
        ):
            raise TrainingConfigError("FIELDS does not give each of its inputs' dataset fields")
        config = parse(copy.deepcopy(section))
        exported = list(dict.fromkeys([o.loss for o in config.objectives] + [config.predict or ""]))
        exported = [v for v in exported if v]
        if len(exported) != len(result.returned):
            raise TrainingConfigError(
                f"forward returns {len(result.returned)} values, not its {len(exported)}"
            )
        renamed = dict(zip(exported, result.returned))
        graph_section = _renamed(copy.deepcopy(section), renamed)
        arguments = {  # forward argument -> its Input node (the NODES table may have renamed it)
            name: node_id
            for (scope, node_id), (_, name) in result.code_names.items()
            if not scope and result.graph.node(node_id).type == "Input"
        }
        graph_section["inputs"] = {
            arguments.get(str(argument), str(argument)): field for argument, field in fields.items()
        }
        parse(copy.deepcopy(graph_section))
    except (ValueError, TypeError, RecursionError) as error:  # TrainingConfigError, or odd Python values
        result.notes.append(
            f"TRAINING: {' '.join(str(error).split())[:200]}; the graph has no training section"
        )
        return
    result.graph.training = graph_section


def _renamed(value: Any, renamed: Mapping[str, str]) -> Any:
    """The section with each value name ("node.port") the export knew replaced by the imported one."""
    if isinstance(value, dict):
        return {k: _renamed(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, renamed) for v in value]
    return renamed.get(value, value) if isinstance(value, str) else value
