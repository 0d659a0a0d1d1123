"""The dataset half of `graphcore export --train`: `load_data(seed)` as plain Python.

The exported file carries the text of the graphcore.training.datasets functions the training section
uses (a generator, or the file reader), or of a reader in graphcore.training.readers and the helpers
it calls, so its data are the app's, batch for batch.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from graphcore.codegen import format_expression
from graphcore.training import datasets
from graphcore.training.code import literal

PROVIDED = {"DatasetError", "Fields"}  # defined by the header of the exported data section


class ExportError(ValueError):
    """A graph that cannot be exported as asked; the message says why."""


def source_text(function: Any) -> str:
    return inspect.getsource(function).strip("\n")


def _one_line_errors(call: str, result: str = "") -> list[str]:
    """A body that returns `call` (then `result`), turning a DatasetError into a one-line exit."""
    return [
        "    try:",
        *format_expression(call, "        data = "),
        "    except DatasetError as error:",
        '        raise SystemExit(f"error: {error}") from None',
        f"    return data{result}",
    ]


def data_code(dataset: Mapping[str, Any], base_dir: Path) -> tuple[str, bool, list[str]]:
    """`load_data(seed)` and the functions it calls; True when it reads a file given by --data; the
    standard-library imports the functions need beyond the training script's own."""
    config = dict(dataset)
    name = config.pop("name")
    header = [
        "Fields = dict[str, np.ndarray]",
        "",
        "",
        "class DatasetError(ValueError):",
        '    """A dataset that cannot be built or read."""',
    ]
    if name == "file":
        path = Path(config.get("path", ""))
        path = path if path.is_absolute() else (base_dir / path).resolve()
        functions = [datasets._read_file, datasets._field_from, datasets.from_file, datasets.split]
        load = [
            f"DATA_PATH = {literal(str(path))}",
            "",
            "",
            "def load_data(seed, path=DATA_PATH):",
            '    """The training section\'s dataset: fields read from a file (seed is unused)."""',
            *_one_line_errors(f"from_file(Path(path), {literal(config.get('fields', {}))})"),
        ]
        return "\n\n\n".join(["\n".join(header), *map(source_text, functions), "\n".join(load)]), True, []
    if name in datasets.READER_NAMES:
        text, imports = reader_code(name, config, base_dir)
        return "\n\n\n".join(["\n".join(header), text]), False, imports
    if name not in datasets.GENERATED:
        raise ExportError(f"training.dataset: unknown dataset {name!r}")
    generate = datasets.GENERATED[name]
    seed = literal(config.pop("seed")) if "seed" in config else "seed"
    config.pop("validation", None)
    known = list(inspect.signature(generate).parameters)[1:]
    for key in config:
        if key not in known:
            raise ExportError(
                f"training.dataset: {name} has no parameter {key!r} (it has {', '.join(known)})"
            )
    arguments = "".join(f", {key}={literal(value)}" for key, value in config.items())
    helpers = (datasets._noisy_polar, datasets._labels)  # what a generator may call, in order of need
    functions = [f for f in helpers if f"{f.__name__}(" in source_text(generate)]
    load = [
        "def load_data(seed):",
        f'    """The training section\'s dataset: the {name} set of graphcore.training.datasets."""',
        *format_expression(f"{name}(np.random.default_rng({seed}){arguments})", "    return "),
    ]
    parts = ["\n".join(header), *map(source_text, [*functions, generate, datasets.split]), "\n".join(load)]
    return "\n\n\n".join(parts), False, []


def reader_code(name: str, config: Mapping[str, Any], base_dir: Path) -> tuple[str, list[str]]:
    """A reader's `load_data(seed)`: the reader's text and the helpers it calls, its paths resolved as
    graphcore.training.readers.read_dataset resolves them (relative to the graph file)."""
    from graphcore.training.readers import common
    from graphcore.training.readers.section import COMMON, PATH_KEYS, READERS, reader_options

    reader = READERS[name]
    options = {key: value for key, value in config.items() if key not in COMMON}
    for key in options:
        if key not in reader_options(name):
            raise ExportError(f"training.dataset: {name} has no key {key!r}")
    for key in PATH_KEYS[name]:
        if not isinstance(options.get(key), str) or not options[key]:
            raise ExportError(f"training.dataset: {name} needs {key!r}, the path to read")
    constants = [
        f"{key.upper()} = {literal(str(_resolved(options[key], base_dir)))}" for key in PATH_KEYS[name]
    ]
    arguments = ", ".join(
        f"{key}=Path({key.upper()})" if key in PATH_KEYS[name] else f"{key}={literal(value)}"
        for key, value in options.items()
    )
    texts, imports = needed_definitions(reader.__name__, [common, sys.modules[reader.__module__]])
    load = [
        "def load_data(seed):",
        f'    """The training section\'s dataset: {reader.__name__} of graphcore.training.readers '
        '(seed is unused)."""',
        *_one_line_errors(f"{reader.__name__}({arguments})", ".fields"),
    ]
    if constants:
        load = [*constants, "", "", *load]
    if constants and "from pathlib import Path" not in imports:
        imports.append("from pathlib import Path")
    # the readers' text as graphcore has it, at the project's line length rather than ruff's default
    readers = "\n".join(["# fmt: off", "\n\n\n".join(texts), "# fmt: on"])
    return "\n\n\n".join([readers, source_text(datasets.split), "\n".join(load)]), imports


def _resolved(path: str, base_dir: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else (base_dir / path).resolve()


def needed_definitions(root: str, modules: list[ModuleType]) -> tuple[list[str], list[str]]:
    """The top-level definitions of `modules` that `root` needs, directly or through another, as
    source text in the modules' order, and the standard-library imports they use (numpy is the
    training script's own; graphcore's names are the modules' own definitions or PROVIDED)."""
    definitions: dict[str, tuple[int, str, set[str]]] = {}
    imports: dict[str, str] = {}
    for position, module in enumerate(modules):
        source = inspect.getsource(module)
        lines = source.splitlines()
        for order, statement in enumerate(ast.parse(source).body):
            if isinstance(statement, ast.Import | ast.ImportFrom):
                imports.update(_import_lines(statement))
                continue
            targets = _defined_names(statement)
            first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
            text = "\n".join(lines[first - 1 : statement.end_lineno])
            used = {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}
            for target in targets:
                definitions[target] = (position * 10_000 + order, text, used - {target})
    wanted: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in wanted or name not in definitions:
            continue
        wanted.add(name)
        todo.extend(definitions[name][2])
    used = set().union(*(definitions[name][2] for name in wanted))
    lines = sorted({imports[name] for name in used & set(imports)} - {"import numpy as np"})
    for line in lines:  # a third-party import at a reader's top would need the script's own list
        if line.split()[1].split(".")[0] not in sys.stdlib_module_names:
            raise AssertionError(f"{root} needs {line!r}, which is not in the standard library")
    texts = dict(sorted((definitions[name][0], definitions[name][1]) for name in wanted))
    return list(texts.values()), lines


def _defined_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.FunctionDef | ast.ClassDef):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [target.id for target in statement.targets if isinstance(target, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id]
    return []


def _import_lines(statement: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Each name an import binds and the one-name import line that binds it; graphcore's and
    __future__'s are left out (the definitions come with the text, annotations are evaluated)."""
    if isinstance(statement, ast.ImportFrom):
        module = statement.module or ""
        if module == "__future__" or module.split(".")[0] == "graphcore":
            return {}
        return {
            alias.asname or alias.name: _aliased(f"from {module} import {alias.name}", alias)
            for alias in statement.names
        }
    return {
        alias.asname or alias.name.split(".")[0]: _aliased(f"import {alias.name}", alias)
        for alias in statement.names
    }


def _aliased(line: str, alias: ast.alias) -> str:
    return f"{line} as {alias.asname}" if alias.asname else line
