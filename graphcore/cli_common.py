"""What every `graphcore` command shares: exit codes, JSON output, opening a file, building a runtime."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from graphcore.fileformat import load
from graphcore.graph import Graph
from graphcore.program import Program, lower
from graphcore.validate import Report, validate

EXIT_OK, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Arguments that name something the graph does not have; exit code 2."""


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


def emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(to_plain(data)) if args.json else text)


def open_graph(args: argparse.Namespace) -> tuple[Graph, Report]:
    graph = load(args.file)
    return graph, validate(graph)


def open_program(args: argparse.Namespace) -> tuple[Graph, Program] | None:
    """The file's program, or None after printing its diagnostics."""
    graph, report = open_graph(args)
    if not report.ok:
        lines = [str(d) for d in report.diagnostics]
        emit(
            args,
            {
                "ok": False,
                "diagnostics": [
                    {"node": d.node, "port": d.port, "message": d.message} for d in report.diagnostics
                ],
            },
            "\n".join(lines),
        )
        return None
    return graph, lower(graph)


def make_runtime(args: argparse.Namespace, program: Program, graph: Graph, **extra: Any) -> Any:
    from graphcore.runtime import Runtime

    try:
        return Runtime(
            program,
            dtype=args.dtype,
            device=args.device,
            seed=args.seed,
            batch=args.batch,
            name=graph.meta.get("name", Path(args.file).stem),
            **extra,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
