"""What every `graphcore` command shares: exit codes, JSON output, opening a file, building a runtime."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphcore.files.fileformat import load
from graphcore.graph import Graph
from graphcore.program import Program, lower
from graphcore.validate import Report, validate
from graphcore.words import plural  # noqa: F401 (the commands count with it)

EXIT_OK, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2
MESSAGE_LIMIT = 500  # characters of an error line; the values quoted in it are shortened already


class UsageError(Exception):
    """Arguments that cannot be used (a bad number, a name the graph does not have); exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (a UsageError), not a usage text and SystemExit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("graphcore").strip()
        raise UsageError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], refused with the range otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text[:40]}")
        return value

    return parse


def positive_float(high: float) -> Callable[[str], float]:
    """An argparse type: a finite number in (0, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not 0 < value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"must be a number in (0, {high:g}], got {text[:40]}")
        return value

    return parse


def path(text: str) -> str:
    """An argparse type: a file name the system can take (not empty, no NUL character)."""
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a file name, got {text[:40]!r}")
    return text


def device(text: str) -> str:
    """An argparse type: the device names training sections and runtimes take."""
    from graphcore.training.config import DEVICE

    if not DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text[:40]!r}")
    return text


def memory_size(text: str) -> str:
    """An argparse type: a memory budget such as 4GB or 512MB (graphcore.memory reads it)."""
    from graphcore.memory import parse_size

    try:
        parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_common_options(p: argparse.ArgumentParser, command: str) -> None:
    """--json, --dtype and --device, which every graph command takes, and --memory-budget for those
    that compute (check computes nothing: it only makes sure that a --device given exists here)."""
    p.add_argument("--json", action="store_true", help="print one JSON object")
    default_dtype = "float32" if command == "train" else "float64"
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=default_dtype,
        help=f"floating-point precision (default {default_dtype})"
        + ("; accepted like the other commands', check computes nothing" if command == "check" else ""),
    )
    defaults = {
        "check": (None, "fail unless this device exists here (check itself computes nothing)"),
        "train": (None, "cpu, cuda or cuda:N (default: the training section's, else auto)"),
    }
    default, help_text = defaults.get(command, ("auto", "cpu, cuda or cuda:N (default: cuda when present)"))
    p.add_argument("--device", type=device, default=default, help=help_text)
    if command != "check":
        p.add_argument(
            "--memory-budget",
            type=memory_size,
            metavar="SIZE",
            help="refuse graphs that need more memory than this, e.g. 2GB "
            "(default: BACKPROP_MEMORY_BUDGET, else 80%% of what is free)",
        )


@contextmanager
def memory_budget(text: str | None) -> Iterator[None]:
    """The budget set for the duration of one command, then put back (main may run in-process)."""
    from graphcore.memory import ENV, set_budget

    previous = os.environ.get(ENV)
    if text is not None:
        set_budget(text)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous


def printable(text: str) -> str:
    """Text any terminal can take: lone surrogates (valid in JSON strings) written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(error: BaseException) -> str:
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    return printable(text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…")


def exit_code(error: Exception) -> int | None:
    """EXIT_INVALID for a graph that fails when it runs, EXIT_UNUSABLE for input that cannot be used,
    None for an exception no user input should cause (a bug: the caller reports it as one)."""
    from graphcore.exchange.export_training import ExportError
    from graphcore.exchange.import_builder import ImportTorchError
    from graphcore.files.fileformat import FileFormatError
    from graphcore.memory import MemoryBudgetError
    from graphcore.program import NodeError
    from graphcore.stepping import SteppingError
    from graphcore.training.config import TrainingConfigError
    from graphcore.training.datasets import DatasetError
    from graphcore.training.records import StepError
    from graphcore.validate import InvalidGraph

    if isinstance(error, NodeError | InvalidGraph | StepError):
        return EXIT_INVALID
    unusable = (UsageError, NotImplementedError, FileFormatError, TrainingConfigError, DatasetError)
    if isinstance(
        error, unusable + (MemoryBudgetError, SteppingError, ExportError, ImportTorchError, OSError)
    ):
        return EXIT_UNUSABLE
    return None


def to_plain(value: Any) -> Any:
    """Tensors as numbers or nested lists; non-finite floats as strings, so the output is strict JSON."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def show_value(value: Any) -> str:
    plain = to_plain(value)
    return f"{plain:.10g}" if isinstance(plain, float) else json.dumps(plain)


def matrix_text(rows: list[str], columns: list[str], matrix: list[list[float]]) -> list[str]:
    """A matrix as aligned lines: a header naming each column, then each row named on its left."""
    cells = [[f"{v:.6g}" for v in values] for values in matrix]
    widths = [max([len(name), *(len(row[j]) for row in cells)]) for j, name in enumerate(columns)]
    left = max(map(len, rows), default=0)

    def line(label: str, items: list[str]) -> str:
        return "  " + label.ljust(left) + "".join(f"  {item:>{w}}" for item, w in zip(items, widths))

    return [line("", columns)] + [line(row, items) for row, items in zip(rows, cells)]


def emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(to_plain(data)) if args.json else printable(text))


def open_graph(args: argparse.Namespace) -> tuple[Graph, Report]:
    graph = load(args.file)
    return graph, validate(graph)


def emit_diagnostics(args: argparse.Namespace, report: Report) -> None:
    """A graph that does not check: one line per diagnostic, or with --json each as an object."""
    emit(
        args,
        {"ok": False, "diagnostics": [d.as_dict() for d in report.diagnostics]},
        "\n".join(map(str, report.diagnostics)),
    )


def open_program(args: argparse.Namespace) -> tuple[Graph, Program] | None:
    """The file's program, or None after printing its diagnostics."""
    graph, report = open_graph(args)
    if not report.ok:
        emit_diagnostics(args, report)
        return None
    return graph, lower(graph)


def make_device(name: str) -> Any:
    """The torch device `name`, or a UsageError when this machine has none such."""
    from graphcore.runtime import resolve_device

    try:
        return resolve_device(name)
    except ValueError as error:
        raise UsageError(str(error)) from None


def make_runtime(args: argparse.Namespace, program: Program, graph: Graph, **extra: Any) -> Any:
    """The runtime a command computes with; arrays from its --input arguments feed their Inputs."""
    from graphcore.cli.inputs import read_inputs
    from graphcore.runtime import Runtime

    given = read_inputs(program, getattr(args, "input", None) or [])
    try:
        return Runtime(
            program,
            dtype=args.dtype,
            device=args.device,
            seed=args.seed,
            batch=args.batch,
            name=graph.meta.get("name", Path(args.file).stem),
            given=given,
            **extra,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


def differentiable(trace: Any, values: dict[str, list[str]]) -> None:
    """Refuse derivatives of or with respect to integer values (class labels, indices): they have none."""
    for flag, names in values.items():
        for name in names:
            value = trace.values.get(name)
            if value is not None and not (value.is_floating_point() or value.is_complex()):
                raise UsageError(
                    f"{flag} {name}: the value holds integers ({str(value.dtype).removeprefix('torch.')}), "
                    "which have no derivative; pick a floating-point value"
                )
