"""Hostile graph files made by mutating the shipped examples: what a classmate's broken file looks like.

`mutated_texts(seed, count)` is deterministic for a seed, so a failing case can be replayed by its
index. Most mutations act on the parsed document (a value somewhere replaced by the wrong type, an
empty or huge or non-finite value, a lone surrogate, deep nesting; a key dropped or added; a node
type this build does not know); some act on the text itself (truncation, a byte flipped). Values
json.dumps cannot write (integers of thousands of digits, nesting deeper than its recursion limit)
go in as sentinels that are replaced in the text afterwards.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_TEXTS: dict[str, str] = {
    p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.json"))
}
EXAMPLE_DOCS: dict[str, Any] = {name: json.loads(text) for name, text in EXAMPLE_TEXTS.items()}

_SENTINELS = {
    "\u0000HUGE_INT\u0000": "9" * 5000,
    "\u0000BIG_INT\u0000": "1" + "0" * 400,
    "\u0000DEEP_LIST\u0000": "[" * 1000 + "]" * 1000,
    "\u0000VERY_DEEP_LIST\u0000": "[" * 100_000 + "]" * 100_000,
    "\u0000DEEP_VALUE\u0000": "[" * 500 + "1" + "]" * 500,
    "\u0000DEEP_OBJECT\u0000": '{"a":' * 1000 + "1" + "}" * 1000,
}

HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    -(2**31),
    2**63,
    10**18,
    1e308,
    -1e308,
    5e-324,
    0.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    " ",
    "x" * 100_000,
    "\ud800",
    "λ→∂😀",
    "a.b",
    "node.port",
    "../../etc/passwd",
    "N",
    [],
    [1],
    [0, 0],
    [-1, 3],
    [1.5, 2],
    ["N", 2],
    [[1, 2], [3]],
    [None],
    {},
    {"name": 1},
    {"a": {"b": {"c": []}}},
    [float("nan"), 1],
    *(_SENTINELS),
)

UNKNOWN_KEYS = ("extra", "Nodes", "__proto__", "😀", "")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a document a value sits, depth first."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _mutate_doc(doc: Any, rng: random.Random) -> tuple[Any, str]:
    paths = list(_paths(doc))
    path = rng.choice(paths)
    where = "/".join(map(str, path)) or "<top>"
    kind = rng.random()
    if kind < 0.55:
        value = rng.choice(HOSTILE_VALUES)
        shown = next((k.strip("\u0000") for k in _SENTINELS if k == value), repr(value)[:30])
        return _set(doc, path, copy.deepcopy(value)), f"set {where} = {shown}"
    parent_path, key = (path[:-1], path[-1]) if path else ((), None)
    parent = _get(doc, parent_path)
    if kind < 0.68 and key is not None:
        del parent[key]
        return doc, f"drop {where}"
    if kind < 0.76 and isinstance(parent, dict):
        parent[rng.choice(UNKNOWN_KEYS)] = rng.choice(HOSTILE_VALUES[:20])
        return doc, f"add key under {'/'.join(map(str, parent_path)) or '<top>'}"
    if kind < 0.84 and isinstance(parent, list) and key is not None:
        parent.insert(key, copy.deepcopy(parent[key]))
        return doc, f"duplicate {where}"
    if kind < 0.92 and isinstance(doc, dict) and isinstance(doc.get("nodes"), list) and doc["nodes"]:
        node = rng.choice(doc["nodes"])
        if isinstance(node, dict):
            node["type"] = rng.choice(("FancyNewOp", "linear", "Linear ", "", "Input"))
            return doc, f"node type -> {node['type']!r}"
    other = rng.choice(paths)
    value = copy.deepcopy(_get(doc, other))
    return _set(doc, path, value), f"copy {'/'.join(map(str, other)) or '<top>'} to {where}"


def _mutate_text(text: str, rng: random.Random) -> tuple[str, str]:
    at = rng.randrange(max(1, len(text)))
    kind = rng.randrange(4)
    if kind == 0:
        return text[:at], f"truncate at {at}"
    if kind == 1:
        return text[:at] + text[at + 1 :], f"delete char {at}"
    if kind == 2:
        char = rng.choice(["{", "]", '"', "\\", "\x00", "\ud800", "é", ",", "NaN", "-"])
        return text[:at] + char + text[at:], f"insert {char!r} at {at}"
    return text[:at] + text[at : at + 200] * 3 + text[at + 200 :], f"repeat chunk at {at}"


def _dumps(doc: Any) -> str:
    text = json.dumps(doc, indent=1)  # ensure_ascii: a lone surrogate is written as \ud800
    for sentinel, replacement in _SENTINELS.items():
        text = text.replace(json.dumps(sentinel), replacement)
    return text


def mutated_texts(seed: int, count: int) -> Iterator[tuple[str, str]]:
    """`count` (description, file text) pairs, the same ones for the same seed."""
    rng = random.Random(seed)
    names = sorted(EXAMPLE_DOCS)
    for _ in range(count):
        name = rng.choice(names)
        if rng.random() < 0.15:
            text, what = _mutate_text(EXAMPLE_TEXTS[name], rng)
            yield f"{name}: {what}", text
            continue
        doc = copy.deepcopy(EXAMPLE_DOCS[name])
        whats = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            doc, what = _mutate_doc(doc, rng)
            whats.append(what)
        yield f"{name}: {'; '.join(whats)}", _dumps(doc)
