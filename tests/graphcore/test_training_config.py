"""The training section: every bad value is one TrainingConfigError naming its key, never a crash."""

import inspect
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcore.training.checks import shorten
from graphcore.training.config import KNOWN_KEYS, OPTIMIZERS, SCHEDULES, TrainingConfigError, parse
from graphcore.training.dataset_config import GENERATED_KEYS
from graphcore.training.datasets import GENERATED
from tests.fuzz.training_sections import HOSTILE, random_sections

EXAMPLES = Path(__file__).parents[2] / "examples"
BASE = {"dataset": {"name": "xor"}, "inputs": {"x": "x", "y": "y"}, "loss": "loss.out"}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_example_parses(path):
    section = json.loads(path.read_text(encoding="utf-8")).get("training")
    if section:
        config = parse(section)
        assert config.optimizer["name"] in OPTIMIZERS and config.schedule["name"] in SCHEDULES


def test_generated_dataset_keys_match_the_generators():
    assert set(GENERATED_KEYS) == set(GENERATED)
    for name, generate in GENERATED.items():
        assert list(GENERATED_KEYS[name]) == list(inspect.signature(generate).parameters)[1:], name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"device": 5}, "training.device: expected auto, cpu, cuda or cuda:N, got 5"),
        ({"device": "tpu"}, "training.device: expected auto, cpu, cuda or cuda:N, got 'tpu'"),
        (
            {"optimizer": {"name": ["a"]}},
            "training.optimizer.name: expected one of sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, "
            "got ['a']",
        ),
        ({"optimizer": {"lr": 0.1}}, "training.optimizer.name: is required"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "training.optimizer.momentum: adam takes no such"),
        ({"optimizer": {"name": "adam", "betas": [0.9]}}, "training.optimizer.betas: expected two numbers"),
        (
            {"optimizer": {"name": "adam", "betas": [0.9, 1.5]}},
            "training.optimizer.betas[1]: must be a number in",
        ),
        (
            {"optimizer": {"name": "sgd", "nesterov": True}},
            "training.optimizer.nesterov: needs a positive momentum",
        ),
        (
            {"optimizer": {"name": "sgd", "lr": float("nan")}},
            "training.optimizer.lr: must be a positive number",
        ),
        ({"optimizer": "adam"}, "training.optimizer: expected an object such as"),
        (
            {"schedule": {"name": "step", "gamma": "0.1"}},
            "training.schedule.gamma: must be a positive number, got '0.1'",
        ),
        (
            {"schedule": {"name": "step", "gamma": {"a": 1}}},
            "training.schedule.gamma: must be a positive number",
        ),
        (
            {"schedule": {"name": "cosine", "min_lr": -1}},
            "training.schedule.min_lr: must be a non-negative number",
        ),
        ({"schedule": {"name": "linear"}}, "training.schedule.name: unknown schedule 'linear'"),
        ({"schedule": {"name": "cosine", "decay": 1}}, "training.schedule.decay: unknown key (known: name,"),
        (
            {"schedule": {"warmup_steps": -1}},
            "training.schedule.warmup_steps: must be a non-negative integer",
        ),
        (
            {"early_stopping": {"patience": "5"}},
            "training.early_stopping.patience: must be a positive integer",
        ),
        (
            {"early_stopping": {"wait": 3}},
            "training.early_stopping.wait: unknown key (known: patience, min_delta)",
        ),
        ({"early_stopping": 3}, "training.early_stopping: expected an object such as"),
        ({"dataset": {"name": "xor", "n": 2**70}}, "training.dataset.n: must be at most 10000000"),
        (
            {"dataset": {"name": "xor", "colour": 1}},
            "training.dataset.colour: unknown key (known: name, seed,",
        ),
        (
            {"dataset": {"name": "xor", "noise": math.inf}},
            "training.dataset.noise: must be a non-negative number",
        ),
        (
            {"dataset": {"name": "xor", "labels": "words"}},
            "training.dataset.labels: unknown label encoding 'words'",
        ),
        (
            {"dataset": {"name": "bars_and_stripes", "n": 10**7, "size": 256}},
            "training.dataset: bars_and_stripes with these sizes holds 6.6e+11 numbers; the limit is 1e8",
        ),
        ({"dataset": {"name": "mnist"}}, "training.dataset.name: unknown dataset 'mnist' (use one of xor,"),
        ({"dataset": ["xor"]}, 'training.dataset: expected an object with a "name"'),
        ({"dataset": {"name": "file", "fields": {}}}, "training.dataset.path: is required"),
        (
            {"dataset": {"name": "file", "path": "d.txt"}},
            "training.dataset.path: expected a .csv, .npy or .npz",
        ),
        (
            {"dataset": {"name": "file", "path": "d\0.csv"}},
            "training.dataset.path: must not hold a NUL character",
        ),
        (
            {"dataset": {"name": "file", "path": "\ud800.csv"}},
            "training.dataset.path: holds characters that cannot",
        ),
        ({"dataset": {"name": "file", "path": "d.csv"}}, "training.dataset.fields: say which fields to read"),
        (
            {"dataset": {"name": "file", "path": "d.csv", "fields": {"x": {}}}},
            "training.dataset.fields.x.columns: is required for a CSV file",
        ),
        (
            {"dataset": {"name": "file", "path": "d.npz", "fields": {"x": {"columns": [0]}}}},
            "training.dataset.fields.x.array: is required for an .npz file",
        ),
        (
            {"dataset": {"name": "file", "path": "d.csv", "fields": {"x": {"columns": "a", "fill": "0"}}}},
            "training.dataset.fields.x.fill: must be a finite number, got '0'",
        ),
        (
            {
                "dataset": {
                    "name": "file",
                    "path": "d.csv",
                    "fields": {"x": {"columns": "a", "fill": 0.5, "dtype": "long"}},
                }
            },
            "training.dataset.fields.x.fill: a long field needs a whole-number fill, got 0.5",
        ),
        (
            {"dataset": {"name": "file", "path": "d.csv", "fields": {"x": {"columns": [1]}}}},
            "training.dataset.fields.x.columns[0]: must be a non-empty string, got 1",
        ),
        ({"inputs": {"x": "pixels"}}, "training.inputs.x: the dataset has no field 'pixels' (fields: x, y)"),
        ({"inputs": {"x": ["x"]}}, "training.inputs.x: must be a non-empty string, got ['x']"),
        ({"inputs": {}}, 'training.inputs: expected {"input node id": "dataset field", ...}, got {}'),
        ({"loss": 3}, "training.loss: must be a non-empty string, got 3"),
        ({"batch_size": True}, "training.batch_size: must be a positive integer, got True"),
        ({"batch_size": 10**12}, "training.batch_size: must be at most 1000000000"),
        ({"steps": 2.5}, "training.steps: must be a positive integer, got 2.5"),
        ({"seed": -1}, "training.seed: must be a non-negative integer, got -1"),
        ({"seed": 2**32}, "training.seed: must be at most 4294967295"),
        ({"validation": 1.0}, "training.validation: must be a fraction in [0, 1), got 1.0"),
        ({"threshold": "0.5"}, "training.threshold: must be a finite number, got '0.5'"),
        ({"clip_grad_norm": 0}, "training.clip_grad_norm: must be a positive number, got 0"),
        ({"weight_decay": -0.1}, "training.weight_decay: must be a non-negative number, got -0.1"),
        ({"colour": 1}, "training.colour: unknown key (expected one of batch_size,"),
        ({"\n": 1}, "training.'\\n': unknown key"),
        (
            {"seed": 10**5000},
            "training.seed: must be at most 4294967295, got <an integer of about 5001 digits>",
        ),
    ],
)
def test_bad_values_name_the_key(change, message):
    with pytest.raises(TrainingConfigError) as caught:
        parse({**BASE, **change})
    assert str(caught.value).startswith(message), str(caught.value)


def test_missing_and_wrong_sections():
    for section, message in [
        ({}, "this graph has no training section"),
        ([1], "training: expected an object, got [1]"),
        ({"inputs": {"x": "x"}, "loss": "l.out"}, "training.dataset: is required"),
    ]:
        with pytest.raises(TrainingConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse(section)


def test_shorten_bounds_every_value():
    deep = [1]
    for _ in range(5000):
        deep = [deep]
    for value in (deep, "x" * 10**6, 10**5000, {"k" * 500: ["v" * 500] * 500}, list(range(10**5))):
        assert len(shorten(value)) <= 80
    assert shorten("\ud800") == "'\\ud800'" and shorten({"a": [1, 2]}) == "{'a': [1, 2]}"


def test_parsed_values_keep_their_meaning():
    config = parse(
        {
            **BASE,
            "optimizer": {"name": "momentum", "lr": 0.1},
            "weight_decay": 0.01,
            "schedule": {"name": "step", "gamma": 0.5},
            "steps": 7,
            "device": "cuda:1",
        }
    )
    assert config.optimizer == {"lr": 0.1, "momentum": 0.9, "name": "momentum", "weight_decay": 0.01}
    assert config.schedule == {"name": "step", "gamma": 0.5}
    assert (config.steps, config.epochs, config.device, config.seed) == (7, None, "cuda:1", 0)


def check_refusal(section):
    """parse either accepts the section or refuses it with one short line naming a training key."""
    try:
        parse(section)
    except TrainingConfigError as error:
        text = str(error)
        assert text.startswith(("training", "this graph has no training section")), text
        assert "\n" not in text and len(text) < 400, text


def test_random_sections_never_crash_parse():
    cases = 0
    for _, _, section in random_sections(seed=12, count=3000):
        check_refusal(section)
        cases += 1
    print(f"{cases} random training sections parsed")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(HOSTILE),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.dictionaries(st.sampled_from([*KNOWN_KEYS, "extra"]), json_values, max_size=5),
    st.sampled_from([None, "schedule", "optimizer", "dataset", "early_stopping"]),
    json_values,
)
def test_any_json_in_any_key_is_refused_in_one_line(changes, nested, value):
    section = {
        **BASE,
        "optimizer": {"name": "adam"},
        "schedule": {"name": "step"},
        "early_stopping": {},
        **changes,
    }
    if nested and isinstance(section.get(nested), dict):
        section[nested] = {**section[nested], "gamma" if nested == "schedule" else "lr": value}
    check_refusal(section)
