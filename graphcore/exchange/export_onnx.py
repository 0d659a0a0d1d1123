"""`graphcore export --onnx`: the forward model through torch.onnx.export, checked with onnxruntime.

The model is the fast path's generated module in float32 and eval mode, fed `example_inputs`; an
Input's symbolic sizes ("N") stay dynamic in the ONNX graph. onnx and onnxscript (which torch's
exporter needs) are the optional `onnx` extra; without them the export says what to install.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcore.codegen import exec_source, python_source
from graphcore.exchange.export import ExportError, inputs_code, model_class_name
from graphcore.graph import Graph
from graphcore.program import lower
from graphcore.validate import check


@dataclass(frozen=True)
class OnnxResult:
    path: Path
    inputs: list[str]
    outputs: list[str]
    dynamic: dict[str, dict[int, str]]  # argument -> {dim: symbol}
    checked: str  # what onnxruntime said, or why it did not run
    max_abs_diff: float | None = None


class OnnxUnavailable(ExportError):
    """The optional onnx packages are not installed."""


def export_onnx(
    graph: Graph, path: Path | str, *, name: str = "Model", seed: int = 0, batch: int = 4
) -> OnnxResult:
    """The forward model (float32, eval mode) as ONNX via torch.onnx.export; symbolic dims stay dynamic.

    When onnxruntime is installed the file is run on the example inputs and compared with torch.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401  (torch.onnx.export's exporter needs it)
    except ImportError as error:
        raise OnnxUnavailable(
            f"ONNX export needs the optional packages onnx and onnxscript ({error.name} is missing): "
            "pip install 'backprop-studio[onnx]'"
        ) from None
    from graphcore._torch import torch

    check(graph)
    program = lower(graph)
    generated = python_source(program, model_class_name(graph, name), None, seed)
    module = exec_source(generated.source, generated.class_name)[generated.class_name]().eval()
    scope = exec_source("import torch\n\n" + inputs_code(program, generated), "inputs")
    example = scope["example_inputs"](torch.float32, batch, seed)
    dynamic: dict[str, dict[int, str]] = {}
    for node, argument in zip(generated.inputs, generated.arguments):
        params = program.by_node[node].params
        if params["value"] is None:
            dims = {i: d for i, d in enumerate(params["shape"]) if isinstance(d, str)}
            if dims:
                dynamic[argument] = dims
    symbols = {s: torch.export.Dim(s) for dims in dynamic.values() for s in dims.values()}
    shapes = {a: ({i: symbols[s] for i, s in dynamic[a].items()} if a in dynamic else None) for a in example}
    path = Path(path)
    output_names = [v.replace(".", "_") for v in generated.outputs]
    with _quiet():
        torch.onnx.export(
            module,
            (),
            str(path),
            kwargs=example,
            input_names=list(generated.arguments),
            output_names=output_names,
            dynamic_shapes=shapes if dynamic else None,
            external_data=False,
        )
    checked, difference = _check_with_onnxruntime(path, module, example, torch)
    return OnnxResult(path, list(generated.arguments), output_names, dynamic, checked, difference)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.onnx.export prints progress and warns about optional extras; the CLI keeps stdout for itself."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _check_with_onnxruntime(
    path: Path, module: Any, example: dict[str, Any], torch: Any
) -> tuple[str, float | None]:
    """Run the file on the example inputs: (what onnxruntime said, the largest difference from torch)."""
    try:
        import onnxruntime
    except ImportError:
        return "not checked: onnxruntime is not installed", None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: example[i.name].numpy() for i in session.get_inputs()}
    got = session.run(None, feed)
    with torch.no_grad():
        expected = module(**example)
    expected = expected if isinstance(expected, tuple) else (expected,)
    difference = max(
        (float(abs(torch.as_tensor(g) - e).max()) for g, e in zip(got, expected) if e.numel()), default=0.0
    )
    return f"onnxruntime agrees with torch to {difference:.2g}", difference
