"""`graphcore export`: a graph as a standalone PyTorch file.

The file's model class is the text of `codegen.python_source`, the very code the fast path runs,
so the exported file and the app compute the same numbers by construction. Around it the export
writes a docstring, the imports, the table of forward arguments (`INPUTS`, which `graphcore
import-torch` reads back), `example_inputs` (what `graphcore run` feeds), the table of the nodes the
code was written from (`NODES`: ids, labels, positions, read back too; export_nodes) and a `main`
that prints the outputs. With `train=True` the training section follows (graphcore.exchange.export_training). What a
graph contributes is an identifier from a Namespace or a literal written by repr, nothing else.
"""

from __future__ import annotations

import ast
import io
import tokenize
import zlib
from collections.abc import Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcore.blocks import flat_training, instance_paths
from graphcore.codegen import GeneratedModule, class_name_from, plain_text, python_source
from graphcore.exchange import export_weights
from graphcore.exchange.export_blocks import block_source, has_blocks
from graphcore.exchange.export_nodes import TABLE, nodes_code
from graphcore.exchange.export_training import (
    ExportError,
    check_outputs,
    format_expression,
    section_code,
    training_code,
)
from graphcore.feeds import SMALL_INDEX, index_range
from graphcore.files.weights import Weights
from graphcore.graph import Graph
from graphcore.program import Program, lower
from graphcore.training.code import literal
from graphcore.training.config import TrainingConfigError, parse
from graphcore.validate import check

__all__ = ["Export", "ExportError", "export_python", "inputs_code", "model_class_name"]

# Top-level names the export defines besides the model class, which must not take one of them.
TAKEN = {
    "INPUTS",
    TABLE,
    "DATA_PATH",
    "SEED",
    "STEPS",
    "EPOCHS",
    "BATCH_SIZE",
    "VALIDATION",
    "CLIP_GRAD_NORM",
    "EARLY_STOPPING",
    "THRESHOLD",
    "DEVICE",
    "FIELDS",
    "TARGET",
    "Fields",
    "DatasetError",
    "DistributedDataParallel",
    "DistributedSampler",
    "Mapping",
    "Path",
    "Any",
    "F",
    *export_weights.NAMES,
}


@dataclass(frozen=True)
class Export:
    """An exported file's text, and the generated module its class comes from."""

    source: str
    generated: GeneratedModule

    @property
    def class_name(self) -> str:
        return self.generated.class_name


def model_class_name(graph: Graph, fallback: str) -> str:
    name = class_name_from(str(graph.meta.get("name", fallback)))
    return f"Graph{name}" if name in TAKEN else name


def _model_text(generated: GeneratedModule) -> str:
    """The generated module past its docstring and imports: helpers and the class, verbatim."""
    tree = ast.parse(generated.source)
    first = next(s for s in tree.body[1:] if not isinstance(s, ast.Import | ast.ImportFrom))
    return "\n".join(generated.source.splitlines()[first.lineno - 1 :]).strip("\n")


def _shape_code(shape: list[Any]) -> str:
    dims = ["batch" if isinstance(d, str) else str(d) for d in shape]
    return f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"


def inputs_code(program: Program, generated: GeneratedModule) -> str:
    """INPUTS, and example_inputs() with the `noise` helper it needs when an Input has no value."""
    table, values, noisy, indexed = [], [], False, False
    for node, argument in zip(generated.inputs, generated.arguments):
        params = program.by_node[node].params
        declared: dict[str, Any] = {"shape": params["shape"]}
        kind = "dtype"
        if params["dtype"] == "long":
            declared["dtype"], kind = "long", "torch.long"
        if params["value"] is not None:
            declared["value"] = params["value"]
            value = f"torch.tensor({literal(params['value'])}, dtype={kind})"
        elif kind == "torch.long":
            indexed = True
            found = index_range(program, node)
            bound = max(1, found.bound) if found is not None else SMALL_INDEX
            seed = f"seed * 1_000_003 + {zlib.crc32(node.encode())}"
            value = f"indices({_shape_code(params['shape'])}, {bound}, {seed})"
        else:
            noisy = True
            seed = f"seed * 1_000_003 + {zlib.crc32(node.encode())}"
            value = f"noise({_shape_code(params['shape'])}, {seed}, dtype)"
        table += format_expression(literal(declared), f"    {literal(argument)}: ", ",")
        values += format_expression(value, f"        {literal(argument)}: ", ",")
    lines = [
        '# The forward arguments as the graph\'s Input nodes declare them ("N" is the batch size).',
        *(["INPUTS = {", *table, "}"] if table else ["INPUTS = {}"]),
        "",
        "",
    ]
    if noisy:
        lines += [
            "def noise(shape, seed, dtype):",
            '    """Standard normal values from a generator of their own, so a seed fixes them."""',
            "    generator = torch.Generator().manual_seed(seed)",
            "    return torch.randn(shape, generator=generator, dtype=dtype)",
            "",
            "",
        ]
    if indexed:
        lines += [
            "def indices(shape, bound, seed):",
            '    """Valid indices below bound (what reads them accepts), from a generator of their own."""',
            "    generator = torch.Generator().manual_seed(seed)",
            "    return torch.randint(0, bound, shape, generator=generator, dtype=torch.long)",
            "",
            "",
        ]
    lines += [
        "def example_inputs(dtype=torch.float32, batch=4, seed=0):",
        '    """The inputs `graphcore run` feeds: each Input\'s value, else seeded noise, N = batch."""',
        *(["    return {", *values, "    }"] if values else ["    return {}"]),
    ]
    return "\n".join(lines)


def main_code(generated: GeneratedModule, weights: bool = False) -> str:
    """`main`: run the model on example inputs and print each output as `graphcore run` names it;
    with `weights`, from the weights file (WEIGHTS, or `--weights PATH`) rather than the seed."""
    single = len(generated.outputs) == 1
    prints = [
        f"    print({literal(value + ' =')}, outputs{'' if single else f'[{i}]'}.tolist())"
        for i, value in enumerate(generated.outputs)
    ]
    return "\n".join(
        [
            "def main(argv=None):",
            "    parser = argparse.ArgumentParser(",
            f'        description="Run {generated.class_name} on example inputs and print its outputs."',
            "    )",
            '    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")',
            '    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")',
            '    parser.add_argument("--seed", type=int, default=0, help="seed of weights, inputs")',
            '    parser.add_argument("--batch", type=int, default=4, help="the batch size N")',
            *(
                [
                    "    default = Path(__file__).with_name(WEIGHTS)",
                    '    parser.add_argument("--weights", default=str(default), help="a safetensors file")',
                ]
                if weights
                else []
            ),
            "    args = parser.parse_args(argv)",
            "    dtype = getattr(torch, args.dtype)",
            f"    model = {generated.class_name}(dtype=dtype, seed=args.seed).to(args.device)",
            *(
                [
                    "    if args.weights:",
                    "        state = safetensors.torch.load_file(args.weights, device=args.device)",
                    "        model.load_state_dict(state)",
                ]
                if weights
                else []
            ),
            "    inputs = example_inputs(dtype, args.batch, args.seed)",
            "    outputs = model(**{name: value.to(args.device) for name, value in inputs.items()})",
            *prints,
            "",
            "",
            'if __name__ == "__main__":',
            "    main()",
        ]
    )


def imports_code(stdlib: list[str], third_party: list[str]) -> str:
    def ordered(lines: list[str]) -> list[str]:
        unique = sorted(set(lines), key=lambda line: (line.startswith("from"), line))
        return unique

    groups = [ordered(stdlib), ordered(third_party)]
    return "\n\n".join("\n".join(group) for group in groups if group)


def prefer_double_quotes(source: str) -> str:
    """'text' as "text" wherever that needs no new escape, as ruff format writes strings.

    Only string tokens change, and only their quotes: the module's AST is the same before and after.
    """
    lines = source.splitlines(keepends=True)
    edits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        text = token.string
        if token.type != tokenize.STRING or not text.startswith("'") or text.startswith("'''"):
            continue
        body = text[1:-1]
        if '"' in body or "\\" in body:
            continue
        edits.append((token.start, token.end, f'"{body}"'))
    for (row, start), (_, end), new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + new + line[end:]
    result = "".join(lines)
    if ast.dump(ast.parse(result)) != ast.dump(ast.parse(source)):  # a programming error, never a user's
        raise AssertionError("re-quoting changed the exported module")
    return result


def _generated(
    graph: Graph,
    program: Program,
    class_name: str,
    outputs: Sequence[str] | None,
    seed: int,
    taken: Set[str] = frozenset(),
) -> GeneratedModule:
    """The model's code: flat, or with a class per block (graphcore.exchange.export_blocks) named
    clear of TAKEN and `taken`."""
    if not has_blocks(graph):
        return python_source(program, class_name, outputs, seed)
    return block_source(graph, class_name, outputs or program.sinks, seed, TAKEN | taken)


def _model_part(program: Program, generated: GeneratedModule, weights: Weights | None, blocks: bool) -> str:
    """The model's text in the file; with weights, what maps them onto it (with blocks, from the
    runtime's flat names too, which the app's weights files use)."""
    model_text = _model_text(generated)
    if weights is None:
        return model_text
    model_text = export_weights.with_own_names(model_text, generated.class_name)
    flat = python_source(program).attributes if blocks else None
    return model_text + "\n\n\n" + export_weights.names_code(weights, generated, flat)


def _defined(text: str) -> set[str]:
    """The names a module's top level defines (functions, classes, assignments, imports)."""
    names = set()
    for statement in ast.parse(text).body:
        if isinstance(statement, ast.FunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in statement.names)
    return names


def export_python(
    graph: Graph,
    *,
    name: str = "Model",
    source_name: str = "",
    script_name: str = "model.py",
    seed: int | None = None,
    train: bool = False,
    base_dir: Path | str = ".",
) -> Export:
    """The graph as a standalone file: the model and a `main` that runs it, or, with `train`, its training.

    `seed` defaults to 0, or to the training section's seed with `train`; `base_dir` resolves a
    dataset file's relative path as `graphcore train` does (the graph file's folder).
    """
    check(graph)
    program = lower(graph)
    class_name = model_class_name(graph, name)
    outputs, config = None, None
    if train:
        try:
            config = parse(flat_training(graph))
        except TrainingConfigError as error:
            raise ExportError(str(error)) from None
        outputs = check_outputs(config, program)
        seed = config.seed if seed is None else seed
    generated = _generated(graph, program, class_name, outputs, seed or 0)
    inputs = inputs_code(program, generated)
    uses_f = "import torch.nn.functional as F" in generated.source
    third_party = [
        "import torch",
        "from torch import nn",
        *(["import torch.nn.functional as F"] if uses_f else []),
    ]
    title = plain_text(str(graph.meta.get("title", "")))
    source = plain_text(source_name)
    script = plain_text(script_name)
    head = f"{class_name}: {title}." if title else f"{class_name}."
    head += f" Generated by Backprop Studio from {source}." if source else " Generated by Backprop Studio."
    weights = graph.weights
    if config is None:
        stdlib = ["import argparse"] + (["from pathlib import Path"] if weights else [])
        third_party += ["import safetensors.torch"] if weights else []
        rest = main_code(generated, weights is not None)
        usage = [
            "Standalone PyTorch: it imports torch"
            + (", safetensors (the weights file)" if weights else "")
            + " and the standard library only.",
            f"`python {script}` runs the model on example inputs and prints its outputs, as",
            f"`graphcore run {source or 'FILE'}` does.",
        ]
    else:
        stdlib, more, rest = training_code(
            config, program, generated, Path(base_dir), weights is not None, instance_paths(graph)
        )
        inputs += "\n\n\n" + section_code(graph.training)
        third_party += more
        usage = [
            "Standalone PyTorch: it imports torch, numpy and the standard library only.",
            f"`python {script}` trains the model as the graph's training section says, printing",
            f"the loss of every step, with the numbers `graphcore train {source or 'FILE'}` prints;",
            "`--steps` and `--epochs` shorten the run as they do there. Under",
            f"`torchrun --nproc_per_node N {script}` it trains with DistributedDataParallel.",
        ]
    header = "\n".join(['"""' + head, "", *usage, '"""', "", imports_code(stdlib, third_party)])
    model_text = _model_part(program, generated, weights, has_blocks(graph))
    others = "\n\n\n".join([header, inputs, rest])
    if has_blocks(graph) and (clashes := _defined(model_text) & _defined(others)):
        # a block's class took a name the rest of the file defines (a dataset function's, say)
        generated = _generated(graph, program, class_name, generated.outputs, seed or 0, clashes)
        model_text = _model_part(program, generated, weights, has_blocks(graph))
    parts = [header, model_text, inputs, nodes_code(graph, generated), rest]
    text = "\n\n\n".join(part.strip("\n") for part in parts) + "\n"
    return Export(prefer_double_quotes(text), generated)
