"""`graphcore grad FILE --of L --per-step NODE.PORT [--time-dim D]`: one gradient norm per time step.

Prints ‖∂L/∂v_t‖ for each step t of the sequence value v (graphcore.derivatives.time_steps), as a
line per step with a bar, or with --json as {"of", "value", "time_dim", "shape", "norms"}.
"""

from __future__ import annotations

import argparse

from graphcore.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    differentiable,
    emit,
    make_runtime,
    open_program,
)

BAR = 40  # characters of the longest bar


def add_per_step_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--per-step",
        metavar="NODE.PORT",
        help="instead of --wrt: the norm of d(--of)/d(this sequence value) at each of its time steps",
    )
    p.add_argument(
        "--time-dim",
        type=int,
        help="the time axis of --per-step's value (default 1 for (N, T, ...), 0 for (T, F))",
    )


def cmd_per_step(args: argparse.Namespace) -> int:
    from graphcore.derivatives.autodiff import trace_forward
    from graphcore.derivatives.time_steps import TimeStepError, gradient_per_step
    from graphcore.stepping import SteppingError, check_value

    if args.wrt:
        raise UsageError("give --wrt or --per-step, not both")
    if (opened := open_program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    try:
        of, value = check_value(program, args.of), check_value(program, args.per_step)
    except SteppingError as error:
        raise UsageError(str(error)) from None
    runtime = make_runtime(args, program, graph)
    trace = trace_forward(runtime)
    differentiable(trace, {"--of": [of], "--per-step": [value]})
    try:
        result = gradient_per_step(runtime, of, value, args.time_dim, trace)
    except TimeStepError as error:
        raise UsageError(f"--per-step {args.per_step}: {error}") from None
    top = max(result.norms, default=0.0) or 1.0
    lines = [f"‖d{of}/d{value}[t]‖ along dim {result.time_dim} of {list(result.shape)}:"]
    lines += [
        f"  t={t:<4} {norm:.6g}  {'█' * round(BAR * norm / top)}" for t, norm in enumerate(result.norms)
    ]
    data = {
        "of": of,
        "value": value,
        "time_dim": result.time_dim,
        "shape": list(result.shape),
        "norms": result.norms,
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK
