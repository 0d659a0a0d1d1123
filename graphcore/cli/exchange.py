"""The `graphcore export` and `graphcore import-torch` commands: graphs out to PyTorch or ONNX, and
PyTorch modules in as graphs."""

from __future__ import annotations

import argparse
import json
import sys
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
    plural,
    to_plain,
)
from graphcore.validate import validate


def write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except (OSError, UnicodeEncodeError) as error:
        raise UsageError(f"cannot write {path}: {getattr(error, 'strerror', None) or error}") from None


def cmd_export(args: argparse.Namespace) -> int:
    from graphcore.exchange.export import ExportError, export_python
    from graphcore.exchange.export_onnx import export_onnx

    if (opened := open_program(args)) is None:
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
                write(args.output, exported.source)
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
    from graphcore.blocks import used_blocks
    from graphcore.exchange.importer import ImportTorchError, import_from_file
    from graphcore.files.atomic_write import SaveError
    from graphcore.files.fileformat import dumps, graph_to_dict
    from graphcore.files.weights import write_beside

    try:
        cls, result = import_from_file(
            args.module, args.args or (), args.kwargs, batch=args.batch, flat=args.flat
        )
    except ImportTorchError as error:
        raise UsageError(str(error)) from None
    graph = result.graph
    graph.meta["name"] = cls.__name__
    report = validate(graph)
    if args.output:
        if graph.weights is not None:  # the module's weights, beside the graph file that names them
            try:
                write_beside(Path(args.output), graph.weights)
            except SaveError as error:
                raise UsageError(str(error)) from None
        write(args.output, dumps(graph))
    elif graph.weights is not None:
        graph.weights = None
        result.notes.append(
            "without --output the module's weights are not written: its layers start from other weights "
            "than the module's, an init scheme and the seed"
        )
    data = {
        "ok": report.ok,
        "nodes": len(graph),
        "blocks": {name: len(users) for name, users in used_blocks(graph).items()},
        "edges": len(graph.edges),
        "opaque": [{"node": node, "target": target} for node, target in result.opaque],
        "notes": result.notes,
        "diagnostics": [d.as_dict() for d in report.diagnostics],
    }
    if args.output:
        data["output"] = args.output
    elif args.json:
        data["graph"] = graph_to_dict(graph)
    blocks = f", {plural(len(graph.blocks), 'block')}" if graph.blocks else ""
    lines = [
        f"imported {cls.__name__}: {plural(len(graph), 'node')}, {plural(len(graph.edges), 'edge')}"
        + blocks
        + (f" -> {args.output}" if args.output else "")
    ]
    if result.opaque:
        count = plural(len(result.opaque), "op has", "ops have")
        lines.append(f"{count} no node type; imported as Opaque nodes (they run but cannot be edited):")
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


# Their arguments differ from the other commands': add_exchange_parsers adds them.
EXCHANGE_COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "export": (cmd_export, "write the graph as a standalone PyTorch file (and its training run), or as ONNX"),
    "import-torch": (cmd_import_torch, "trace a PyTorch module with torch.fx and write it as a graph file"),
}


def add_exchange_parsers(sub: Any) -> None:
    help_text = EXCHANGE_COMMANDS["export"][1]
    p = sub.add_parser("export", help=help_text, description=help_text)
    p.add_argument("file", type=path, help="a graph file (.json, format v1)")
    p.add_argument("-o", "--output", type=path, help="the .py file to write (default: print the code)")
    p.add_argument(
        "--train", action="store_true", help="add the dataset, optimizer, schedule and training loop"
    )
    p.add_argument(
        "--onnx", metavar="OUT.onnx", help="also write the forward model as ONNX (needs the onnx extra)"
    )
    p.add_argument(
        "--seed",
        type=integer(0, 2**32 - 1),
        help="seed of the weights (default 0, or the training section's)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    help_text = EXCHANGE_COMMANDS["import-torch"][1]
    p = sub.add_parser("import-torch", help=help_text, description=help_text)
    p.add_argument(
        "module", type=path, help="FILE.py:ClassName (the file is run to import it, as Python would)"
    )
    p.add_argument(
        "--args",
        nargs="+",
        metavar="NAME=[SIZES]",
        help="the shape of each forward argument, e.g. x=[N,3] tokens=[N,12]:long (N: the batch); "
        "default: the file's INPUTS table, which graphcore exports write",
    )
    p.add_argument("--kwargs", default="{}", help="keyword arguments for ClassName(...), as a JSON object")
    p.add_argument(
        "--batch", type=integer(1, 1_000_000), default=4, help="the size given to N when tracing (default 4)"
    )
    p.add_argument(
        "--flat",
        action="store_true",
        help="no blocks: every call as a node of its own (default: a module class used several times "
        "becomes one block, an nn.Sequential of them one repeated block)",
    )
    p.add_argument("-o", "--output", type=path, help="the graph file to write (default: print it)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
