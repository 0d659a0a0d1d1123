"""The dataset half of `graphcore export --train`: `load_data(seed)` as plain Python.

The exported file carries the text of the graphcore.training.datasets functions the training section
uses (a generator, or the file reader), so its data are the app's, batch for batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphcore.codegen import format_expression
from graphcore.training import datasets
from graphcore.training.code import literal


class ExportError(ValueError):
    """A graph that cannot be exported as asked; the message says why."""


def source_text(function: Any) -> str:
    return inspect.getsource(function).strip("\n")


def data_code(dataset: Mapping[str, Any], base_dir: Path) -> tuple[str, bool]:
    """`load_data(seed)` and the graphcore.training.datasets functions it calls; True when it reads a file."""
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
            *format_expression(f"from_file(Path(path), {literal(config.get('fields', {}))})", "    return "),
        ]
        return "\n\n\n".join(["\n".join(header), *map(source_text, functions), "\n".join(load)]), True
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
    return "\n\n\n".join(parts), False
