"""The gradient norm per time step (graphcore.derivatives.time_steps, `graphcore grad --per-step`)
equals torch autograd's on the same input, and every bad argument is one line."""

import json
from pathlib import Path

import pytest
import torch

from graphcore.cli.main import main
from graphcore.derivatives.time_steps import TimeStepError, gradient_per_step
from graphcore.files.fileformat import load
from graphcore.program import lower
from graphcore.runtime import Runtime

LSTM = str(Path(__file__).parents[2] / "examples" / "lstm_sequence_sign.json")


def autograd_norms(value: str) -> list[float]:
    """‖∂loss/∂value[:, t]‖ by plain autograd through the generated module."""
    runtime = Runtime(lower(load(LSTM)), outputs=["loss.out", value], batch=4)
    x = runtime.inputs["x"].clone().requires_grad_(True)
    out = runtime.forward({"x": x})
    seq = x if value == "x.out" else out[value]
    seq.retain_grad()
    out["loss.out"].backward()
    return [float(n) for n in seq.grad.movedim(1, 0).reshape(seq.shape[1], -1).norm(dim=1)]


@pytest.mark.parametrize("value", ["x.out", "lstm.out"])
def test_per_step_norms_equal_autograd(value):
    runtime = Runtime(lower(load(LSTM)), batch=4)
    result = gradient_per_step(runtime, "loss.out", value)
    assert result.time_dim == 1 and result.shape[1] == 20
    torch.testing.assert_close(
        torch.tensor(result.norms), torch.tensor(autograd_norms(value)), rtol=1e-9, atol=0
    )


def test_before_training_the_early_steps_get_far_less_gradient():
    norms = gradient_per_step(Runtime(lower(load(LSTM))), "loss.out", "x.out").norms
    assert norms[0] < 1e-2 * norms[-1]


def test_the_cli_prints_one_norm_per_step(capsys):
    assert main(["grad", LSTM, "--of", "loss", "--per-step", "x.out", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["shape"] == [4, 20, 1] and len(data["norms"]) == 20
    runtime = Runtime(lower(load(LSTM)), batch=4)
    assert data["norms"] == gradient_per_step(runtime, "loss.out", "x.out").norms
    assert main(["grad", LSTM, "--of", "loss", "--per-step", "x", "--time-dim", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("‖dloss.out/dx.out[t]‖ along dim 0") and len(lines) == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--per-step", "nowhere.out"], "there is no node 'nowhere'"),
        (["--per-step", "x.out", "--time-dim", "3"], "time dim 3 is outside"),
        (["--per-step", "x.out", "--time-dim", "-9"], "time dim -9 is outside"),
        (["--per-step", "x.out", "--time-dim", "1e9"], "invalid int value"),
        (["--per-step", "x.out", "--time-dim", "NaN"], "invalid int value"),
        (["--per-step", "y.out"], "holds integers"),
        (["--per-step", "loss.out"], "a sequence has a time axis"),
        (["--per-step", "x.out", "--of", "fc"], "differentiate a scalar"),
        (["--per-step", "x.out", "--wrt", "x"], "not both"),
        (["--per-step", ""], "there is no node ''"),
        (["--per-step", "ü\u202e.out"], "there is no node"),
    ],
)
def test_bad_per_step_arguments_are_one_line(capsys, argv, message):
    assert main(["grad", LSTM, "--of", "loss", *argv]) == 2
    out, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_per_step_of_a_vector_output_is_refused():
    runtime = Runtime(lower(load(LSTM)), batch=4)
    with pytest.raises(TimeStepError, match="differentiate a scalar"):
        gradient_per_step(runtime, "fc.out", "x.out")
