"""`graphcore saliency`, `maximize` and `adversarial`: their JSON numbers, and one line for a bad argument."""

import numpy as np
import pytest
import torch

from graphcore.files.fileformat import load
from graphcore.input_grads.model import InputModel
from graphcore.program import lower
from tests.cli.test_cli import run, run_json

MLP, CNN = "examples/digits_mlp.json", "examples/digits_cnn.json"


def test_saliency_json_is_the_gradient(capsys, tmp_path):
    out = tmp_path / "gräd.npy"
    code, data = run_json(
        capsys, "saliency", MLP, "--of", "fc2.out[3]", "--input", "x", "--sample", "4", "--out", str(out)
    )
    assert code == 0
    assert data["shape"] == [64] and data["unit"] == "fc2.out[3]" and data["input"] == "x"
    assert data["weights"] == "untrained weights (seed 0)" and "sample 4" in data["sample"]
    graph = load(MLP)
    model = InputModel(
        lower(graph), "x", sample=4, values=["fc2.out"], base_dir="examples", training=graph.training
    )
    x = model.x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(model.value(x, "fc2.out")[3], x)
    np.testing.assert_allclose(data["gradient"], expected[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.load(out), expected[0].numpy(), rtol=1e-12)


def test_saliency_text_and_a_channel_of_the_cnn(capsys):
    code, out, err = run(capsys, "saliency", CNN, "--of", "conv2.out:c=5", "--input", "image")
    assert code == 0 and err == ""
    assert out.startswith("conv2.out:c=5 = ") and "shape [1, 8, 8]" in out


def test_maximize_json_raises_the_unit(capsys):
    argv = ["maximize", MLP, "--of", "fc2.out[1]", "--input", "x", "--steps", "12", "--lr", "0.5"]
    code, data = run_json(capsys, *argv, "--l2", "0.01", "--tv", "0.05", "--start", "noise")
    assert code == 0
    assert data["steps"] == list(range(13)) and len(data["units"]) == len(data["objectives"]) == 13
    assert data["units"][-1] > data["units"][0]
    assert np.array(data["x"]).shape == (64,)


def test_adversarial_with_training_lowers_the_true_class(capsys):
    argv = ["adversarial", MLP, "--input", "x", "--eps", "0.2", "--sample", "3", "--train-steps", "40"]
    code, data = run_json(capsys, *argv)
    assert code == 0 and data["label"] == 3 and data["output"] == "fc2.out"
    assert data["weights"] == "weights trained 40 steps (seed 0)"
    assert data["after"][3] < data["before"][3]
    assert np.allclose(np.abs(data["perturbation"]), 0.2)
    np.testing.assert_allclose(np.array(data["x"]) + data["perturbation"], data["adversarial"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["saliency", MLP, "--of", "nope[1]", "--input", "x"], "no node 'nope'"),
        (["saliency", MLP, "--of", "fc2.zz[1]", "--input", "x"], "no output 'zz'"),
        (["saliency", MLP, "--of", "fc2.out[10]", "--input", "x"], "out of range 0..9"),
        (["saliency", MLP, "--of", "fc2.out[1,1]", "--input", "x"], "needs 1 number"),
        (["saliency", MLP, "--of", "fc2.out", "--input", "x"], "pick one element"),
        (["saliency", MLP, "--of", "fc2.out[1]", "--input", "y"], "holds integers"),
        (["saliency", MLP, "--of", "fc2.out[1]", "--input", "ψ"], "no node 'ψ'"),
        (["saliency", MLP, "--of", "☃☃", "--input", "x"], "no node '☃☃'"),
        (["saliency", MLP, "--of", "fc2.out[1]", "--input", "x", "--sample", "-1"], "--sample"),
        (["saliency", MLP, "--of", "fc2.out[1]", "--input", "x", "--sample", "5000"], "1797 samples"),
        (["maximize", MLP, "--of", "fc2.out[1]", "--input", "x", "--steps", "0"], "--steps"),
        (["maximize", MLP, "--of", "fc2.out[1]", "--input", "x", "--steps", "99999999"], "--steps"),
        (["maximize", MLP, "--of", "fc2.out[1]", "--input", "x", "--lr", "nan"], "--lr"),
        (["maximize", MLP, "--of", "fc2.out[1]", "--input", "x", "--tv", "-1"], "--tv"),
        (
            ["saliency", "examples/path_sum.json", "--of", "e", "--input", "a", "--train-steps", "2"],
            "--train-steps: ",
        ),
        (["adversarial", "examples/xor.json", "--input", "x", "--eps", "0.1"], "one score (logit) per class"),
        (
            ["saliency", MLP, "--of", "fc2.out[1]", "--input", "x", "--out", "/no/such/dir/g.npy"],
            "--out: cannot",
        ),
        (["adversarial", MLP, "--input", "x", "--eps", "-0.1"], "--eps"),
        (["adversarial", MLP, "--input", "x", "--eps", "nan"], "--eps"),
        (["adversarial", MLP, "--input", "x", "--eps", "0.1", "--label", "10"], "label 10 is out of range"),
        (["adversarial", MLP, "--input", "x", "--eps", "0.1", "--of", "loss.out"], "one score"),
        (["adversarial", MLP, "--input", "x", "--eps", "0.1", "--of", "fc2.out[1]"], "without an index"),
    ],
)
def test_bad_arguments_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    code, data = run_json(capsys, *argv)
    assert code == 2 and message in data["error"]


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
PRECISION_CASES = {
    "saliency": (["saliency", CNN, "--of", "conv2.out:c=5", "--input", "image"], "gradient"),
    "maximize": (
        ["maximize", MLP, "--of", "fc2.out[1]", "--input", "x", "--steps", "12", "--lr", "0.5"]
        + ["--tv", "0.05", "--start", "noise", "--optimizer", "adam"],
        "x",
    ),
    "adversarial": (["adversarial", CNN, "--input", "image", "--eps", "0.2", "--sample", "3"], "after"),
}


@pytest.mark.parametrize("command", PRECISION_CASES)
def test_float32_agrees_with_float64_and_the_json_says_which(capsys, command):
    """Untrained weights and generated noise are float64's at either dtype, so the two agree."""
    argv, key = PRECISION_CASES[command]
    code, float64 = run_json(capsys, *argv, "--device", "cpu")
    assert code == 0 and (float64["dtype"], float64["device"]) == ("float64", "cpu")
    code, float32 = run_json(capsys, *argv, "--dtype", "float32", "--device", "cpu")
    assert code == 0 and (float32["dtype"], float32["device"]) == ("float32", "cpu")
    expected = np.array(float64[key])
    np.testing.assert_allclose(float32[key], expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_float32_with_training_and_out_file(capsys, tmp_path):
    """--train-steps trains once (float32, as `graphcore train`); the .npy holds the float32 answer."""
    argv = ["saliency", MLP, "--of", "fc2.out[3]", "--input", "x", "--sample", "4", "--train-steps", "5"]
    _, float64 = run_json(capsys, *argv, "--device", "cpu")
    code, out, err = run(
        capsys, *argv, "--dtype", "float32", "--device", "cpu", "--out", str(tmp_path / "g.npy")
    )
    assert code == 0 and err == "" and out.splitlines()[0].endswith(", float32 on cpu")
    saved = np.load(tmp_path / "g.npy")
    assert saved.dtype == np.float32
    np.testing.assert_allclose(saved, float64["gradient"], rtol=1e-4, atol=1e-6)


def test_the_default_is_float64_on_the_gpu_when_there_is_one(capsys):
    code, data = run_json(capsys, "saliency", MLP, "--of", "fc2.out[3]", "--input", "x")
    assert code == 0 and data["dtype"] == "float64"
    assert data["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


@CUDA
def test_on_cuda_the_model_runs_there_and_agrees_with_the_cpu(capsys):
    from graphcore.input_grads.saliency import saliency
    from graphcore.input_grads.unit import parse_unit

    graph = load(CNN)
    model = InputModel(
        lower(graph), "image", values=["fc.out"], base_dir="examples", training=graph.training, device="cuda"
    )
    assert model.x.is_cuda and all(p.is_cuda for p in model.runtime.module.parameters())
    result = saliency(model, parse_unit(model.program, "fc.out[3]"))
    assert result.gradient.device.type == "cpu"  # brought back for printing and --out
    for command, (argv, key) in PRECISION_CASES.items():
        code, on_gpu = run_json(capsys, *argv, "--device", "cuda")
        assert code == 0 and on_gpu["device"] == "cuda", command
        _, on_cpu = run_json(capsys, *argv, "--device", "cpu")
        np.testing.assert_allclose(on_gpu[key], on_cpu[key], rtol=1e-7, atol=1e-9)
