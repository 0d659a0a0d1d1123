"""The `graphcore` command: check, run, differentiate, step through, train, export and import graphs.

Exit codes: 0 success, 1 the graph has problems (diagnostics printed), 2 the file or the
arguments cannot be used. With --json each command prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from graphcore.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNUSABLE,
    ArgumentParser,
    UsageError,
    add_common_options,
    differentiable,
    emit,
    emit_diagnostics,
    exit_code,
    integer,
    make_device,
    make_runtime,
    matrix_text,
    memory_budget,
    one_line,
    open_graph,
    open_program,
    path,
    plural,
    positive_float,
    show_value,
)
from graphcore.cli.exchange import EXCHANGE_COMMANDS, add_exchange_parsers
from graphcore.cli.input_grads import INPUT_GRAD_COMMANDS, add_input_grad_parsers
from graphcore.cli.landscape import HELP as LANDSCAPE_HELP
from graphcore.cli.landscape import add_landscape_parser, cmd_landscape
from graphcore.cli.time_steps import add_per_step_options, cmd_per_step
from graphcore.program import Program
from graphcore.training.checks import MAX_COUNT, MAX_SEED
from graphcore.training.config import PRECISIONS

EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # as a shell reports SIGINT and SIGPIPE
MAX_BATCH = 1_000_000
SEED, COUNT, BATCH = integer(0, MAX_SEED), integer(1, MAX_COUNT), integer(1, MAX_BATCH)


def cmd_check(args: argparse.Namespace) -> int:
    graph, report = open_graph(args)
    if args.device is not None:
        make_device(args.device)
    if report.ok:
        edges = len(graph.edges)
        emit(
            args,
            {
                "ok": True,
                "nodes": len(graph),
                "edges": edges,
                "shapes": {k: list(v) for k, v in report.shapes.items()},
            },
            f"ok: {plural(len(graph), 'node')}, {plural(edges, 'edge')}",
        )
        return EXIT_OK
    emit_diagnostics(args, report)
    return EXIT_INVALID


def cmd_run(args: argparse.Namespace) -> int:
    if (opened := open_program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    outputs = make_runtime(args, program, graph).forward()
    emit(args, {"outputs": outputs}, "\n".join(f"{k} = {show_value(v)}" for k, v in outputs.items()))
    return EXIT_OK


def cmd_grad(args: argparse.Namespace) -> int:
    from graphcore.derivatives.api import jacobian
    from graphcore.derivatives.autodiff import trace_forward
    from graphcore.stepping import SteppingError, check_value

    if args.per_step is not None:
        return cmd_per_step(args)
    if (opened := open_program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    try:
        of = check_value(program, args.of)
        wrt = {name: check_value(program, name) for name in (args.wrt or "").split(",") if name}
    except SteppingError as error:
        raise UsageError(str(error)) from None
    if not wrt:
        raise UsageError("grad: give --wrt NODE[,NODE...] (or --per-step NODE.PORT)")
    runtime = make_runtime(args, program, graph)
    trace = trace_forward(runtime)
    differentiable(trace, {"--of": [of], "--wrt": list(wrt.values())})
    modes = ("forward", "reverse") if args.mode == "both" else (args.mode,)
    results = {}
    for mode in modes:
        derivative = jacobian(runtime, [of], list(wrt.values()), mode, trace)
        results[mode] = {
            "mode": mode,
            "value": derivative.value,
            "passes": derivative.passes,
            "grads": {name: derivative.grads[value] for name, value in wrt.items()},
        }
    lines = []
    for result in results.values():
        passes = plural(result["passes"], "pass", "passes")
        lines.append(f"{of} = {show_value(result['value'])}  ({result['mode']} mode, {passes})")
        lines += [f"  d{of}/d{name} = {show_value(g)}" for name, g in result["grads"].items()]
    if args.mode != "both":
        emit(args, results[args.mode], "\n".join(lines))
        return EXIT_OK
    diff = max(
        (
            float((results["forward"]["grads"][n] - results["reverse"]["grads"][n]).abs().max())
            for n in wrt
            if results["forward"]["grads"][n].numel()
        ),
        default=0.0,
    )
    emit(
        args, {**results, "max_abs_diff": diff}, "\n".join([*lines, f"max |forward − reverse| = {diff:.3g}"])
    )
    return EXIT_OK


def cmd_steps(args: argparse.Namespace) -> int:
    from graphcore.derivatives.autodiff import trace_forward
    from graphcore.stepping import Stepper, SteppingError

    if (opened := open_program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    runtime = make_runtime(args, program, graph)
    try:
        stepper = Stepper(runtime, of=args.of)
    except SteppingError as error:
        raise UsageError(str(error)) from None
    differentiable(trace_forward(runtime), {"--of": [stepper.of]})
    steps, lines = [], []
    for event in stepper.events():
        record = {
            "index": event.index,
            "phase": event.phase,
            "node": event.node,
            "reads": list(event.step.reads),
            "writes": list(event.step.writes),
        }
        for key in ("inputs", "outputs", "upstream", "passed", "weights", "accumulated"):
            if getattr(event, key):
                record[key] = getattr(event, key)
        steps.append(record)
        shown = event.outputs or {
            **event.passed,
            **event.accumulated,
            **{f"{event.node}.{k}": v for k, v in event.weights.items()},
        }
        reads = (
            ""
            if event.phase == "forward"
            else "  ← " + ", ".join(f"{k}={show_value(v)}" for k, v in event.upstream.items())
        )
        lines.append(
            f"{event.index:>3} {event.phase:<10} {event.node:<12} "
            + ", ".join(f"{k} = {show_value(v)}" for k, v in shown.items())
            + reads
        )
    emit(args, {"of": stepper.of, "steps": steps}, "\n".join(lines))
    return EXIT_OK


def _values(program: Program, names: str, flag: str) -> list[str]:
    from graphcore.stepping import SteppingError, check_value

    try:
        values = [check_value(program, name) for name in names.split(",") if name]
    except SteppingError as error:
        raise UsageError(str(error)) from None
    if not values:
        raise UsageError(f"{flag} needs at least one node")
    return values


def cmd_jacobian(args: argparse.Namespace) -> int:
    from graphcore.derivatives.api import METHODS, jacobian
    from graphcore.derivatives.autodiff import trace_forward

    if (opened := open_program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    of, wrt = _values(program, args.of, "--of"), _values(program, args.wrt, "--wrt")
    runtime = make_runtime(args, program, graph)
    trace = trace_forward(runtime)
    differentiable(trace, {"--of": of, "--wrt": wrt})
    methods = METHODS if args.mode == "all" else (args.mode,)
    results = {m: jacobian(runtime, of, wrt, m, trace, eps=args.eps) for m in methods}
    first = next(iter(results.values()))
    data: dict[str, Any] = {"of": of, "wrt": wrt, "rows": first.rows, "columns": first.columns}
    lines = []
    for method, result in results.items():
        data[method] = {"matrix": result.matrix, "passes": result.passes, "seconds": result.seconds}
        timing = f"{plural(result.passes, 'pass', 'passes')}, {result.seconds * 1e3:.2f} ms"
        lines.append(f"{method} ({timing}), d row / d column:")
        lines += matrix_text(result.rows, result.columns, result.matrix.tolist())
    if len(results) > 1:
        matrices = [r.matrix for r in results.values()]
        diff = max(float((a - b).abs().max()) if a.numel() else 0.0 for a in matrices for b in matrices)
        data["max_abs_diff"] = diff
        lines.append(f"max difference between methods = {diff:.3g}")
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def progress_line(progress: Any) -> str:
    """Where a run is: its steps, epoch and latest loss, or each objective's latest loss by name."""
    done = progress.step / max(1, progress.total_steps)
    bar = "█" * int(done * 30) + "·" * (30 - int(done * 30))
    if len(progress.objectives) > 1:
        losses = "  ".join(
            f"{name} loss {values[-1][1]:.4g}" for name, values in progress.objectives.items() if values
        )
    else:
        losses = f"loss {progress.losses[-1][1] if progress.losses else float('nan'):.4g}"
    return f"{bar} {progress.step}/{progress.total_steps}  epoch {progress.epoch}  {losses}"


def _progress_bar(progress: Any) -> None:
    print(f"\r{progress_line(progress)}", end="", file=sys.stderr, flush=True)


def last_losses(objectives: dict[str, list[float | None]]) -> str:
    """Each objective's loss at its last step, for the summary of a run with several."""
    last = {
        name: next((v for v in reversed(values) if v is not None), None)
        for name, values in objectives.items()
    }
    return "last step: " + ", ".join(
        f"{name} loss {value:.4g}" for name, value in last.items() if value is not None
    )


def cmd_train(args: argparse.Namespace) -> int:
    from graphcore.training.train import Trainer

    if (opened := open_program(args)) is None:
        return EXIT_INVALID
    graph, _ = opened
    overrides = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("steps", args.steps),
            ("seed", args.seed),
            ("device", args.device),
            ("precision", args.precision),
            ("compile", args.compile),
        )
        if value is not None
    }
    if args.epochs is not None and args.steps is None:
        overrides["steps"] = None
    try:
        trainer = Trainer(graph, Path(args.file).parent, overrides, dtype=args.dtype)
    except ValueError as error:  # an unknown or absent device, from torch via the runtime
        if exit_code(error) is not None:
            raise
        raise UsageError(str(error)) from None
    show_bar = not args.json and sys.stderr.isatty()
    result = trainer.run(listener=_progress_bar if show_bar else None)
    if show_bar:
        print(file=sys.stderr)
    lines = [f"{result.stopped} after {plural(len(result.losses), 'step')} in {result.wall_time:.2f} s"]
    if len(result.objectives) > 1:
        lines.append(last_losses(result.objectives))
    for split, metrics in (("train", result.train), ("validation", result.validation)):
        if metrics:
            lines.append(f"{split}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    if result.nonfinite is not None:
        lines.append(str(result.nonfinite))
    emit(args, result.as_dict(), "\n".join(lines))
    return EXIT_INVALID if result.nonfinite is not None else EXIT_OK


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "check": (cmd_check, "validate a graph: exit 0 when clean, 1 with one line per problem"),
    "run": (cmd_run, "evaluate the graph and print every output that nothing consumes"),
    "grad": (cmd_grad, "derivatives of one output with respect to some nodes, by forward or reverse mode"),
    "steps": (cmd_steps, "forward and backward propagation, one node per step, with values and gradients"),
    "jacobian": (
        cmd_jacobian,
        "the full Jacobian of some outputs by forward mode, reverse mode and finite differences",
    ),
    "train": (cmd_train, "train the graph as its training section says (float32 by default)"),
}

LANDSCAPE_COMMANDS = {"landscape": (cmd_landscape, LANDSCAPE_HELP)}


def parser() -> argparse.ArgumentParser:
    top = ArgumentParser(prog="graphcore", description="Backprop Studio's graph engine.")
    sub = top.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", type=path, help="a graph file (.json, format v1)")
        add_common_options(p, name)
        if name == "train":
            p.add_argument("--seed", type=SEED, help="seed for weights, data order and generated data")
            p.add_argument("--epochs", type=COUNT, help="train for this many epochs")
            p.add_argument("--steps", type=COUNT, help="train for this many optimizer steps")
            p.add_argument(
                "--precision",
                choices=PRECISIONS,
                help="mixed precision of the forward passes (autocast): fp32 (none), bf16, or fp16 "
                "(CUDA only, with loss scaling); overrides the file's training.precision",
            )
            p.add_argument(
                "--compile",
                action=argparse.BooleanOptionalAction,
                help="run the steps through torch.compile (on the CPU it needs a C++ compiler); "
                "--no-compile turns a file's training.compile off",
            )
        elif name != "check":
            p.add_argument("--seed", type=SEED, default=0, help="seed for weights and generated inputs")
            p.add_argument(
                "--batch", type=BATCH, default=4, help="size of symbolic dims such as N (default 4)"
            )
        if name in ("run", "grad", "steps"):
            p.add_argument(
                "--input",
                action="append",
                type=path,
                metavar="NAME=FILE.npy",
                help="feed Input NAME (its id or label) from a .npy file, or FILE.npz:KEY; repeatable",
            )
        if name == "grad":
            p.add_argument("--of", required=True, help="the output, as NODE.PORT (or NODE)")
            p.add_argument("--wrt", help="comma-separated node ids (or NODE.PORT)")
            p.add_argument("--mode", choices=("reverse", "forward", "both"), default="reverse")
            add_per_step_options(p)
        if name == "steps":
            p.add_argument("--of", help="the output to differentiate (default: the only output)")
        if name == "jacobian":
            p.add_argument("--of", required=True, help="comma-separated outputs, as NODE.PORT (or NODE)")
            p.add_argument("--wrt", required=True, help="comma-separated inputs or intermediate values")
            p.add_argument("--mode", choices=("forward", "reverse", "fd", "all"), default="all")
            p.add_argument(
                "--eps", type=positive_float(1.0), default=1e-6, help="finite-difference step (default 1e-6)"
            )
    add_exchange_parsers(sub)
    add_input_grad_parsers(sub)
    add_landscape_parser(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    from graphcore.registry import load_library

    load_library()  # the one place the CLI loads the node library: every command reads it
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    with warnings.catch_warnings():  # restores showwarning, for callers in the same process
        warnings.showwarning = show_warning
        return run_command(argv, as_json)


def show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    """A warning (torch's broadcasting warnings, say) as one line, like the errors."""
    print(f"graphcore: warning: {one_line(Exception(message))}", file=sys.stderr)


def run_command(argv: list[str], as_json: bool) -> int:
    try:
        args = parser().parse_args(argv)
        with memory_budget(getattr(args, "memory_budget", None)):
            code = {**COMMANDS, **EXCHANGE_COMMANDS, **INPUT_GRAD_COMMANDS, **LANDSCAPE_COMMANDS}[
                args.command
            ][0](args)
        sys.stdout.flush()  # a closed pipe shows here, where it can be caught, not at exit
        return code
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        report("interrupted", as_json)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - every failure ends as one line, never a traceback
        failure = exit_code(error)
        report(
            one_line(error)
            if failure is not None
            else f"internal error: {type(error).__name__}: {one_line(error)}",
            as_json,
        )
        return EXIT_UNUSABLE if failure is None else failure


def report(message: str, as_json: bool) -> None:
    """The error as one line on stderr, and with --json as the one JSON object on stdout."""
    try:
        if as_json:
            print(json.dumps({"error": message}), flush=True)
        print(f"graphcore: {message}", file=sys.stderr, flush=True)
    except BrokenPipeError:
        quiet_stdout()


def quiet_stdout() -> None:
    """After a closed pipe: point stdout at the null device, so the flush at exit stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (stdout captured in-process): nothing to flush
        pass


if __name__ == "__main__":
    sys.exit(main())
