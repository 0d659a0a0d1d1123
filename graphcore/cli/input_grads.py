"""`graphcore saliency`, `graphcore maximize` and `graphcore adversarial`: backprop to an Input.

Each runs the graph on one sample (row --sample of its training dataset, else of generated inputs),
at --dtype (default float64) on --device (default auto), with trained weights (--train-steps N of
its own training, on that device), else its saved weights, else the initial ones, which the output
then calls untrained. The unit syntax is graphcore.input_grads.unit's (docs/input-gradients.md).
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
    add_common_options,
    emit,
    integer,
    make_device,
    open_program,
    path,
    show_value,
)
from graphcore.input_grads import MAX_SAMPLE, MAX_STEPS, OPTIMIZERS, STARTS
from graphcore.training.checks import MAX_COUNT, MAX_SEED

BAR = 30  # characters of the longest probability bar


def _asked(args: argparse.Namespace, value_of: Callable[[Any, Any], Any]) -> tuple[Any, Any] | None:
    """(what --of names, the InputModel), or None after printing the graph's diagnostics.
    `value_of(program, graph)` reads --of; InputGradErrors become one-line usage errors."""
    from graphcore.input_grads.model import InputModel
    from graphcore.input_grads.unit import InputGradError

    make_device(args.device)
    if (opened := open_program(args)) is None:
        return None
    graph, program = opened
    base = Path(args.file).parent
    try:
        asked = value_of(program, graph)
        value = getattr(asked, "value", asked)
        state = _trained(graph, base, args) if args.train_steps else None
        model = InputModel(
            program,
            args.input,
            sample=args.sample,
            state=state,
            base_dir=base,
            seed=args.seed,
            values=[value],
            training=graph.training,
            dtype=args.dtype,
            device=args.device,
        )
    except InputGradError as error:
        raise UsageError(str(error)) from None
    if args.train_steps:
        model.weights = f"weights trained {args.train_steps} steps (seed {args.seed})"
    return asked, model


def _trained(graph: Any, base: Path, args: argparse.Namespace) -> dict[str, Any]:
    from graphcore.input_grads.model import train_weights
    from graphcore.training.config import TrainingConfigError
    from graphcore.training.datasets import DatasetError

    try:
        return train_weights(graph, base, args.train_steps, args.seed, args.device)
    except (TrainingConfigError, DatasetError) as error:
        raise UsageError(f"--train-steps: {error}") from None


def _unit(args: argparse.Namespace) -> Callable[[Any, Any], Any]:
    from graphcore.input_grads.unit import InputGradError, parse_unit

    def read(program: Any, _: Any) -> Any:
        try:
            return parse_unit(program, args.of)
        except InputGradError as error:
            raise InputGradError(f"--of: {error}") from None

    return read


def _classifier(args: argparse.Namespace) -> Callable[[Any, Any], str]:
    """--of as a NODE.PORT (no index), else the training section's predict value."""

    def read(program: Any, graph: Any) -> str:
        from graphcore.input_grads.unit import InputGradError

        if args.of is None:
            predict = graph.training.get("predict") if isinstance(graph.training, dict) else None
            if not isinstance(predict, str):
                raise InputGradError("give --of NODE.PORT (the logits): the graph names no training.predict")
            return predict
        unit = _unit(args)(program, graph)
        if unit.index or unit.channel is not None:
            raise InputGradError(f"--of {args.of}: name the logits as NODE.PORT, without an index")
        return str(unit.value)

    return read


def _computed_in(model: Any) -> dict[str, str]:
    """The dtype and device the model computed in (auto resolved), as --json reports them."""
    return {"dtype": str(model.runtime.dtype).removeprefix("torch."), "device": str(model.runtime.device)}


def _computed_in_words(model: Any) -> str:
    where = _computed_in(model)
    return f"{where['dtype']} on {where['device']}"


def _answer(work: Callable[[], Any]) -> Any:
    from graphcore.input_grads.unit import InputGradError

    try:
        return work()
    except InputGradError as error:
        raise UsageError(str(error)) from None


def _save(file: str | None, array: Any) -> None:
    if file is None:
        return
    import numpy as np

    try:
        np.save(file, array.detach().cpu().numpy(), allow_pickle=False)
    except OSError as error:
        raise UsageError(f"--out: cannot write {file}: {error.strerror or error}") from None


def cmd_saliency(args: argparse.Namespace) -> int:
    from graphcore.input_grads.saliency import saliency

    if (asked := _asked(args, _unit(args))) is None:
        return EXIT_INVALID
    unit, model = asked
    result = _answer(lambda: saliency(model, unit))
    _save(args.out, result.gradient)
    gradient = result.gradient
    lines = [
        f"{unit} = {result.value:.6g} at {result.source}, {result.weights}, {_computed_in_words(model)}",
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
        **_computed_in(model),
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_maximize(args: argparse.Namespace) -> int:
    from graphcore.input_grads.maximize import maximize

    if (asked := _asked(args, _unit(args))) is None:
        return EXIT_INVALID
    unit, model = asked
    ascent = _answer(
        lambda: maximize(
            model, unit, args.steps, args.lr, args.l2, args.tv, args.start, args.seed, args.optimizer
        )
    )
    _save(args.out, ascent.x)
    lines = [
        f"{unit}: {ascent.units[0]:.6g} → {ascent.units[-1]:.6g} after {args.steps} steps "
        f"(objective {ascent.objectives[0]:.6g} → {ascent.objectives[-1]:.6g}), {model.weights}, "
        f"{_computed_in_words(model)}",
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
        **_computed_in(model),
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_adversarial(args: argparse.Namespace) -> int:
    from graphcore.input_grads.adversarial import fgsm

    if (asked := _asked(args, _classifier(args))) is None:
        return EXIT_INVALID
    output, model = asked
    result = _answer(lambda: fgsm(model, output, args.eps, args.label))
    _save(args.out, result.adversarial)
    lines = [
        f"FGSM on {model.input} ({result.source}), eps {result.eps:g}, label {result.label}, "
        f"{result.weights}, {_computed_in_words(model)}",
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
        **_computed_in(model),
    }
    emit(args, data, "\n".join(lines))
    return EXIT_OK


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
    for name, (_, help_text) in INPUT_GRAD_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", type=path, help="a graph file (.json, format v1)")
        add_common_options(p, name)
        p.add_argument("--input", required=True, help="the Input node (its id or label)")
        p.add_argument("--sample", type=integer(0, MAX_SAMPLE), default=0, help="which sample (default 0)")
        p.add_argument(
            "--train-steps",
            type=integer(0, MAX_COUNT),
            default=0,
            help="first train this many steps as the training section says (default: saved or initial weights)",
        )
        p.add_argument(
            "--seed", type=integer(0, MAX_SEED), default=0, help="seed of weights, training and noise"
        )
        p.add_argument("--out", type=path, metavar="FILE.npy", help="write the gradient (or input) here")
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
