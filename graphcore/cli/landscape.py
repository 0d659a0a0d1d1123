"""`graphcore landscape FILE --params P,Q | --random-directions --optimizers sgd,adam --steps N`.

The loss over a plane of the weights and each optimizer's path across it (graphcore.landscape):
text output is one line per optimizer (final point and loss); --json prints the grid and every
point of every path, the start included (docs/landscape.md). It takes the graph commands' --dtype
(default float64), --device (default auto) and --memory-budget.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from graphcore.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_common_options,
    emit,
    emit_diagnostics,
    integer,
    make_device,
    open_graph,
    path,
)
from graphcore.training.checks import MAX_SEED

HELP = "the loss over a plane of two parameters (or random directions) and optimizer paths across it"
MAX_SPAN = 1e6


def number(text: str) -> float:
    """An argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if value != value or abs(value) == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text[:40]}")
    return value


def positive(text: str) -> float:
    value = number(text)
    if not 0 < value <= MAX_SPAN:
        raise argparse.ArgumentTypeError(f"must be a number in (0, {MAX_SPAN:g}], got {text[:40]}")
    return value


def pair(text: str) -> tuple[float, float]:
    """LOW,HIGH as two finite numbers, low < high."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH such as -2,2, got {text[:40]!r}")
    low, high = (number(part) for part in parts)
    if not low < high:
        raise argparse.ArgumentTypeError(f"expected LOW < HIGH, got {text[:40]}")
    return low, high


def add_landscape_parser(sub: Any) -> None:
    from graphcore.landscape.grid import MAX_RESOLUTION
    from graphcore.landscape.paths import MAX_STEPS

    p = sub.add_parser("landscape", help=HELP, description=HELP)
    p.add_argument("file", type=path, help="a graph file (.json, format v1)")
    plane = p.add_mutually_exclusive_group(required=True)
    plane.add_argument(
        "--params",
        metavar="P,Q",
        help="two scalar Parameter nodes (ids), or elements such as fc1.weight[0,1], as the axes",
    )
    plane.add_argument(
        "--random-directions",
        action="store_true",
        help="two random filter-normalised directions through the current weights (Li et al. 2018)",
    )
    p.add_argument(
        "--optimizers",
        default="sgd,momentum,adam",
        help="comma-separated, each NAME[:KEY=VALUE...] such as adam:lr=0.05 (default sgd,momentum,adam)",
    )
    p.add_argument(
        "--steps", type=integer(1, MAX_STEPS), default=100, help="steps per optimizer (default 100)"
    )
    p.add_argument("--lr", type=positive, help="one learning rate for every optimizer without its own lr=")
    p.add_argument(
        "--resolution",
        type=integer(2, MAX_RESOLUTION),
        default=41,
        help=f"grid points per axis (default 41, at most {MAX_RESOLUTION})",
    )
    p.add_argument(
        "--span", type=positive, default=1.0, help="the grid reaches this far either side of the start"
    )
    p.add_argument(
        "--x-range", type=pair, metavar="LOW,HIGH", help="the first axis' range (instead of --span)"
    )
    p.add_argument(
        "--y-range", type=pair, metavar="LOW,HIGH", help="the second axis' range (instead of --span)"
    )
    p.add_argument("--seed", type=integer(0, MAX_SEED), default=0, help="seed of the random directions")
    add_common_options(p, "landscape")


def cmd_landscape(args: argparse.Namespace) -> int:
    from graphcore.landscape.coordinates import two_names
    from graphcore.landscape.landscape import Request, compute
    from graphcore.landscape.loss import LandscapeError
    from graphcore.landscape.paths import parse_specs

    try:
        params = None if args.params is None else two_names(args.params)
    except LandscapeError as error:
        raise UsageError(f"--params: {error}") from None
    try:
        specs = tuple(parse_specs(args.optimizers, args.lr))
    except LandscapeError as error:
        raise UsageError(f"--optimizers: {error}") from None
    make_device(args.device)
    graph, report = open_graph(args)
    if not report.ok:
        emit_diagnostics(args, report)
        return EXIT_INVALID
    request = Request(
        specs,
        args.steps,
        params,
        args.seed,
        args.span,
        args.x_range,
        args.y_range,
        args.resolution,
        args.dtype,
        args.device,
    )
    try:
        result = compute(graph, request, Path(args.file).parent)
    except LandscapeError as error:
        raise UsageError(str(error)) from None
    x, y = result.plane.axes
    lines = [
        f"{result.loss} on {result.data}, over ({x}, {y}) from ({result.plane.start[0]:.6g}, "
        f"{result.plane.start[1]:.6g}); grid {args.resolution}×{args.resolution}, "
        f"min {float(result.grid.values.min()):.6g}; {result.dtype} on {result.device}"
    ]
    width = max(len(p.label) for p in result.paths)
    for p in result.paths:
        end = f"diverged after {len(p.points) - 1} steps" if p.diverged else f"{len(p.points) - 1} steps"
        lines.append(
            f"  {p.label:<{width}}  ({p.points[-1][0]:.6g}, {p.points[-1][1]:.6g})  "
            f"loss {p.losses[-1]:.6g}  ({end})"
        )
    emit(args, result.as_dict(), "\n".join(lines))
    return EXIT_OK
