"""`graphcore saliency`, `graphcore maximize` and `graphcore adversarial`: backprop to an Input.

Each runs the graph on one sample (row --sample of its training dataset, else of generated inputs)
with trained weights (--train-steps N of its own training), else its saved weights, else the
initial ones, which the output then calls untrained. The unit syntax is graphcore.input_grads.unit's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphcore.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    emit,
    integer,
    open_program,
    path,
    show_value,
)
from graphcore.training.checks import MAX_COUNT, MAX_SEED

BAR = 30  # characters of the longest probability bar


def _model(args: argparse.Namespace, values: list[str]) -> Any:
    from graphcore.input_grads.model import InputModel, train_weights
    from graphcore.input_grads.unit import InputGradError

    if (opened := open_program(args)) is None:
        return None
    graph, program = opened
    base = Path(args.file).parent
    try:
        state = train_weights(graph, base, args.train_steps, args.seed) if args.train_steps else None
        model = InputModel(
            program,
            args.input,
            sample=args.sample,
            state=state,
            base_dir=base,
            seed=args.seed,
            values=values,
            training=graph.training,
        )
    except InputGradError as error:
        raise UsageError(str(error)) from None
    if args.train_steps:
        model.weights = f"weights trained {args.train_steps} steps (seed {args.seed})"
    return model


def _unit(args: argparse.Namespace) -> Any:
    from graphcore.files.fileformat import load
    from graphcore.input_grads.unit import InputGradError, parse_unit
    from graphcore.program import lower
    from graphcore.validate import validate

    graph = load(args.file)
    if not validate(graph).ok:
        return None  # _model prints the diagnostics
    try:
        return parse_unit(lower(graph), args.of)
    except InputGradError as error:
        raise UsageError(f"--of: {error}") from None


def _save(file: str | None, array: Any) -> None:
    if file is None:
        return
    import numpy as np

    try:
        np.save(file, array.detach().cpu().numpy(), allow_pickle=False)
    except OSError as error:
        raise UsageError(f"--out: cannot write {file}: {error.strerror or error}") from None


def _answer(work: Callable[[], Any]) -> Any:
    from graphcore.input_grads.unit import InputGradError

    try:
        return work()
    except InputGradError as error:
        raise UsageError(str(error)) from None


def cmd_saliency(args: argparse.Namespace) -> int:
    from graphcore.input_grads.saliency import saliency

    if (unit := _unit(args)) is None or (model := _model(args, [unit.value])) is None:
        return _diagnostics(args)
    result = _answer(lambda: saliency(model, unit))
    _save(args.out, result.gradient)
    gradient = result.gradient
    lines = [
        f"{unit} = {result.value:.6g} at {result.source}, {result.weights}",
        f"d{unit}/d{model.input} (shape {list(gradient.shape)}): "
        f"max |g| {float(gradient.abs().max()):.4g}, mean {float(gradient.mean()):.4g}",
        f"  {show_value(gradient)}" if args.out is None else f"  written to {args.out}",
    ]
    data = {
        "unit": str(unit),
        "input": model.input,
        "value": result.value,
        "shape": list(gradient.shape),
        "gradient": gradient,
        "weights": result.weights,
        "sample": result.source,
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_maximize(args: argparse.Namespace) -> int:
    from graphcore.input_grads.maximize import maximize

    if (unit := _unit(args)) is None or (model := _model(args, [unit.value])) is None:
        return _diagnostics(args)
    ascent = _answer(
        lambda: maximize(
            model, unit, args.steps, args.lr, args.l2, args.tv, args.start, args.seed, args.optimizer
        )
    )
    _save(args.out, ascent.x)
    lines = [
        f"{unit}: {ascent.units[0]:.6g} → {ascent.units[-1]:.6g} after {args.steps} steps "
        f"(objective {ascent.objectives[0]:.6g} → {ascent.objectives[-1]:.6g}), {model.weights}",
        f"  x = {show_value(ascent.x)}" if args.out is None else f"  input written to {args.out}",
    ]
    data = {
        "unit": str(unit),
        "input": model.input,
        "steps": ascent.steps,
        "units": ascent.units,
        "objectives": ascent.objectives,
        "x": ascent.x,
        "weights": model.weights,
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_adversarial(args: argparse.Namespace) -> int:
    from graphcore.input_grads.adversarial import fgsm

    if (output := _classifier(args)) is None or (model := _model(args, [output])) is None:
        return _diagnostics(args)
    result = _answer(lambda: fgsm(model, output, args.eps, args.label))
    _save(args.out, result.adversarial)
    lines = [
        f"FGSM on {model.input} ({result.source}), eps {result.eps:g}, label {result.label}, {result.weights}",
        f"predicted {result.predicted_before} before, {result.predicted_after} after",
    ]
    for k, (p, q) in enumerate(zip(result.before, result.after)):
        lines.append(f"  class {k:<3} {p:7.4f} → {q:7.4f}  {'█' * round(BAR * q)}")
    data = {
        "output": output,
        "input": model.input,
        "eps": result.eps,
        "label": result.label,
        "before": result.before,
        "after": result.after,
        "predicted_before": result.predicted_before,
        "predicted_after": result.predicted_after,
        "x": result.x,
        "perturbation": result.perturbation,
        "adversarial": result.adversarial,
        "weights": result.weights,
        "sample": result.source,
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def _classifier(args: argparse.Namespace) -> str | None:
    """--of as a NODE.PORT, else the training section's predict value."""
    from graphcore.files.fileformat import load
    from graphcore.input_grads.unit import InputGradError, parse_unit
    from graphcore.program import lower
    from graphcore.validate import validate

    graph = load(args.file)
    if not validate(graph).ok:
        return None
    if args.of is None:
        predict = graph.training.get("predict") if isinstance(graph.training, dict) else None
        if not isinstance(predict, str):
            raise UsageError(
                "adversarial: give --of NODE.PORT (the logits): the graph names no training.predict"
            )
        return predict
    try:
        unit = parse_unit(lower(graph), args.of)
    except InputGradError as error:
        raise UsageError(f"--of: {error}") from None
    if unit.index or unit.channel is not None:
        raise UsageError(f"--of {args.of}: name the logits as NODE.PORT, without an index")
    return unit.value


def _diagnostics(args: argparse.Namespace) -> int:
    """The graph does not validate: print why (open_program does), exit 1."""
    open_program(args)
    return EXIT_INVALID


def finite(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not low <= value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"must be a number from {low:g} to {high:g}, got {text[:40]}")
        return value

    return parse


INPUT_GRAD_COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "saliency": (cmd_saliency, "the gradient of one unit with respect to an Input, at one sample"),
    "maximize": (cmd_maximize, "gradient ascent on an Input to maximise one unit (feature visualisation)"),
    "adversarial": (cmd_adversarial, "the fast-gradient-sign adversarial example of one sample"),
}


def add_input_grad_parsers(sub: Any) -> None:
    from graphcore.cli.common import add_common_options
    from graphcore.input_grads import MAX_STEPS, OPTIMIZERS, STARTS

    for name, (_, help_text) in INPUT_GRAD_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", type=path, help="a graph file (.json, format v1)")
        add_common_options(p, name)
        p.add_argument("--input", required=True, help="the Input node (its id or label)")
        p.add_argument("--sample", type=integer(0, 10_000_000), default=0, help="which sample (default 0)")
        p.add_argument(
            "--train-steps",
            type=integer(0, MAX_COUNT),
            default=0,
            help="first train this many steps as the training section says (default: saved or initial weights)",
        )
        p.add_argument(
            "--seed", type=integer(0, MAX_SEED), default=0, help="seed of weights, training and noise"
        )
        p.add_argument("--out", type=path, metavar="FILE.npy", help="write the array (gradient / input) here")
        if name == "adversarial":
            p.add_argument("--of", help="the logits as NODE.PORT (default: training.predict)")
            p.add_argument("--eps", type=finite(0.0, 1e6), required=True, help="size of the sign step")
            p.add_argument("--label", type=integer(0, 1_000_000), help="true class (default: the sample's)")
            continue
        p.add_argument("--of", required=True, help="the unit: NODE.PORT[i], NODE.PORT[i, j] or NODE.PORT:c=K")
        if name == "maximize":
            p.add_argument(
                "--steps", type=integer(1, MAX_STEPS), default=100, help="ascent steps (default 100)"
            )
            p.add_argument("--lr", type=finite(1e-12, 1e6), default=0.1, help="step size (default 0.1)")
            p.add_argument("--l2", type=finite(0.0, 1e6), default=0.0, help="λ of the L2 penalty λ‖x‖²")
            p.add_argument(
                "--tv", type=finite(0.0, 1e6), default=0.0, help="λ of the total-variation penalty"
            )
            p.add_argument("--start", choices=STARTS, default="zeros", help="the first input (default zeros)")
            p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="sgd or adam (default sgd)")
