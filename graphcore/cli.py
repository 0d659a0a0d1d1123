"""The `graphcore` command: check, run, differentiate, step through, train, export and import graphs.

Exit codes: 0 success, 1 the graph has problems (diagnostics printed), 2 the file or the
arguments cannot be used. With --json each command prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from graphcore.fileformat import FileFormatError, load
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


def _open(args: argparse.Namespace) -> tuple[Graph, Report]:
    graph = load(args.file)
    return graph, validate(graph)


def _program(args: argparse.Namespace) -> tuple[Graph, Program] | None:
    """The file's program, or None after printing its diagnostics."""
    graph, report = _open(args)
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


def _runtime(args: argparse.Namespace, program: Program, graph: Graph, **extra: Any) -> Any:
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


def cmd_check(args: argparse.Namespace) -> int:
    graph, report = _open(args)
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
            f"ok: {len(graph)} nodes, {edges} edges",
        )
        return EXIT_OK
    emit(
        args,
        {
            "ok": False,
            "diagnostics": [
                {"node": d.node, "port": d.port, "message": d.message} for d in report.diagnostics
            ],
        },
        "\n".join(map(str, report.diagnostics)),
    )
    return EXIT_INVALID


def cmd_run(args: argparse.Namespace) -> int:
    if (opened := _program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    outputs = _runtime(args, program, graph).forward()
    emit(args, {"outputs": outputs}, "\n".join(f"{k} = {show_value(v)}" for k, v in outputs.items()))
    return EXIT_OK


def cmd_grad(args: argparse.Namespace) -> int:
    from graphcore.autodiff import forward_mode, reverse_mode, trace_forward
    from graphcore.stepping import SteppingError, check_value

    if (opened := _program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    try:
        of = check_value(program, args.of)
        wrt = {name: check_value(program, name) for name in args.wrt.split(",") if name}
    except SteppingError as error:
        raise UsageError(str(error)) from None
    if not wrt:
        raise UsageError("--wrt needs at least one node id")
    runtime = _runtime(args, program, graph)
    trace = trace_forward(runtime)
    modes = ("forward", "reverse") if args.mode == "both" else (args.mode,)
    results = {}
    for mode in modes:
        compute = forward_mode if mode == "forward" else reverse_mode
        derivative = compute(runtime, of, list(wrt.values()), trace)
        results[mode] = {
            "mode": mode,
            "value": derivative.value,
            "passes": derivative.passes,
            "grads": {name: derivative.grads[value] for name, value in wrt.items()},
        }
    lines = []
    for result in results.values():
        passes = f"{result['passes']} pass{'es' if result['passes'] != 1 else ''}"
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
    from graphcore.stepping import Stepper, SteppingError

    if (opened := _program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    runtime = _runtime(args, program, graph)
    try:
        stepper = Stepper(runtime, of=args.of)
    except SteppingError as error:
        raise UsageError(str(error)) from None
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
    from graphcore.autodiff import trace_forward
    from graphcore.jacobian import METHODS, jacobian

    if (opened := _program(args)) is None:
        return EXIT_INVALID
    graph, program = opened
    of, wrt = _values(program, args.of, "--of"), _values(program, args.wrt, "--wrt")
    runtime = _runtime(args, program, graph)
    trace = trace_forward(runtime)
    methods = METHODS if args.mode == "all" else (args.mode,)
    results = {m: jacobian(runtime, of, wrt, m, trace, eps=args.eps) for m in methods}
    first = next(iter(results.values()))
    data: dict[str, Any] = {"of": of, "wrt": wrt, "rows": first.rows, "columns": first.columns}
    lines = []
    for method, result in results.items():
        data[method] = {"matrix": result.matrix, "passes": result.passes, "seconds": result.seconds}
        lines.append(f"{method} ({result.passes} passes, {result.seconds * 1e3:.2f} ms):")
        lines += [
            f"  {row:<14} " + "  ".join(f"{v:>12.6g}" for v in values)
            for row, values in zip(result.rows, result.matrix.tolist())
        ]
    if len(results) > 1:
        matrices = [r.matrix for r in results.values()]
        diff = max(float((a - b).abs().max()) if a.numel() else 0.0 for a in matrices for b in matrices)
        data["max_abs_diff"] = diff
        lines.append(f"max difference between methods = {diff:.3g}")
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def _progress_bar(progress: Any) -> None:
    done = progress.step / max(1, progress.total_steps)
    bar = "█" * int(done * 30) + "·" * (30 - int(done * 30))
    loss = progress.losses[-1][1] if progress.losses else float("nan")
    print(
        f"\r{bar} {progress.step}/{progress.total_steps}  epoch {progress.epoch}  loss {loss:.4g}",
        end="",
        file=sys.stderr,
        flush=True,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from graphcore.datasets import DatasetError
    from graphcore.train import Trainer
    from graphcore.training_config import TrainingConfigError

    if (opened := _program(args)) is None:
        return EXIT_INVALID
    graph, _ = opened
    overrides = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("steps", args.steps),
            ("seed", args.seed),
            ("device", args.device),
        )
        if value is not None
    }
    if args.epochs is not None and args.steps is None:
        overrides["steps"] = None
    try:
        trainer = Trainer(graph, Path(args.file).parent, overrides, dtype=args.dtype)
    except (TrainingConfigError, DatasetError, ValueError) as error:
        raise UsageError(str(error)) from None
    show_bar = not args.json and sys.stderr.isatty()
    result = trainer.run(listener=_progress_bar if show_bar else None)
    if show_bar:
        print(file=sys.stderr)
    lines = [f"{result.stopped} after {len(result.losses)} steps in {result.wall_time:.2f} s"]
    for split, metrics in (("train", result.train), ("validation", result.validation)):
        if metrics:
            lines.append(f"{split}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    if result.nonfinite is not None:
        lines.append(str(result.nonfinite))
    emit(args, result.as_dict(), "\n".join(lines))
    return EXIT_INVALID if result.nonfinite is not None else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from graphcore.export import ExportError, export_python
    from graphcore.export_onnx import export_onnx

    if (opened := _program(args)) is None:
        return EXIT_INVALID
    graph, _ = opened
    source = Path(args.file)
    name = graph.meta.get("name", source.stem)
    data: dict[str, Any] = {}
    lines = []
    try:
        if args.output or not args.onnx:
            script = Path(args.output).name if args.output else f"{source.stem}.py"
            exported = export_python(
                graph,
                name=name,
                source_name=source.name,
                script_name=script,
                seed=args.seed,
                train=args.train,
                base_dir=source.parent,
            )
            data["class"] = exported.class_name
            if args.output:
                Path(args.output).write_text(exported.source, encoding="utf-8")
                data["python"] = args.output
                lines.append(
                    f"wrote {args.output}: class {exported.class_name}"
                    + (" with its training" if args.train else "")
                )
            elif args.json:
                data["source"] = exported.source
            else:
                lines.append(exported.source.rstrip("\n"))
        if args.onnx:
            result = export_onnx(graph, args.onnx, name=name, seed=args.seed or 0)
            dynamic = ", ".join(
                f"{a}[{d}]={s}" for a, dims in result.dynamic.items() for d, s in dims.items()
            )
            data["onnx"] = {
                "path": args.onnx,
                "inputs": result.inputs,
                "outputs": result.outputs,
                "dynamic": {a: {str(d): s for d, s in dims.items()} for a, dims in result.dynamic.items()},
                "checked": result.checked,
                "max_abs_diff": result.max_abs_diff,
            }
            lines.append(
                f"wrote {args.onnx}: inputs {', '.join(result.inputs)}"
                + (f" (dynamic {dynamic})" if dynamic else "")
            )
            lines.append(result.checked)
    except (ExportError, OSError) as error:
        raise UsageError(str(error)) from None
    emit(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_import_torch(args: argparse.Namespace) -> int:
    from graphcore.fileformat import dumps, graph_to_dict
    from graphcore.importer import (
        ImportTorchError,
        declared_inputs,
        import_module,
        instantiate,
        load_class,
        parse_argument,
    )

    try:
        cls, path, namespace = load_class(args.module)
        if args.args:
            inputs = declared_inputs(dict(map(parse_argument, args.args)), "--args")
        elif "INPUTS" in namespace:
            inputs = declared_inputs(namespace["INPUTS"], f"{path}: INPUTS")
        else:
            inputs = {}
        try:
            kwargs = json.loads(args.kwargs)
        except json.JSONDecodeError as error:
            raise ImportTorchError(f"--kwargs: not a JSON object ({error.msg})") from None
        if not isinstance(kwargs, dict):
            raise ImportTorchError('--kwargs: expected a JSON object such as {"hidden": 16}')
        result = import_module(
            instantiate(cls, kwargs), inputs, batch=args.batch, source=path, namespace=namespace
        )
    except ImportTorchError as error:
        raise UsageError(str(error)) from None
    graph = result.graph
    graph.meta["name"] = cls.__name__
    report = validate(graph)
    if args.output:
        Path(args.output).write_text(dumps(graph), encoding="utf-8")
    data = {
        "ok": report.ok,
        "nodes": len(graph),
        "edges": len(graph.edges),
        "opaque": [{"node": node, "target": target} for node, target in result.opaque],
        "notes": result.notes,
        "diagnostics": [{"node": d.node, "port": d.port, "message": d.message} for d in report.diagnostics],
    }
    if args.output:
        data["output"] = args.output
    elif args.json:
        data["graph"] = graph_to_dict(graph)
    lines = [
        f"imported {cls.__name__}: {len(graph)} nodes, {len(graph.edges)} edges"
        + (f" -> {args.output}" if args.output else "")
    ]
    if result.opaque:
        lines.append(
            f"{len(result.opaque)} op(s) have no node type; imported as Opaque nodes (they run but cannot be edited):"
        )
        lines += [f"  {node}: {target}" for node, target in result.opaque]
    lines += [f"note: {note}" for note in result.notes]
    lines += [str(d) for d in report.diagnostics]
    if args.json:
        print(json.dumps(to_plain(data)))
    else:
        print("\n".join(lines), file=sys.stderr if not args.output else sys.stdout)
        if not args.output:
            print(dumps(graph), end="")
    return EXIT_OK if report.ok else EXIT_INVALID


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
# Commands whose arguments differ from the ones above: each adds its own (see parser()).
OTHER_COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "export": (cmd_export, "write the graph as a standalone PyTorch file (and its training run), or as ONNX"),
    "import-torch": (cmd_import_torch, "trace a PyTorch module with torch.fx and write it as a graph file"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="graphcore", description="Backprop Studio's graph engine.")
    sub = top.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", help="a graph file (.json, format v1)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        default_dtype = "float32" if name == "train" else "float64"
        p.add_argument(
            "--dtype",
            choices=("float32", "float64"),
            default=default_dtype,
            help=f"floating-point precision (default {default_dtype})",
        )
        if name == "check":
            continue
        if name == "train":
            p.add_argument(
                "--device", help="cpu, cuda or cuda:N (default: the training section's, else auto)"
            )
            p.add_argument("--seed", type=int, help="seed for weights, data order and generated data")
            p.add_argument("--epochs", type=int, help="train for this many epochs")
            p.add_argument("--steps", type=int, help="train for this many optimizer steps")
            continue
        p.add_argument("--device", default="auto", help="cpu, cuda or cuda:N (default: cuda when present)")
        p.add_argument("--seed", type=int, default=0, help="seed for weights and generated inputs")
        p.add_argument("--batch", type=int, default=4, help="size of symbolic dims such as N (default 4)")
        if name == "grad":
            p.add_argument("--of", required=True, help="the output, as NODE.PORT (or NODE)")
            p.add_argument("--wrt", required=True, help="comma-separated node ids (or NODE.PORT)")
            p.add_argument("--mode", choices=("reverse", "forward", "both"), default="reverse")
        if name == "steps":
            p.add_argument("--of", help="the output to differentiate (default: the only output)")
        if name == "jacobian":
            p.add_argument("--of", required=True, help="comma-separated outputs, as NODE.PORT (or NODE)")
            p.add_argument("--wrt", required=True, help="comma-separated inputs or intermediate values")
            p.add_argument("--mode", choices=("forward", "reverse", "fd", "all"), default="all")
            p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)")
    _other_parsers(sub)
    return top


def _other_parsers(sub: Any) -> None:
    help_text = OTHER_COMMANDS["export"][1]
    p = sub.add_parser("export", help=help_text, description=help_text)
    p.add_argument("file", help="a graph file (.json, format v1)")
    p.add_argument("-o", "--output", help="the .py file to write (default: print the code)")
    p.add_argument(
        "--train", action="store_true", help="add the dataset, optimizer, schedule and training loop"
    )
    p.add_argument(
        "--onnx", metavar="OUT.onnx", help="also write the forward model as ONNX (needs the onnx extra)"
    )
    p.add_argument("--seed", type=int, help="seed of the weights (default 0, or the training section's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    help_text = OTHER_COMMANDS["import-torch"][1]
    p = sub.add_parser("import-torch", help=help_text, description=help_text)
    p.add_argument("module", help="FILE.py:ClassName (the file is run to import it, as Python would)")
    p.add_argument(
        "--args",
        nargs="+",
        metavar="NAME=[SIZES]",
        help="the shape of each forward argument, e.g. x=[N,3] tokens=[N,12]:long (N: the batch); "
        "default: the file's INPUTS table, which graphcore exports write",
    )
    p.add_argument("--kwargs", default="{}", help="keyword arguments for ClassName(...), as a JSON object")
    p.add_argument("--batch", type=int, default=4, help="the size given to N when tracing (default 4)")
    p.add_argument("-o", "--output", help="the graph file to write (default: print it)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return {**COMMANDS, **OTHER_COMMANDS}[args.command][0](args)
    except (FileFormatError, UsageError, NotImplementedError) as error:
        if args.json:
            print(json.dumps({"error": str(error)}))
        print(f"graphcore: {error}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
