"""Mixed precision and torch.compile: the `precision` and `compile` keys, in the Trainer and the CLI."""

import json
import math
from pathlib import Path

import pytest
import torch

from graphcore.cli.main import main
from graphcore.files.fileformat import load, loads
from graphcore.training import performance
from graphcore.training.config import TrainingConfigError, parse
from graphcore.training.train import Trainer

EXAMPLES = Path(__file__).parents[2] / "examples"
BASE = {"dataset": {"name": "xor"}, "inputs": {"x": "x", "y": "y"}, "loss": "loss.out"}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"precision": "fp64"},
            "training.precision: unknown precision 'fp64' (expected one of fp32, bf16, fp16)",
        ),
        ({"precision": 16}, "training.precision: expected one of fp32, bf16, fp16, got 16"),
        ({"precision": ""}, "training.precision: unknown precision ''"),
        ({"precision": None}, "training.precision: expected one of fp32, bf16, fp16, got None"),
        ({"precision": "ｂｆ16"}, "training.precision: unknown precision 'ｂｆ16'"),
        (
            {"precision": [[["bf16"]]]},
            "training.precision: expected one of fp32, bf16, fp16, got [[['bf16']]]",
        ),
        ({"precision": "BF16"}, "training.precision: unknown precision 'BF16'"),
        ({"compile": "yes"}, "training.compile: must be true or false, got 'yes'"),
        ({"compile": 1}, "training.compile: must be true or false, got 1"),
        ({"compile": math.nan}, "training.compile: must be true or false, got nan"),
        ({"compile": None}, "training.compile: must be true or false, got None"),
        ({"compile": {"mode": "max-autotune"}}, "training.compile: must be true or false, got {'mode'"),
    ],
)
def test_bad_precision_and_compile_are_one_line_naming_the_key(change, message):
    with pytest.raises(TrainingConfigError) as caught:
        parse({**BASE, **change})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_defaults_are_fp32_without_compile():
    config = parse(BASE)
    assert (config.precision, config.compile) == ("fp32", False)
    assert parse({**BASE, "precision": "bf16", "compile": True}).precision == "bf16"


def two_moons(**overrides):
    return Trainer(load(EXAMPLES / "two_moons.json"), EXAMPLES, {"steps": 60, **overrides})


def test_bf16_trains_on_the_cpu_under_autocast_and_stays_close_to_fp32():
    fp32, bf16 = two_moons(), two_moons(precision="bf16")
    batch = {k: v[:8] for k, v in bf16.train_data.items()}
    _, prediction = bf16._forward(batch)
    assert prediction.dtype == torch.bfloat16  # the layers ran in bf16
    assert bf16.module.fc1.weight.dtype == torch.float32  # and the weights stay float32
    a, b = fp32.run(), bf16.run()
    assert len(a.losses) == len(b.losses) == 60
    # bf16 keeps 8 bits of mantissa (relative error ~4e-3 per op); over 60 steps the losses drift a
    # little, never far: 0.02 is about a tenth of the loss's fall over the run
    assert b.losses == pytest.approx(a.losses, abs=0.02)
    assert b.losses != a.losses  # it did not run in fp32
    assert b.losses[-1] < b.losses[0] - 0.1
    assert b.train["accuracy"] == pytest.approx(a.train["accuracy"], abs=0.05)


def test_fp16_on_the_cpu_is_refused_with_one_line():
    with pytest.raises(TrainingConfigError) as caught:
        two_moons(precision="fp16", device="cpu")
    assert str(caught.value) == (
        "training.precision: fp16 needs a CUDA device (its loss scaling is a CUDA recipe), and this run "
        "is on cpu: use bf16 there, or fp32"
    )


def test_autocast_over_float64_weights_is_refused():
    graph = load(EXAMPLES / "two_moons.json")
    with pytest.raises(
        TrainingConfigError,
        match=r"^training.precision: bf16 casts float32 weights, and this run's are float64",
    ):
        Trainer(graph, EXAMPLES, {"precision": "bf16"}, dtype="float64")


TINY = json.dumps(
    {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", 1]}},
            {"id": "fc", "type": "Linear", "params": {"in_features": 1, "out_features": 1}},
            {"id": "drop", "type": "Dropout", "params": {"p": 0.5}},
            {"id": "y", "type": "Input", "params": {"shape": ["N", 1]}},
            {"id": "loss", "type": "MSELoss"},
        ],
        "edges": [
            {"from": "x.out", "to": "fc.x"},
            {"from": "fc.out", "to": "drop.x"},
            {"from": "drop.out", "to": "loss.input"},
            {"from": "y.out", "to": "loss.target"},
        ],
        "training": {
            "dataset": {"name": "sine", "n": 16},
            "inputs": {"x": "x", "y": "y"},
            "loss": "loss.out",
            "batch_size": 16,
            "steps": 3,
            "optimizer": {"name": "sgd", "lr": 0.1},
        },
    }
)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_gives_the_losses_of_the_plain_module():
    """One small graph, one batch shape: torch.compile builds once (a few seconds with g++). Its
    dropout draws the same masks compiled and not: the same seed, the same run."""
    graph = loads(TINY)
    plain = Trainer(graph).run()
    trainer = Trainer(graph, overrides={"compile": True})
    assert trainer.compiled is not None
    compiled = trainer.run()
    assert compiled.losses == pytest.approx(plain.losses, abs=1e-6, rel=1e-6)
    assert compiled.losses[-1] < compiled.losses[0]


def test_compile_without_a_cpp_compiler_says_so_before_training(monkeypatch):
    import torch._inductor.cpp_builder as builder

    def no_compiler():
        raise RuntimeError("No working C++ compiler found in torch._inductor.config.cpp.cxx: (None, 'g++')")

    monkeypatch.setattr(builder, "get_cpp_compiler", no_compiler)
    with pytest.raises(TrainingConfigError) as caught:
        Trainer(loads(TINY), overrides={"compile": True})
    text = str(caught.value)
    assert text.startswith("training.compile: torch.compile on the CPU builds C++ and needs a compiler")
    assert "No working C++ compiler found" in text and "set compile to false" in text and "\n" not in text


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_precision_overrides_the_file(capsys):
    path = str(EXAMPLES / "two_moons.json")
    code, out, _ = cli(capsys, "train", path, "--steps", "20", "--json")
    fp32 = json.loads(out)["losses"]
    code, out, _ = cli(capsys, "train", path, "--steps", "20", "--json", "--precision", "bf16")
    bf16 = json.loads(out)["losses"]
    assert code == 0 and len(bf16) == 20
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, abs=0.02)
    code, out, err = cli(capsys, "train", path, "--steps", "2", "--precision", "fp16", "--device", "cpu")
    assert code == 2 and out == ""
    assert err == (
        "graphcore: training.precision: fp16 needs a CUDA device (its loss scaling is a CUDA recipe), "
        "and this run is on cpu: use bf16 there, or fp32\n"
    )


@pytest.mark.parametrize("value", ["fp64", "", "ｂｆ16", "bf16" * 1000])
def test_cli_refuses_an_unknown_precision_in_one_line(capsys, value):
    code, _, err = cli(capsys, "train", str(EXAMPLES / "two_moons.json"), "--precision", value)
    assert code == 2 and err.count("\n") == 1 and "argument --precision: invalid choice" in err
    assert len(err) <= 600  # the CLI shortens every message


def test_cli_no_compile_turns_the_files_compile_off(capsys, tmp_path):
    data = json.loads(TINY)
    data["training"]["compile"] = "maybe"
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    code, _, err = cli(capsys, "train", str(path))
    assert code != 0 and "training.compile: must be true or false, got 'maybe'" in err
    data["training"]["compile"] = True
    path.write_text(json.dumps(data))
    code, out, _ = cli(capsys, "train", str(path), "--no-compile", "--json")
    assert code == 0 and len(json.loads(out)["losses"]) == 3


def test_cli_help_documents_precision_and_compile(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--precision {fp32,bf16,fp16}" in out and "--compile, --no-compile" in out
    assert "torch.compile" in out and "CUDA only" in out


def test_autocast_follows_the_device_type():
    assert performance.autocast("fp32", torch.device("cpu")).__class__.__name__ == "nullcontext"
    context = performance.autocast("bf16", torch.device("cpu"))
    assert (context.device, context.fast_dtype) == ("cpu", torch.bfloat16)


@CUDA
def test_fp16_on_cuda_trains_with_a_grad_scaler():
    trainer = two_moons(precision="fp16", device="cuda")
    assert all(isinstance(s, torch.amp.GradScaler) for s in trainer.scalers)
    result = trainer.run()
    assert result.stopped == "finished" and result.losses[-1] < result.losses[0]


@CUDA
def test_bf16_on_cuda_autocasts_on_the_cuda_device():
    trainer = two_moons(precision="bf16", device="cuda")
    _, prediction = trainer._forward({k: v[:8] for k, v in trainer.train_data.items()})
    assert prediction.device.type == "cuda" and prediction.dtype == torch.bfloat16


@pytest.mark.parametrize(
    "argv",
    [["--compile=yes"], ["--no-compile=1"], ["--precision"], ["--precision", "bf16", "--precision", "😀"]],
)
def test_cli_refuses_bad_compile_and_precision_arguments_in_one_line(capsys, argv):
    code, out, err = cli(capsys, "train", str(EXAMPLES / "two_moons.json"), *argv)
    assert (
        code == 2 and out == "" and err.count("\n") == 1 and err.startswith("graphcore: train: argument --")
    )


def test_precision_and_compile_edited_mid_run_wait_for_the_next_start():
    trainer = two_moons()
    trainer.run(steps=2)
    section = load(EXAMPLES / "two_moons.json").training
    later = trainer.retune({**section, "precision": "bf16", "compile": True})
    assert sorted(later) == ["compile", "precision"]
    assert (trainer.config.precision, trainer.config.compile, trainer.compiled) == ("fp32", False, None)
    assert trainer.run(steps=2).losses  # and the run goes on as it was
