"""`graphcore export --train`: the exported loop's losses are `graphcore train`'s, step for step."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from export_cases import (
    TRAINED,
    graph_from,
    load_file,
    losses_printed,
    objective_losses_printed,
    ruff,
    run_python,
    write_export,
)

from graphcore.cli.main import main
from graphcore.files.fileformat import dumps, load
from graphcore.training.config import OPTIMIZERS

TOLERANCE = 1e-6
XOR = next(p for p in TRAINED if p.stem == "xor")


def graphcore_train(path, capsys, *flags):
    code = main(["train", str(path), "--json", "--device", "cpu", *flags])
    result = json.loads(capsys.readouterr().out)
    assert code in (0, 1), result
    return result


def exported_train(path, capsys, *flags):
    """Run the exported file's `train` in this process (its __main__ path is run_python's test)."""
    module = load_file(path)
    code = module.train(module.parse_args(["--device", "cpu", *flags]))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("example", TRAINED, ids=lambda p: p.stem)
def test_first_100_losses_equal_graphcore_train(example, tmp_path, capsys):
    path, _ = write_export(load(example), tmp_path, example.stem, train=True, base_dir=example.parent)
    trained = graphcore_train(example, capsys, "--steps", "100")
    code, printed = exported_train(path, capsys, "--steps", "100")
    assert code == 0
    if "objectives" in trained:  # several losses, each with its own optimizer: each one step for step
        expected, found = trained["objectives"], objective_losses_printed(printed)
        assert sorted(found) == sorted(expected) and len(expected) > 1
        for name, losses in expected.items():
            assert found[name] == pytest.approx(losses, abs=TOLERANCE, rel=0), name
            assert len(losses) == 100
    else:
        assert losses_printed(printed) == pytest.approx(trained["losses"], abs=TOLERANCE, rel=0)
        assert len(trained["losses"]) == 100


def regression(training: dict, extra_nodes=(), extra_edges=()) -> dict:
    """tanh(x W + b) + dropout and noise on the sine set, with an Input no dataset field feeds."""
    return {
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", 1]}},
            {"id": "fc", "type": "Linear", "params": {"in_features": 1, "out_features": 3}},
            {"id": "drop", "type": "Dropout", "params": {"p": 0.2}},
            {"id": "noise", "type": "randn"},
            {"id": "scale", "type": "Input", "params": {"shape": [], "value": 0.01}},
            {"id": "small", "type": "mul"},
            {"id": "noisy", "type": "add"},
            {"id": "t", "type": "tanh"},
            {"id": "out", "type": "Linear", "params": {"in_features": 3, "out_features": 1}},
            {"id": "y", "type": "Input", "params": {"shape": ["N", 1]}},
            {"id": "loss", "type": "MSELoss"},
            *extra_nodes,
        ],
        "edges": [
            {"from": "x.out", "to": "fc.x"},
            {"from": "fc.out", "to": "drop.x"},
            {"from": "drop.out", "to": "noise.x"},
            {"from": "noise.out", "to": "small.a"},
            {"from": "scale.out", "to": "small.b"},
            {"from": "drop.out", "to": "noisy.a"},
            {"from": "small.out", "to": "noisy.b"},
            {"from": "noisy.out", "to": "t.x"},
            {"from": "t.out", "to": "out.x"},
            {"from": "out.out", "to": "loss.input"},
            {"from": "y.out", "to": "loss.target"},
            *extra_edges,
        ],
        "training": {
            "dataset": {"name": "sine", "n": 50},
            "inputs": {"x": "x", "y": "y"},
            "loss": "loss.out",
            "batch_size": 8,
            "seed": 4,
            **training,
        },
    }


VARIANTS = {
    **{
        f"optimizer_{name}": {"optimizer": {"name": name, "lr": 0.05}, "steps": 25}
        for name in sorted(OPTIMIZERS)
    },
    "step_schedule_with_warmup": {
        "optimizer": {"name": "momentum", "lr": 0.1},
        "schedule": {"name": "step", "step_size": 4, "gamma": 0.5, "warmup_steps": 3},
        "steps": 25,
    },
    "cosine_and_clipping": {
        "optimizer": {"name": "adam", "lr": 0.05},
        "schedule": {"name": "cosine", "warmup_steps": 5, "min_lr": 0.001},
        "clip_grad_norm": 0.05,
        "weight_decay": 0.001,
        "steps": 30,
    },
    "validation_and_early_stopping": {
        "optimizer": {"name": "sgd", "lr": 0.01},
        "validation": 0.2,
        "epochs": 40,
        "early_stopping": {"patience": 1, "min_delta": 0.5},
    },
    "constant_with_warmup_epochs": {
        "optimizer": {"name": "rmsprop", "lr": 0.01},
        "schedule": {"name": "constant", "warmup_steps": 4},
        "epochs": 3,
    },
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_optimizer_schedule_and_stopping_rule_gives_the_same_losses(name, tmp_path, capsys):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(dumps(graph_from(regression(VARIANTS[name]))))
    path, _ = write_export(load(graph_file), tmp_path, train=True, base_dir=tmp_path)
    expected = graphcore_train(graph_file, capsys)
    code, printed = exported_train(path, capsys)
    assert code == 0
    assert losses_printed(printed) == pytest.approx(expected["losses"], abs=TOLERANCE, rel=0)
    if "early_stopping" in VARIANTS[name]:
        assert expected["stopped"] == "early_stopping" and "early_stopping after" in printed
    epochs = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == len(expected["epochs"])


def test_seed_epochs_and_steps_override_as_in_graphcore_train(tmp_path, capsys):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(dumps(graph_from(regression({"steps": 500}))))
    path, _ = write_export(load(graph_file), tmp_path, train=True, base_dir=tmp_path)
    for flags in (["--epochs", "2", "--seed", "9"], ["--steps", "7", "--epochs", "5"]):
        expected = graphcore_train(graph_file, capsys, *flags)["losses"]
        assert losses_printed(exported_train(path, capsys, *flags)[1]) == pytest.approx(
            expected, abs=TOLERANCE
        )
    assert len(expected) == 7


@pytest.mark.parametrize("kind", ["npz", "csv"])
def test_a_dataset_file_is_read_from_its_path(kind, tmp_path, capsys):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 1)).astype(np.float32), rng.normal(size=(30, 1)).astype(np.float32)
    folder = tmp_path / "data"
    folder.mkdir()
    if kind == "npz":
        np.savez(folder / "set.npz", inputs=x, targets=y)
        fields = {"x": {"array": "inputs"}, "y": {"array": "targets"}}
    else:
        np.savetxt(folder / "set.csv", np.hstack([x, y]), delimiter=",", header="a,b", comments="")
        fields = {"x": {"columns": ["a"]}, "y": {"columns": ["b"]}}
    dataset = {"name": "file", "path": f"data/set.{kind}", "fields": fields}
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(dumps(graph_from(regression({"dataset": dataset, "steps": 12}))))
    path, _ = write_export(load(graph_file), tmp_path / "data", train=True, base_dir=tmp_path)
    expected = graphcore_train(graph_file, capsys)["losses"]
    assert losses_printed(exported_train(path, capsys)[1]) == pytest.approx(expected, abs=TOLERANCE)
    moved = tmp_path / "moved.npz"
    if kind == "npz":  # --data points the script at another copy of the file
        (folder / "set.npz").rename(moved)
        assert losses_printed(exported_train(path, capsys, "--data", str(moved))[1]) == pytest.approx(
            expected
        )


def test_each_generated_dataset_exports_clean_code(tmp_path, capsys):
    """Every generator of graphcore.training.datasets, copied into a file that ruff accepts as it is."""
    xor = load(TRAINED[[p.stem for p in TRAINED].index("xor")])
    paths = []
    for name in [
        "xor",
        "two_moons",
        "circles",
        "spirals",
        "blobs",
        "sine",
        "bars_and_stripes",
        "sequence_sign",
    ]:
        graph = copy.deepcopy(xor)
        graph.training["dataset"] = {"name": name, "n": 8}
        paths.append(write_export(graph, tmp_path, f"data_{name}", train=True)[0])
        module = load_file(paths[-1])
        fields = module.load_data(0)
        assert set(fields) == {"x", "y"} and len(fields["x"]) == 8
    checked = ruff("check", *map(str, paths))
    if checked is not None:
        assert checked.returncode == 0, checked.stdout
        formatted = ruff("format", "--check", "--diff", *map(str, paths))
        assert formatted.returncode == 0, formatted.stdout


def test_the_script_runs_standalone_and_reports_a_non_finite_loss(tmp_path):
    data = regression({"steps": 5, "optimizer": {"name": "sgd", "lr": 1e30}})
    path, _ = write_export(graph_from(data), tmp_path, train=True)
    done = run_python(path.name, "--steps", "5", "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("step 1 loss ") and "nonfinite after 1 optimizer steps" in lines
    assert losses_printed(done.stdout)[-1] == float("inf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


@pytest.mark.parametrize(
    "example", [p for p in TRAINED if p.stem in ("two_moons", "gan_2d")], ids=lambda p: p.stem
)
def test_bf16_losses_equal_graphcore_train_with_the_same_precision(example, tmp_path, capsys):
    """Both run the same generated module's forward under the same CPU autocast, with the same
    weights and batches: the same bf16 kernels in the same order, so the losses agree as closely as
    fp32's do (1e-6), while they differ from fp32's by far more."""
    graph = load(example)
    graph.training["precision"] = "bf16"
    path, _ = write_export(graph, tmp_path, example.stem, train=True, base_dir=example.parent)
    source = path.read_text()
    assert 'PRECISION = "bf16"' in source and "with autocast(precision, device):" in source
    trained = graphcore_train(example, capsys, "--steps", "30", "--precision", "bf16")
    fp32 = graphcore_train(example, capsys, "--steps", "30")
    code, printed = exported_train(path, capsys, "--steps", "30")
    assert code == 0
    if "objectives" in trained:
        found = objective_losses_printed(printed)
        for name, losses in trained["objectives"].items():
            assert found[name] == pytest.approx(losses, abs=TOLERANCE, rel=0), name
            assert losses != fp32["objectives"][name]
    else:
        assert losses_printed(printed) == pytest.approx(trained["losses"], abs=TOLERANCE, rel=0)
        assert trained["losses"] != fp32["losses"]
    code, fp32_printed = exported_train(path, capsys, "--steps", "30", "--precision", "fp32")
    if "objectives" not in fp32:
        assert losses_printed(fp32_printed) == pytest.approx(fp32["losses"], abs=TOLERANCE, rel=0)


def test_exported_fp16_refuses_the_cpu_and_compile_is_an_option(tmp_path, capsys):
    graph = load(TRAINED[[p.stem for p in TRAINED].index("two_moons")])
    graph.training["compile"] = True
    path, _ = write_export(graph, tmp_path, "moons", train=True, base_dir=tmp_path)
    source = path.read_text()
    assert "COMPILE = True" in source and "network = torch.compile(network)" in source
    module = load_file(path)
    assert module.parse_args([]).compile is True and module.parse_args(["--no-compile"]).compile is False
    with pytest.raises(SystemExit, match="precision fp16 needs a CUDA device, not cpu"):
        module.train(module.parse_args(["--device", "cpu", "--precision", "fp16", "--no-compile"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 needs a CUDA device")
def test_fp16_on_cuda_gives_the_losses_of_graphcore_train(tmp_path, capsys):
    example = TRAINED[[p.stem for p in TRAINED].index("two_moons")]
    graph = load(example)
    graph.training["precision"] = "fp16"
    path, _ = write_export(graph, tmp_path, example.stem, train=True, base_dir=example.parent)
    code = main(["train", str(example), "--json", "--device", "cuda", "--precision", "fp16", "--steps", "30"])
    trained = json.loads(capsys.readouterr().out)
    assert code == 0, trained
    module = load_file(path)
    assert module.train(module.parse_args(["--device", "cuda", "--steps", "30"])) == 0
    printed = capsys.readouterr().out
    # the same kernels on the same device; the GPU's reductions may differ in their last bits
    assert losses_printed(printed) == pytest.approx(trained["losses"], abs=1e-4, rel=0)


def test_one_objective_over_some_parameters_trains_only_those_in_the_export(tmp_path, capsys):
    """A single objective naming its parameters (fc2 learns, fc1 stays as initialised) exports the
    same selection: the script's losses are graphcore train's, which differ from training both."""
    graph = load(XOR)
    training = dict(graph.training)
    objective = {"name": "head", "loss": training.pop("loss"), "parameters": ["fc2"]}
    objective["optimizer"] = training.pop("optimizer")
    graph.set_training({**training, "objectives": [objective]})
    source = tmp_path / "xor_head.json"
    source.write_text(dumps(graph), encoding="utf-8")
    path, _ = write_export(load(source), tmp_path, "xor_head", train=True, base_dir=tmp_path)
    trained = graphcore_train(source, capsys, "--steps", "30")
    code, printed = exported_train(path, capsys, "--steps", "30")
    assert code == 0
    found = losses_printed(printed) or objective_losses_printed(printed)["head"]
    assert found == pytest.approx(trained["losses"], abs=TOLERANCE, rel=0)
    everything = graphcore_train(XOR, capsys, "--steps", "30")["losses"]
    assert trained["losses"] != pytest.approx(everything, abs=TOLERANCE, rel=0)
