"""Trained weights carry on: a graph whose weights file holds what training reached trains on from
them with `graphcore train`, and its `export --train` script starts from the same file, printing the
same losses; `--weights ''` starts the script from the seed, as the graph without weights does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from export_cases import load_file, losses_printed, ruff, write_export

from graphcore.cli.main import main
from graphcore.files.fileformat import load, save
from graphcore.files.weights import collect
from graphcore.training.train import Trainer

TOLERANCE = 1e-6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    """xor.json trained 50 steps, saved with its weights beside it (xor.safetensors)."""
    shutil.copy(EXAMPLES / "xor.json", tmp_path / "xor.json")
    graph = load(tmp_path / "xor.json")
    trainer = Trainer(graph, tmp_path, {"steps": 50}, dtype="float32")
    for _ in range(50):
        trainer.step()
    graph.weights = collect(trainer.module, trainer.runtime.generated.attributes, "xor.safetensors")
    save(graph, tmp_path / "xor.json")
    return tmp_path / "xor.json"


def graphcore_train(path: Path, capsys, steps: int = 5) -> list[float]:
    code = main(["train", str(path), "--json", "--device", "cpu", "--steps", str(steps)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    return result["losses"]


def test_graphcore_train_starts_from_the_graphs_weights(trained, tmp_path, capsys):
    resumed = graphcore_train(trained, capsys)
    fresh = graphcore_train(EXAMPLES / "xor.json", capsys)
    assert resumed[0] < fresh[0] / 2  # 50 steps of adam on xor halve the loss at least


def test_the_training_export_starts_from_the_weights_file_beside_it(trained, tmp_path, capsys):
    expected = graphcore_train(trained, capsys)
    path, _ = write_export(load(trained), tmp_path, "trained", train=True, base_dir=tmp_path)
    assert "safetensors.torch.load_file(args.weights" in path.read_text()
    for check in (ruff("format", "--check", str(path)), ruff("check", str(path))):
        assert check is None or check.returncode == 0, check.stdout + check.stderr
    module = load_file(path)
    assert module.train(module.parse_args(["--device", "cpu", "--steps", "5"])) == 0
    assert losses_printed(capsys.readouterr().out) == pytest.approx(expected, abs=TOLERANCE, rel=0)

    assert module.train(module.parse_args(["--device", "cpu", "--steps", "5", "--weights", ""])) == 0
    printed = losses_printed(capsys.readouterr().out)
    from_seed = graphcore_train(EXAMPLES / "xor.json", capsys)
    assert printed == pytest.approx(from_seed, abs=TOLERANCE, rel=0)


@pytest.mark.parametrize("example", ["xor", "gan_2d"])  # one loss, and several objectives
def test_a_training_export_without_weights_has_no_weights_option(tmp_path, example):
    path, _ = write_export(
        load(EXAMPLES / f"{example}.json"), tmp_path, "plain", train=True, base_dir=EXAMPLES
    )
    text = path.read_text()
    assert "--weights" not in text and "safetensors" not in text


@pytest.mark.parametrize("name", ["missing.safetensors", "../xor.safetensors"])
def test_a_weights_option_naming_no_usable_file_fails_before_training(trained, tmp_path, capsys, name):
    path, _ = write_export(load(trained), tmp_path, "trained", train=True, base_dir=tmp_path)
    module = load_file(path)
    with pytest.raises((FileNotFoundError, OSError, RuntimeError)):
        module.train(
            module.parse_args(["--device", "cpu", "--steps", "1", "--weights", str(tmp_path / name)])
        )
    assert losses_printed(capsys.readouterr().out) == []
