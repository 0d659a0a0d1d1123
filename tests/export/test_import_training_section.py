"""`export --train` then `import-torch` keeps the training section: the optimizer, rate, schedule,
dataset and loss come back, named after the imported graph's nodes, so training the imported graph
prints the losses the original's training printed. A TRAINING table that does not fit is left out
with one note, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_cases import write_export

from graphcore.cli.main import main
from graphcore.exchange.importer import import_from_file
from graphcore.files.fileformat import load, save

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEPT = ("dataset", "optimizer", "schedule", "batch_size", "epochs", "steps", "seed", "validation")


def train_losses(path: Path, capsys, steps: int = 20) -> list[float]:
    code = main(["train", str(path), "--json", "--device", "cpu", "--steps", str(steps)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    return result["losses"]


@pytest.mark.parametrize("name", ["xor", "digits_mlp", "two_moons"])
def test_a_training_export_imports_with_its_training_section(name, tmp_path, capsys):
    graph = load(EXAMPLES / f"{name}.json")
    path, class_name = write_export(graph, tmp_path, "trained", train=True, base_dir=EXAMPLES)
    _, result = import_from_file(f"{path}:{class_name}", [], "{}")
    section = result.graph.training
    assert {k: section.get(k) for k in KEPT} == {k: graph.training.get(k) for k in KEPT}
    loss, *predict = result.returned
    assert section["loss"] == loss and section.get("predict") == (predict[0] if predict else None)
    assert set(section["inputs"]) <= {n.id for n in result.graph.nodes if n.type == "Input"}
    save(result.graph, tmp_path / "imported.json")
    assert train_losses(tmp_path / "imported.json", capsys) == pytest.approx(
        train_losses(EXAMPLES / f"{name}.json", capsys), abs=1e-6, rel=0
    )


MODEL = """
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x, y):
        return torch.nn.functional.mse_loss(torch.sigmoid(self.fc(x)), y)


INPUTS = {"x": {"shape": ["N", 2]}, "y": {"shape": ["N", 1]}}
FIELDS = {"x": "x", "y": "y"}
"""
GOOD = {"dataset": {"name": "xor"}, "inputs": {"a": "x", "b": "y"}, "loss": "l.out", "steps": 3}
HOSTILE = {
    "not a dict": ("[1, 2]", "expected the training section"),
    "empty": ("{}", "expected the training section"),
    "no inputs": ('{"dataset": {"name": "xor"}, "loss": "l.out"}', "expected the training section"),
    "fields that differ": ({**GOOD, "inputs": {"a": "q"}}, "FIELDS does not give"),
    "a bad optimizer": ({**GOOD, "optimizer": {"name": "??"}}, "optimizer"),
    "a negative batch": ({**GOOD, "batch_size": -3}, "batch_size"),
    "a huge rate": ({**GOOD, "optimizer": {"name": "sgd", "lr": 1e308 * 10}}, "lr"),
    "unicode": ({**GOOD, "dataset": {"name": "ẍor"}}, "dataset"),
    "deeply nested": ({**GOOD, "schedule": {"name": [[[[{"a": 1}]]]]}}, "schedule"),
    "more losses than returns": (
        {**GOOD, "predict": "p.out", "loss": "l.out"},
        "forward returns 1 values, not its 2",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_training_table_that_does_not_fit_is_one_note_and_no_section(case, tmp_path):
    value, message = HOSTILE[case]
    text = value if isinstance(value, str) else repr(value).replace("inf", "float('inf')")
    source = tmp_path / "model.py"
    source.write_text(MODEL + f"TRAINING = {text}\n")
    _, result = import_from_file(f"{source}:M", [], "{}")
    assert result.graph.training == {}
    (note,) = [n for n in result.notes if n.startswith("TRAINING:")]
    assert message in note and "\n" not in note and len(note) < 300


def test_a_fitting_table_names_the_imported_nodes(tmp_path):
    source = tmp_path / "model.py"
    source.write_text(MODEL + f"TRAINING = {GOOD!r}\n")
    _, result = import_from_file(f"{source}:M", [], "{}")
    assert result.graph.training["inputs"] == {"x": "x", "y": "y"}
    assert result.graph.training["loss"] == result.returned[0]


def test_graphcore_import_torch_writes_the_section_and_graphcore_train_runs_it(tmp_path, capsys):
    graph = load(EXAMPLES / "xor.json")
    path, class_name = write_export(graph, tmp_path, "trained", train=True, base_dir=EXAMPLES)
    out = tmp_path / "imported.json"
    assert main(["import-torch", f"{path}:{class_name}", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and not any(n.startswith("TRAINING:") for n in report["notes"])
    assert json.loads(out.read_text())["training"]["optimizer"] == graph.training["optimizer"]
    assert train_losses(out, capsys, 5) == pytest.approx(
        train_losses(EXAMPLES / "xor.json", capsys, 5), abs=1e-6
    )


@pytest.mark.parametrize(
    "text",
    [
        "{}\nTRAINING['inputs'] = TRAINING",  # a section that holds itself
        "{'inputs': {'a': 'x', 'b': 'y'}, 'dataset': {'name': {1, 2}}}",  # a set, no JSON value
        "{'inputs': {'a': 'x', 'b': 'y'}, 'dataset': object()}",
    ],
    ids=["cyclic", "a set", "an object"],
)
def test_a_training_table_of_odd_python_values_is_one_note(text, tmp_path):
    source = tmp_path / "model.py"
    source.write_text(MODEL + f"TRAINING = {text}\n")
    _, result = import_from_file(f"{source}:M", [], "{}")
    assert result.graph.training == {}
    (note,) = [n for n in result.notes if n.startswith("TRAINING:")]
    assert "\n" not in note
