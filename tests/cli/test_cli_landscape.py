"""`graphcore landscape`: the JSON's shape, every point of every path, learning rates, bad arguments."""

import json
from pathlib import Path

import pytest
import torch

from graphcore.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples"
NEURON = str(EXAMPLES / "sigmoid_neuron.json")
QUADRATIC = str(EXAMPLES / "ill_conditioned_quadratic.json")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert out.count("\n") == 1, out
    return code, json.loads(out), err


def test_json_has_the_grid_and_every_point_of_every_path(capsys):
    code, data, err = run_json(
        capsys, "landscape", QUADRATIC, "--params", "x,y", "--optimizers", "sgd,adam", "--steps", "7",
        "--resolution", "5", "--span", "2",
    )  # fmt: skip
    assert code == 0 and err == ""
    assert data["mode"] == "params" and data["axes"] == ["x", "y"] and data["start"] == [-4.0, 1.0]
    assert data["loss"] == "f.out"
    assert data["grid"]["x"] == pytest.approx([-6, -5, -4, -3, -2]) and data["grid"]["y"] == pytest.approx(
        [-1, 0, 1, 2, 3]
    )
    values = data["grid"]["values"]
    assert len(values) == 5 and all(len(row) == 5 for row in values)
    assert values[0][1] == pytest.approx(0.5 * (25 + 100 * 1))  # (x, y) = (-5, -1)
    assert [p["optimizer"] for p in data["paths"]] == ["sgd", "adam"]
    for path in data["paths"]:
        assert len(path["points"]) == 8 and path["points"][0] == [-4.0, 1.0]
        assert len(path["losses"]) == 8 and path["losses"][0] == pytest.approx(58.0)
        assert path["diverged"] is False
    sgd = data["paths"][0]
    x, y = -4.0, 1.0
    for point in sgd["points"][1:]:  # SGD by hand: the gradient of ½(x² + 100y²) is (x, 100y)
        x, y = x - 0.01 * x, y - 0.01 * 100 * y
        assert point == pytest.approx([x, y], rel=1e-12)


def test_json_paths_equal_torch_optim(capsys):
    _, data, _ = run_json(
        capsys, "landscape", NEURON, "--params", "w,b", "--optimizers", "rmsprop:lr=0.03:alpha=0.9",
        "--steps", "12", "--resolution", "2",
    )  # fmt: skip
    w = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.RMSprop([w, b], lr=0.03, alpha=0.9)
    points = [[0.5, -0.3]]
    for _ in range(12):
        optimizer.zero_grad()
        (0.5 * (1.0 - torch.sigmoid(w * 1.5 + b)) ** 2).backward()
        optimizer.step()
        points.append([float(w.detach()), float(b.detach())])
    assert torch.allclose(
        torch.tensor(data["paths"][0]["points"]), torch.tensor(points), rtol=1e-10, atol=1e-12
    )


def test_lr_sets_every_rate_and_an_optimizers_own_lr_wins(capsys):
    _, data, _ = run_json(
        capsys, "landscape", NEURON, "--params", "w,b", "--optimizers", "sgd,momentum,adam:lr=0.2",
        "--lr", "0.3", "--steps", "1", "--resolution", "2",
    )  # fmt: skip
    rates = {p["optimizer"]: p["hyperparameters"]["lr"] for p in data["paths"]}
    assert rates == {"sgd": 0.3, "momentum": 0.3, "adam:lr=0.2": 0.2}
    assert data["paths"][1]["hyperparameters"]["momentum"] == 0.9


def test_random_directions_on_a_training_graph(capsys):
    code, data, _ = run_json(
        capsys, "landscape", str(EXAMPLES / "xor.json"), "--random-directions", "--steps", "3", "--resolution", "3",
        "--seed", "4",
    )  # fmt: skip
    assert code == 0 and data["mode"] == "random-directions" and data["axes"] == ["α", "β"]
    assert data["start"] == [0.0, 0.0] and data["grid"]["x"] == [-1.0, 0.0, 1.0]
    assert [p["points"][0] for p in data["paths"]] == [[0.0, 0.0]] * 3
    assert data["grid"]["values"][1][1] == pytest.approx(
        data["paths"][0]["losses"][0]
    )  # the start is the grid's centre


def test_text_output_is_a_line_per_optimizer(capsys):
    code, out, _ = run(
        capsys,
        "landscape",
        QUADRATIC,
        "--params",
        "x,y",
        "--optimizers",
        "sgd:lr=0.019,momentum:lr=0.005",
        "--steps",
        "60",
        "--resolution",
        "3",
    )
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith("f.out on the graph's inputs (seed 0, batch 4), over (x, y) from (-4, 1)")
    assert "sgd:lr=0.019" in lines[1] and "loss 0.800679" in lines[1] and "(60 steps)" in lines[1]
    assert "momentum:lr=0.005" in lines[2] and "loss 0.0606864" in lines[2]


def test_a_diverging_path_says_so(capsys):
    code, out, _ = run(
        capsys,
        "landscape",
        str(EXAMPLES / "beale.json"),
        "--params",
        "x,y",
        "--optimizers",
        "sgd:lr=0.05",
        "--steps",
        "300",
        "--resolution",
        "2",
    )
    assert code == 0 and "loss inf  (diverged after" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--params", "w"], "--params: expected two parameters such as w,b or fc1.weight[0, 1],w, got 'w'"),
        (["--params", "w,b,c"], "--params: expected two parameters such as w,b"),
        (["--params", "w,w"], "the two parameters must differ, got 'w' twice"),
        (["--params", "w,x"], "'x' is not a scalar Parameter of this graph (its scalar Parameters: w, b)"),
        (["--params", "w,nope"], "'nope' is not a node of this graph"),
        (["--params", "w,b", "--optimizers", "sgd,foo"], "--optimizers: unknown optimizer 'foo'"),
        (
            ["--params", "w,b", "--optimizers", "adam:lr=0"],
            "--optimizers: adam.lr: must be a positive number",
        ),
        (
            ["--params", "w,b", "--optimizers", "adam:lr=nan"],
            "--optimizers: adam.lr: must be a positive number",
        ),
        (["--params", "w,b", "--optimizers", "adam:lr"], "--optimizers: expected adam:KEY=VALUE"),
        (
            ["--params", "w,b", "--optimizers", "adam:foo=1"],
            "--optimizers: adam takes no hyperparameter 'foo'",
        ),
        (["--params", "w,b", "--optimizers", "sgd,sgd"], "--optimizers: optimizer 'sgd' is given twice"),
        (["--params", "w,b", "--lr", "-1"], "argument --lr: must be a number in (0, 1e+06]"),
        (["--params", "w,b", "--lr", "nan"], "argument --lr: expected a finite number, got nan"),
        (["--params", "w,b", "--lr", "abc"], "argument --lr: expected a number, got 'abc'"),
        (["--params", "w,b", "--steps", "0"], "argument --steps: must be from 1 to 10000, got 0"),
        (["--params", "w,b", "--steps", "10000000000"], "argument --steps: must be from 1 to 10000"),
        (["--params", "w,b", "--resolution", "100000"], "argument --resolution: must be from 2 to 201"),
        (["--params", "w,b", "--span", "inf"], "argument --span: expected a finite number"),
        (["--params", "w,b", "--x-range", "3,1"], "argument --x-range: expected LOW < HIGH"),
        (["--params", "w,b", "--y-range", "1"], "argument --y-range: expected LOW,HIGH such as -2,2"),
        (["--random-directions", "--params", "w,b"], "not allowed with argument --random-directions"),
        ([], "one of the arguments --params --random-directions is required"),
    ],
)
def test_bad_arguments_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, "landscape", NEURON, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    code, data, _ = run_json(capsys, "landscape", NEURON, *argv)
    assert code == 2 and message in data["error"]


def test_a_graph_without_a_loss_is_one_line(capsys, tmp_path):
    data = json.loads(Path(NEURON).read_text())
    data["nodes"].append({"id": "extra", "type": "square"})
    data["edges"].append({"from": "w.out", "to": "extra.x"})
    (tmp_path / "two.json").write_text(json.dumps(data))
    code, out, err = run(capsys, "landscape", str(tmp_path / "two.json"), "--params", "w,b")
    assert (
        code == 2
        and out == ""
        and err
        == ("graphcore: the graph has no loss: give it a training section, or exactly one scalar output\n")
    )


def test_elements_of_a_layer_weight_as_the_axes(capsys):
    xor = str(EXAMPLES / "xor.json")
    code, data, _ = run_json(
        capsys,
        "landscape",
        xor,
        "--params",
        "fc1.weight[0, 1],fc2.bias[0]",
        "--steps",
        "2",
        "--resolution",
        "3",
    )
    assert code == 0 and data["axes"] == ["fc1.weight[0, 1]", "fc2.bias[0]"]
    assert [p["points"][0] for p in data["paths"]] == [data["start"]] * 3


@pytest.mark.parametrize(
    "params, message",
    [
        ("fc1,w", "'fc1' has several weights (weight, bias): name one element, such as fc1.weight[0, 1]"),
        ("fc1.foo[0],fc2.bias[0]", "fc1 has no weight 'foo' (its weights: weight, bias)"),
        ("fc1.weight,fc2.bias[0]", "'fc1.weight' holds 8 numbers (shape [4, 2]): name one"),
        (
            "fc1.weight[4,0],fc2.bias[0]",
            "'fc1.weight[4,0]': index [4, 0] is outside the weight's shape [4, 2]",
        ),
        ("fc1.weight[0],fc2.bias[0]", "'fc1.weight[0]': index [0] is outside the weight's shape [4, 2]"),
        ("fc1.weight[-1,0],fc2.bias[0]", "'fc1.weight[-1,0]': expected an index of whole numbers"),
        ("fc1.weight[0,1,fc2.bias[0]", "--params: expected two parameters such as w,b"),
        ("fc1.weight[0,1],fc1.weight[0, 1]", "'fc1.weight[0,1]' and 'fc1.weight[0, 1]' name the same number"),
        (
            "x,fc2.bias[0]",
            "'x' is not a scalar Parameter of this graph (its scalar Parameters: none); it has no weights",
        ),
    ],
)
def test_bad_elements_are_one_line(capsys, params, message):
    code, out, err = run(capsys, "landscape", str(EXAMPLES / "xor.json"), "--params", params, "--steps", "1")
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_a_graph_with_problems_prints_its_diagnostics_with_exit_1(capsys, tmp_path):
    data = json.loads(Path(NEURON).read_text())
    data["edges"] = [e for e in data["edges"] if e["to"] != "t.x"]
    (tmp_path / "broken.json").write_text(json.dumps(data))
    code, out, _ = run(capsys, "landscape", str(tmp_path / "broken.json"), "--params", "w,b")
    assert code == 1 and "t" in out and out.count("\n") >= 1
    code, data, _ = run_json(capsys, "landscape", str(tmp_path / "broken.json"), "--params", "w,b")
    assert code == 1 and data["ok"] is False and data["diagnostics"]


@pytest.mark.parametrize("file", ["missing.json", "", "x" * 5000])
def test_a_file_that_cannot_be_read_is_one_line(capsys, file):
    code, out, err = run(capsys, "landscape", file, "--params", "w,b")
    assert code == 2 and out == "" and err.count("\n") == 1 and len(err) < 600


def test_a_long_unknown_parameter_is_named_short(capsys):
    code, _, err = run(capsys, "landscape", NEURON, "--params", "w," + "é" * 5000)
    assert (
        code == 2
        and err == f"graphcore: {'é' * 40!r} is not a node of this graph (its scalar Parameters: w, b)\n"
    )


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
XOR_RANDOM = [str(EXAMPLES / "xor.json"), "--random-directions", "--steps", "20", "--resolution", "5"]


def assert_same_landscape(first, second, rtol):
    """Two landscapes of one request: the same plane, grid and paths, to `rtol` of their size."""
    assert first["axes"] == second["axes"] and first["grid"]["x"] == second["grid"]["x"]
    values = torch.tensor(first["grid"]["values"])
    assert torch.allclose(
        torch.tensor(second["grid"]["values"]), values, rtol=rtol, atol=rtol * values.abs().max()
    )
    for a, b in zip(first["paths"], second["paths"], strict=True):
        assert torch.allclose(torch.tensor(b["points"]), torch.tensor(a["points"]), rtol=rtol, atol=rtol)
        assert torch.allclose(torch.tensor(b["losses"]), torch.tensor(a["losses"]), rtol=rtol, atol=rtol)


@pytest.mark.parametrize(
    "argv",
    [
        XOR_RANDOM,  # a training section, random directions: weights drawn from the seed
        [QUADRATIC, "--params", "x,y", "--optimizers", "sgd,adam", "--steps", "30", "--resolution", "5"],
    ],
)
def test_float32_agrees_with_float64_and_the_json_says_which(capsys, argv):
    code, float64, _ = run_json(capsys, "landscape", *argv, "--device", "cpu")
    assert code == 0 and (float64["dtype"], float64["device"]) == ("float64", "cpu")
    code, float32, _ = run_json(capsys, "landscape", *argv, "--dtype", "float32", "--device", "cpu")
    assert code == 0 and (float32["dtype"], float32["device"]) == ("float32", "cpu")
    assert_same_landscape(float64, float32, rtol=1e-5)


def test_the_default_is_float64_on_the_gpu_when_there_is_one(capsys):
    code, data, _ = run_json(capsys, "landscape", *XOR_RANDOM)
    assert code == 0 and data["dtype"] == "float64"
    assert data["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    code, out, _ = run(capsys, "landscape", *XOR_RANDOM, "--dtype", "float32", "--device", "cpu")
    assert code == 0 and out.splitlines()[0].endswith("; float32 on cpu")


def test_the_loss_is_computed_in_the_dtype_asked_for():
    from graphcore.files.fileformat import load
    from graphcore.landscape.loss import LossFunction

    loss = LossFunction(load(EXAMPLES / "xor.json"), EXAMPLES, "float32", "cpu")
    assert loss.dtype == torch.float32 and loss(loss.weights).dtype == torch.float32


@CUDA
def test_on_cuda_the_loss_is_computed_there_and_agrees_with_the_cpu(capsys):
    from graphcore.files.fileformat import load
    from graphcore.landscape.loss import LossFunction

    loss = LossFunction(load(EXAMPLES / "xor.json"), EXAMPLES, "float32", "cuda")
    assert loss.device.type == "cuda" and all(w.is_cuda for w in loss.weights.values())
    assert loss(loss.weights).is_cuda
    code, on_gpu, _ = run_json(capsys, "landscape", *XOR_RANDOM, "--device", "cuda")
    assert code == 0 and on_gpu["device"] == "cuda" and on_gpu["dtype"] == "float64"
    _, on_cpu, _ = run_json(capsys, "landscape", *XOR_RANDOM, "--device", "cpu")
    assert_same_landscape(on_cpu, on_gpu, rtol=1e-9)
