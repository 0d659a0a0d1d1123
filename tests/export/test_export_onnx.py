"""`graphcore export --onnx`: the forward model through torch.onnx.export, checked with onnxruntime."""

from __future__ import annotations

import builtins
import importlib.util
import json

import pytest
import torch
from export_cases import EXAMPLES, graph_from

from graphcore.cli.main import main

ONNX_MISSING = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
needs_onnx = pytest.mark.skipif(
    bool(ONNX_MISSING),
    reason=f"the optional onnx extra is not installed ({', '.join(ONNX_MISSING)} missing): "
    "pip install 'backprop-studio[onnx]'",
)


def test_without_the_onnx_extra_the_cli_says_what_to_install(tmp_path, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.split(".")[0] in ("onnx", "onnxscript"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    out = tmp_path / "xor.onnx"
    assert main(["export", str(EXAMPLES[-1]), "--onnx", str(out)]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "pip install 'backprop-studio[onnx]'" in message
    assert not out.exists()


def cnn() -> dict:
    return {
        "nodes": [
            {"id": "image", "type": "Input", "params": {"shape": ["N", 1, 6, 6]}},
            {
                "id": "conv",
                "type": "Conv2d",
                "params": {"in_channels": 1, "out_channels": 2, "kernel_size": 3},
            },
            {"id": "act", "type": "relu"},
            {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2}},
            {"id": "flat", "type": "Flatten"},
            {"id": "fc", "type": "Linear", "params": {"in_features": 8, "out_features": 3}},
            {"id": "probs", "type": "Softmax", "params": {"dim": -1}},
        ],
        "edges": [
            {"from": "image.out", "to": "conv.x"},
            {"from": "conv.out", "to": "act.x"},
            {"from": "act.out", "to": "pool.x"},
            {"from": "pool.out", "to": "flat.x"},
            {"from": "flat.out", "to": "fc.x"},
            {"from": "fc.out", "to": "probs.x"},
        ],
        "meta": {"name": "small cnn"},
    }


@needs_onnx
def test_onnx_runs_in_onnxruntime_like_torch_at_any_batch_size(tmp_path, capsys):
    import onnxruntime

    from graphcore.codegen import python_source
    from graphcore.exchange.export_onnx import export_onnx
    from graphcore.program import lower

    graph = graph_from(cnn())
    path = tmp_path / "cnn.onnx"
    result = export_onnx(graph, path, seed=1)
    assert result.inputs == ["image"] and result.dynamic == {"image": {0: "N"}}
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-5
    generated = python_source(lower(graph), "SmallCnn", seed=1)
    scope: dict = {}
    exec(compile(generated.source, "cnn", "exec"), scope)
    model = scope["SmallCnn"]().eval()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        image = torch.randn(batch, 1, 6, 6)
        (got,) = session.run(None, {"image": image.numpy()})
        torch.testing.assert_close(torch.as_tensor(got), model(image).detach(), rtol=1e-5, atol=1e-6)


@needs_onnx
def test_cli_writes_onnx_and_python_together(tmp_path, capsys):
    xor = str(EXAMPLES[[p.stem for p in EXAMPLES].index("xor")])
    code = main(
        ["export", xor, "-o", str(tmp_path / "xor.py"), "--onnx", str(tmp_path / "xor.onnx"), "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["python"].endswith("xor.py") and data["onnx"]["inputs"] == ["x", "y"]
    assert data["onnx"]["checked"].startswith("onnxruntime agrees")
    assert (tmp_path / "xor.onnx").stat().st_size > 0
