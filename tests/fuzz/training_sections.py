"""Random `training` sections: the shipped examples' sections with keys set to wrong types, hostile or
plausible values, keys dropped or added, other datasets swapped in, and data files good and bad.

`random_sections(seed, count)` is deterministic for a seed. `write_data_files(folder)` writes the
files the file datasets name (under `data/`), so a section can be tried beside them.
"""

from __future__ import annotations

import copy
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests.fuzz.mutations import EXAMPLE_DOCS, HOSTILE_VALUES

TRAINED = sorted(name for name, doc in EXAMPLE_DOCS.items() if doc.get("training"))
# JSON values json.dumps can write (the text-level sentinels of mutations.py left out)
HOSTILE = tuple(v for v in HOSTILE_VALUES if not (isinstance(v, str) and v.startswith("\0")))
PLAUSIBLE: tuple[Any, ...] = (
    *("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lbfgs"),
    *("constant", "step", "cosine", "linear", "cpu", "auto", "cuda", "cuda:1", "tpu"),
    *("index", "float", "onehot", "long", "x", "y", "loss.out", "fc.out", "p.out"),
    *(2, 3, 7, 100, 10**9 + 1, 2**40, -3, 0.1, 0.9, 1.0, 1e-9, 0.999, [0.9, 0.999], [0.9], [2, 0.5]),
    *({"name": "step", "step_size": 2, "gamma": 0.5}, {"name": "cosine", "min_lr": "0"}),
    *({"patience": 1}, {"patience": 0, "min_delta": -1}, {"x": "y"}, {"x": "x", "y": "y"}),
)
EXTRA_KEYS: dict[str, tuple[Any, ...]] = {
    "schedule": ({"name": "step", "gamma": "0.1"}, {"name": "cosine", "warmup_steps": 3}, {"name": ["a"]}),
    "early_stopping": ({"patience": 2, "min_delta": 0.0}, {"patience": "5"}, {"wait": 3}),
    "clip_grad_norm": (1.0, 0, -1, "1"),
    "weight_decay": (0.01, -0.1, float("nan")),
    "device": (5, "cpu", "gpu", ["cpu"], "cuda:0"),
    "threshold": (0.0, "0.5", float("inf")),
    "predict": (None, "nope.out", 3),
    "validation": (0.5, 1.0, -0.1, 0.999),
    "batch_size": (1, 0, 10**12, 2.5),
    "steps": (None, 1, 0, "2"),
    "epochs": (None, 1, 0),
    "seed": (1, -1, 2**32, 1.5),
    "optimizer": (
        {"name": "sgd", "nesterov": True},
        {"name": ["a"]},
        {"lr": 0.1},
        {"name": "adam", "momentum": 0.9},
    ),
    "precision": ("bf16", "fp16", "fp32", "FP16", 16, "", None, ["bf16"]),
    "compile": (False, "yes", 1, None, [True]),  # never true: a compile takes seconds, not a fuzz case
}
# values for one key of one objective (of a section with objectives: the GAN's)
OBJECTIVE_VALUES: dict[str, tuple[Any, ...]] = {
    "name": ("discriminator", "generator", "", "😀", "g" * 41, "a\nb", 3, None, ["g"]),
    "loss": ("d_loss.out", "g_loss.out", "g_fc2.out", "nowhere.out", "", 0, {"out": 1}),
    "parameters": (
        [],
        ["d_fc1"],
        ["g_fc1"],
        ["g_fc1", "g_fc1"],
        ["g_fc1", "g_fc2", "ghost"],
        ["g_act"],
        "g_fc1",
        [[]],
    ),
    "optimizer": ({"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": -1}, {"name": "lbfgs"}, []),
    "schedule": ({"name": "cosine"}, {"name": "step", "step_size": 0}, "cosine"),
    "every": (1, 2, 0, -1, 2.5, float("nan"), True, "2", 10**9, 10**9 + 1, 10**400),
    "extra": (1, None),
}
DATASETS: tuple[dict[str, Any], ...] = (
    {"name": "xor", "n": 8, "labels": "float"},
    {"name": "two_moons", "n": 64, "labels": "index"},
    {"name": "blobs", "n": 30, "centers": 3, "labels": "onehot"},
    {"name": "sine", "n": 16},
    {"name": "bars_and_stripes", "n": 16, "size": 4},
    {"name": "sequence_sign", "n": 16, "length": 10},
    {"name": "spirals", "n": 10**9},
    {"name": "circles", "n": 16, "factor": "half"},
    {
        "name": "file",
        "path": "data/good.csv",
        "fields": {"x": {"columns": ["a", "b"]}, "y": {"columns": "c"}},
    },
    {
        "name": "file",
        "path": "data/good.csv",
        "fields": {"x": {"columns": ["a", "b"]}, "y": {"columns": ["c"]}},
    },
    {
        "name": "file",
        "path": "data/good.csv",
        "fields": {"x": {"columns": ["a", "b"]}, "y": {"columns": "label", "dtype": "long"}},
    },
    {
        "name": "file",
        "path": "data/holes.csv",
        "fields": {"x": {"columns": ["a", "b"]}, "y": {"columns": ["c"]}},
    },
    {
        "name": "file",
        "path": "data/holes.csv",
        "fields": {"x": {"columns": ["a", "b"], "fill": 0.0}, "y": {"columns": ["c"], "fill": 1}},
    },
    {
        "name": "file",
        "path": "data/words.csv",
        "fields": {"x": {"columns": ["a", "b"]}, "y": {"columns": ["c"]}},
    },
    {"name": "file", "path": "data/ragged.csv", "fields": {"x": {"columns": ["a"]}, "y": {"columns": ["b"]}}},
    {"name": "file", "path": "data/empty.csv", "fields": {"x": {"columns": ["a"]}, "y": {"columns": ["b"]}}},
    {"name": "file", "path": "data/header.csv", "fields": {"x": {"columns": ["a"]}, "y": {"columns": ["b"]}}},
    {"name": "file", "path": "data/absent.csv", "fields": {"x": {"columns": ["a"]}}},
    {"name": "file", "path": "data/folder.csv", "fields": {"x": {"columns": ["a"]}}},
    {"name": "file", "path": "data/objects.npy", "fields": {"x": {}}},
    {"name": "file", "path": "data/matrix.npy", "fields": {"x": {"columns": [0, 1]}, "y": {"columns": [2]}}},
    {"name": "file", "path": "data/matrix.npy", "fields": {"x": {"columns": [0, 9]}, "y": {"columns": 2}}},
    {
        "name": "file",
        "path": "data/set.npz",
        "fields": {"x": {"array": "x"}, "y": {"array": "y", "dtype": "long"}},
    },
    {"name": "file", "path": "data/set.npz", "fields": {"x": {"array": "nope"}}},
    {"name": "file", "path": "data/broken.npz", "fields": {"x": {"array": "x"}}},
    {"name": "file", "path": "data/good.txt", "fields": {"x": {"columns": ["a"]}}},
)


def write_data_files(folder: Path) -> None:
    """The data files DATASETS names, in `folder / "data"`."""
    data = folder / "data"
    data.mkdir(exist_ok=True)
    rows = "\n".join(f"{i % 3},{i % 5 / 4},{i % 2},{i % 2}" for i in range(12))
    (data / "good.csv").write_text(f"a,b,c,label\n{rows}\n", encoding="utf-8")
    (data / "holes.csv").write_text("a,b,c\n1,,0\n2,3,\n4,NaN,1\n", encoding="utf-8")
    (data / "words.csv").write_text("a,b,c\n1,2,0\n3,4,1\n5,six,0\n", encoding="utf-8")
    (data / "ragged.csv").write_text("a,b\n1,2\n3\n", encoding="utf-8")
    (data / "empty.csv").write_text("", encoding="utf-8")
    (data / "header.csv").write_text("a,b\n", encoding="utf-8")
    (data / "folder.csv").mkdir(exist_ok=True)
    np.save(data / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(data / "matrix.npy", np.arange(24.0).reshape(8, 3))
    np.savez(data / "set.npz", x=np.zeros((6, 2), np.float32), y=np.arange(6) % 2)
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((6, 2)))
    (data / "broken.npz").write_bytes(buffer.getvalue()[:40])
    (data / "good.txt").write_text("a\n1\n", encoding="utf-8")


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        yield (*prefix, key)
        if isinstance(item, dict | list):
            yield from _places(item, (*prefix, key))


def _mutate_objective(section: dict[str, Any], rng: random.Random) -> str:
    """One key of one objective set (or dropped), or the list itself reshaped."""
    objectives = section["objectives"]
    if not isinstance(objectives, list) or not objectives or rng.random() < 0.15:
        section["objectives"] = copy.deepcopy(
            rng.choice(
                (
                    [],
                    {},
                    None,
                    [None],
                    [[]],
                    [{}],
                    list(EXAMPLE_DOCS["gan_2d.json"]["training"]["objectives"]) * 9,
                )
            )
        )
        return f"objectives = {repr(section['objectives'])[:40]}"
    index = rng.randrange(len(objectives))
    if not isinstance(objectives[index], dict):
        return "objectives: left as it is"
    key = rng.choice(sorted(OBJECTIVE_VALUES))
    if rng.random() < 0.1:
        objectives[index].pop(key, None)
        return f"drop objectives[{index}].{key}"
    objectives[index][key] = value = copy.deepcopy(rng.choice(OBJECTIVE_VALUES[key]))
    return f"set objectives[{index}].{key} = {repr(value)[:30]}"


def _mutate(section: dict[str, Any], rng: random.Random) -> str:
    kind = rng.random()
    if "objectives" in section and rng.random() < 0.5:
        return _mutate_objective(section, rng)
    places = list(_places(section))
    if kind < 0.4 and places:
        path = rng.choice(places)
        parent = section
        for key in path[:-1]:
            parent = parent[key]
        value = copy.deepcopy(rng.choice(HOSTILE if rng.random() < 0.5 else PLAUSIBLE))
        parent[path[-1]] = value
        return f"set {'.'.join(map(str, path))} = {repr(value)[:30]}"
    if kind < 0.6:
        key = rng.choice(sorted(EXTRA_KEYS))
        section[key] = copy.deepcopy(rng.choice(EXTRA_KEYS[key]))
        return f"put {key} = {repr(section[key])[:40]}"
    if kind < 0.75:
        section["dataset"] = copy.deepcopy(rng.choice(DATASETS))
        return f"dataset = {repr(section['dataset'])[:60]}"
    if kind < 0.85 and places:
        path = rng.choice(places)
        parent = section
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        return f"drop {'.'.join(map(str, path))}"
    dicts = [section] + [d for p in places if isinstance(d := _at(section, p), dict)]
    target = rng.choice(dicts)
    target[rng.choice(("extra", "😀", "", "Name", "lr"))] = rng.choice(HOSTILE[:20])
    return "add an unknown key"


def _at(section: dict[str, Any], path: tuple[Any, ...]) -> Any:
    for key in path:
        section = section[key]
    return section


def random_sections(seed: int, count: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """`count` (description, example file name, training section) triples, the same for the same seed."""
    rng = random.Random(seed)
    for _ in range(count):
        name = rng.choice(TRAINED)
        section = copy.deepcopy(EXAMPLE_DOCS[name]["training"])
        section["steps"] = 2  # as `train --steps 2` does: the point is to reach the first steps
        whats = [_mutate(section, rng) for _ in range(rng.choice((1, 1, 2, 3)))]
        yield f"{name}: {'; '.join(whats)}", name, section
