"""Hostile `training.objectives`: every key with wrong types, empty, duplicate, unknown, huge,
non-finite, unicode and nested values is one line naming it (`training.objectives[1].every: ...`),
from the section parser, the Trainer (what needs the graph) and `graphcore train`, never a traceback."""

import copy
import json
import math
from pathlib import Path

import pytest
import torch

from graphcore.cli.main import main
from graphcore.files.fileformat import load
from graphcore.training.config import TrainingConfigError, parse
from graphcore.training.train import Trainer
from tests.fuzz.training_sections import OBJECTIVE_VALUES, random_sections

GAN = Path(__file__).parents[2] / "examples" / "gan_2d.json"
SECTION = json.loads(GAN.read_text(encoding="utf-8"))["training"]
NESTED: list = []
for _ in range(60):
    NESTED = [NESTED]


def changed(path: tuple, value) -> dict:
    """The GAN's section with the value at `path` set (or, for value DROP, removed)."""
    section = copy.deepcopy(SECTION)
    parent = section
    for key in path[:-1]:
        parent = parent[key]
    if value is DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return section


DROP = object()
O1 = ("objectives", 1)
CASES = [
    (("objectives",), 5, "training.objectives: expected a list of objects"),
    (("objectives",), [], "training.objectives: expected a list of objects"),
    (("objectives",), {"name": "d"}, "training.objectives: expected a list of objects"),
    (("objectives",), [None], "training.objectives[0]: expected an object"),
    (("objectives",), [SECTION["objectives"][0]] * 17, "training.objectives: at most 16 objectives, got 17"),
    (("objectives",), NESTED, "training.objectives[0]: expected an object"),
    ((*O1, "name"), 5, "training.objectives[1].name: must be a non-empty string, got 5"),
    ((*O1, "name"), "", "training.objectives[1].name: must be a non-empty string, got ''"),
    ((*O1, "name"), DROP, "training.objectives[1].name: is required"),
    (
        (*O1, "name"),
        "discriminator",
        "training.objectives[1].name: 'discriminator' is already the name of objectives[0]",
    ),
    (
        (*O1, "name"),
        "g" * 41,
        "training.objectives[1].name: must be a short printable name (at most 40 characters)",
    ),
    ((*O1, "name"), "gen\nerator", "training.objectives[1].name: must be a short printable name"),
    (
        (*O1, "name"),
        "\ud800",
        "training.objectives[1].name: holds characters that cannot be written as UTF-8",
    ),
    (
        (*O1, "name"),
        NESTED,
        "training.objectives[1].name: must be a non-empty string, got [[[[[[[[[[…]]]]]]]]]]",
    ),
    ((*O1, "loss"), None, "training.objectives[1].loss: must be a non-empty string, got None"),
    ((*O1, "loss"), ["g_loss.out"], "training.objectives[1].loss: must be a non-empty string"),
    ((*O1, "loss"), DROP, "training.objectives[1].loss: is required"),
    ((*O1, "loss"), "a\0b", "training.objectives[1].loss: must not hold a NUL character"),
    (
        (*O1, "parameters"),
        DROP,
        "training.objectives[1].parameters: is required when there are several objectives",
    ),
    ((*O1, "parameters"), [], "training.objectives[1].parameters: expected a list of node ids"),
    ((*O1, "parameters"), "g_fc1", "training.objectives[1].parameters: expected a list of node ids"),
    (
        (*O1, "parameters"),
        ["g_fc1", 7],
        "training.objectives[1].parameters[1]: must be a non-empty string, got 7",
    ),
    (
        (*O1, "parameters"),
        ["g_fc1", "g_fc1"],
        "training.objectives[1].parameters[1]: node 'g_fc1' is already in objectives[1]'s parameters",
    ),
    (
        (*O1, "parameters"),
        ["d_fc1"],
        "training.objectives[1].parameters[0]: node 'd_fc1' is already in objectives[0]'s parameters",
    ),
    ((*O1, "optimizer"), "adam", "training.objectives[1].optimizer: expected an object such as"),
    (
        (*O1, "optimizer"),
        {"name": "lbfgs"},
        "training.objectives[1].optimizer.name: unknown optimizer 'lbfgs'",
    ),
    (
        (*O1, "optimizer"),
        {"name": "adam", "lr": math.nan},
        "training.objectives[1].optimizer.lr: must be a positive number, got nan",
    ),
    (
        (*O1, "optimizer"),
        {"name": "adam", "lr": -1},
        "training.objectives[1].optimizer.lr: must be a positive number, got -1",
    ),
    (
        (*O1, "optimizer"),
        {"name": "adam", "betas": [0.5]},
        "training.objectives[1].optimizer.betas: expected two numbers",
    ),
    ((*O1, "schedule"), [], "training.objectives[1].schedule: expected an object such as"),
    (
        (*O1, "schedule"),
        {"name": "linear"},
        "training.objectives[1].schedule.name: unknown schedule 'linear'",
    ),
    (
        (*O1, "schedule"),
        {"name": "step", "gamma": math.inf},
        "training.objectives[1].schedule.gamma: must be a positive number, got inf",
    ),
    ((*O1, "every"), 0, "training.objectives[1].every: must be a positive integer, got 0"),
    ((*O1, "every"), -2, "training.objectives[1].every: must be a positive integer, got -2"),
    ((*O1, "every"), 2.5, "training.objectives[1].every: must be a positive integer, got 2.5"),
    ((*O1, "every"), math.nan, "training.objectives[1].every: must be a positive integer, got nan"),
    ((*O1, "every"), True, "training.objectives[1].every: must be a positive integer, got True"),
    ((*O1, "every"), "2", "training.objectives[1].every: must be a positive integer, got '2'"),
    (
        (*O1, "every"),
        10**400,
        "training.objectives[1].every: must be at most 1000000000, got <an integer of about 401 digits>",
    ),
    (
        (*O1, "every"),
        {"k": [[2]]},
        "training.objectives[1].every: must be a positive integer, got {'k': [[2]]}",
    ),
    (
        ("objectives", 0, "every"),
        3,
        "training.objectives[0].every: the first objective updates on every step",
    ),
    ((*O1, "😀"), 1, "training.objectives[1].'😀': unknown key (expected one of name, loss, parameters"),
    ((*O1, "Every"), 2, "training.objectives[1].Every: unknown key"),
    (("loss",), "d_loss.out", "training.loss: a section with objectives gives each objective its own loss"),
    (
        ("optimizer",),
        {"name": "sgd"},
        "training.optimizer: a section with objectives gives each objective its own optimizer",
    ),
    (
        ("early_stopping",),
        {"patience": 2},
        "training.early_stopping: watches one loss, and this section has several objectives",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), CASES, ids=[f"{'.'.join(map(str, c[0]))}={repr(c[1])[:20]}" for c in CASES]
)
def test_a_bad_objective_is_one_line_naming_its_key(path, value, message):
    with pytest.raises(TrainingConfigError) as caught:
        parse(changed(path, value))
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text and len(text) < 400


def test_unicode_names_are_fine():
    config = parse(changed((*O1, "name"), "生成器 😀"))
    assert [o.name for o in config.objectives] == ["discriminator", "生成器 😀"]


def test_a_huge_every_within_range_means_the_objective_updates_once():
    config = parse(changed((*O1, "every"), 10**9))
    generator = config.objectives[1]
    assert generator.due(0) and not generator.due(1) and not generator.due(10**9 - 1)


GRAPH_CASES = [
    (
        (*O1, "loss"),
        "nowhere.out",
        "training.objectives[1].loss: there is no output 'nowhere.out' in the graph",
    ),
    ((*O1, "loss"), "损失.out", "training.objectives[1].loss: there is no output '损失.out' in the graph"),
    (
        (*O1, "loss"),
        "g_fc2.out",
        "training.objectives[1].loss: 'g_fc2.out' has shape [N, 2], but a loss must be one number",
    ),
    (
        (*O1, "parameters"),
        ["g_fc1", "g_fc2", "ghost"],
        "training.objectives[1].parameters[2]: there is no node 'ghost' in the graph",
    ),
    (
        (*O1, "parameters"),
        ["g_fc1", "g_fc2", "g_act"],
        "training.objectives[1].parameters[2]: node 'g_act' has no parameters to train",
    ),
    (
        (*O1, "parameters"),
        ["g_fc1"],
        "training.objectives: no objective updates node 'g_fc2': add it to one objective's parameters",
    ),
    (("objectives", 0, "parameters"), ["d_fc1"], "training.objectives: no objective updates node 'd_fc2'"),
]


@pytest.mark.parametrize(("path", "value", "message"), GRAPH_CASES, ids=[c[2][:40] for c in GRAPH_CASES])
def test_what_needs_the_graph_is_one_line_from_the_trainer_and_the_cli(
    path, value, message, tmp_path, capsys
):
    graph = load(GAN)
    graph.training = changed(path, value)
    with pytest.raises(TrainingConfigError) as caught:
        Trainer(graph, GAN.parent)
    assert str(caught.value).startswith(message)
    document = json.loads(GAN.read_text(encoding="utf-8"))
    document["training"] = graph.training
    path_ = tmp_path / "gan.json"
    path_.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code = main(["train", str(path_), "--steps", "2"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith(f"graphcore: {message}") and err.count("\n") == 1
    assert "Traceback" not in err


def test_every_objectives_value_the_fuzzer_tries_is_parsed_or_refused_in_one_line():
    """The fuzzer's objective mutations (tests/fuzz/training_sections.py) on the GAN's section."""
    tried = 0
    for _, _, section in random_sections(seed=5, count=3000):
        if "objectives" not in json.dumps(section, default=str):
            continue
        tried += 1
        try:
            parse(section)
        except TrainingConfigError as error:
            assert "\n" not in str(error) and str(error).startswith("training.")
    assert tried > 100 and OBJECTIVE_VALUES


def test_cli_progress_names_each_objectives_loss(capsys):
    from graphcore.cli.main import progress_line

    trainer = Trainer(load(GAN), GAN.parent, {"steps": 3})
    reports = []
    trainer.run(listener=reports.append, report_interval=0.0)
    line = progress_line(reports[-1])
    losses = {name: values[-1][1] for name, values in reports[-1].objectives.items()}
    assert f"discriminator loss {losses['discriminator']:.4g}" in line
    assert f"generator loss {losses['generator']:.4g}" in line and "3/3" in line
    code = main(["train", str(GAN), "--steps", "4"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[1].startswith("last step: discriminator loss ")
    assert ", generator loss " in out.splitlines()[1]
    assert out.splitlines()[2].startswith("train: discriminator loss ") and "generator loss" in out


def test_every_k_updates_on_the_first_step_and_every_kth_after_it():
    graph = load(GAN)
    graph.training = changed((*O1, "every"), 3)
    trainer = Trainer(graph, GAN.parent, {"steps": 7})
    before = {k: v.detach().clone() for k, v in trainer.module.named_parameters()}
    result = trainer.run()
    generator = result.objectives["generator"]
    assert [value is not None for value in generator] == [True, False, False, True, False, False, True]
    assert all(value is not None for value in result.objectives["discriminator"])
    steps = {
        name: trainer.optimizers[i].state[group[0]]["step"]
        for i, (name, group) in enumerate(zip(("d", "g"), trainer.groups))
    }
    assert (float(steps["d"]), float(steps["g"])) == (7.0, 3.0)  # Adam counts the steps it took
    moved = {k for k, v in trainer.module.named_parameters() if not torch.equal(v, before[k])}
    assert moved == set(before)
    trainer.reset_weights()
    trainer.step()
    after_one = {k: v.detach().clone() for k, v in trainer.module.named_parameters()}
    trainer.step()  # the generator is not due: only the discriminator's weights move
    moved = {k for k, v in trainer.module.named_parameters() if not torch.equal(v, after_one[k])}
    assert moved == set(trainer.weights["d_fc1"] + trainer.weights["d_fc2"])
