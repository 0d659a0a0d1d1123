"""10,000+ hostile files through load → validate → lower → codegen → save → load.

Each file is either refused with one FileFormatError line of bounded length, or goes all the way
through and saves to a file that loads back as the same document. Anything else (a traceback from
anywhere in the pipeline, a multi-line or endless message, a round trip that changes the document)
is a failure, listed with the mutation that made it. FUZZ_SEED=n replays or varies a run.
"""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphcore.codegen import python_source
from graphcore.files.fileformat import FileFormatError, dumps, graph_to_dict, load, loads, save
from graphcore.program import lower
from graphcore.validate import validate
from tests.fuzz.counts import report
from tests.fuzz.mutations import EXAMPLE_TEXTS, mutated_texts

SEED = int(os.environ.get("FUZZ_SEED", "12"))
MUTATED = 10_000
MAX_MESSAGE = 300  # characters: the shortened value (80) plus the file name and the JSON path


def pipeline_problem(text: str, folder: Path | None = None) -> str | None:
    """None when `text` is refused cleanly or goes all the way through; else what went wrong."""
    try:
        try:
            graph = loads(text, "f.json")
        except FileFormatError as error:
            message = str(error)
            if "\n" in message or len(message) > MAX_MESSAGE or not message.startswith("f.json: "):
                return f"bad refusal ({len(message)} characters): {message[:300]!r}"
            return None
        if validate(graph).ok:
            compile(python_source(lower(graph)).source, "<generated>", "exec")
        if folder is not None:  # the real save: atomic write to a file, then load from the file
            save(graph, folder / "fuzz.json")
            again = load(folder / "fuzz.json")
        else:
            again = loads(dumps(graph))
        if graph_to_dict(again) != graph_to_dict(graph):
            return "the saved file loads back as a different document"
    except Exception as error:  # any escape is what the fuzz is looking for
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return f"{type(error).__name__} at {Path(frame.filename).name}:{frame.lineno}: {str(error)[:200]}"
    return None


def test_every_example_goes_all_the_way_through(tmp_path):
    for name, text in EXAMPLE_TEXTS.items():
        assert validate(loads(text, name)).ok, name
        assert pipeline_problem(text, tmp_path) is None, name


def test_mutated_examples_are_refused_in_one_line_or_round_trip(tmp_path):
    failures: list[str] = []
    cases = 0
    for cases, (description, text) in enumerate(mutated_texts(SEED, MUTATED), 1):
        problem = pipeline_problem(text, tmp_path if cases % 50 == 0 else None)
        if problem is not None:
            failures.append(f"case {cases} ({description}): {problem}")
    report(f"fuzz files: {cases} cases, {len(failures)} failures (seed {SEED})")
    assert cases == MUTATED
    assert not failures, "\n".join(failures[:10])


# --- property: any JSON value anywhere in an example ------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "a\udfff", "x" * 200_000, "n.out", "N", "", "Linear", "sgd"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every place in a document a value can be put: each list index and object key, and the top."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*prefix, key))


def _put(doc, path, value):
    if not path:
        return value
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


PROPERTY_CASES = 400


def test_any_value_anywhere_is_refused_in_one_line_or_round_trips():
    counts = {"cases": 0, "failures": 0}

    @settings(
        max_examples=PROPERTY_CASES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data(), name=st.sampled_from(sorted(EXAMPLE_TEXTS)), value=JSON_VALUES)
    def one_file(data, name, value):
        doc = json.loads(EXAMPLE_TEXTS[name])
        paths = list(_paths(doc))
        path = paths[data.draw(st.integers(0, len(paths) - 1), label="path")]
        if path and data.draw(st.booleans(), label="add a key instead"):
            path = (*path[:-1], data.draw(st.text(max_size=8), label="key"))
        try:
            text = json.dumps(_put(doc, path, value), ensure_ascii=True)
        except (TypeError, ValueError, IndexError):  # a string key put into a list: not a file
            return
        counts["cases"] += 1
        problem = pipeline_problem(text)
        counts["failures"] += problem is not None
        assert problem is None, f"{name} with {path} = {value!r:.200}: {problem}"

    try:
        one_file()
    finally:
        report(f"fuzz files (property): {counts['cases']} cases, {counts['failures']} failures")
    assert counts["cases"] >= PROPERTY_CASES // 2


# --- valid graphs with hostile names: the files that do go all the way through to code ----------------

HOSTILE_NAMES = (
    "import",
    "self",
    "torch",
    "F",
    "nn",
    "1abc",
    "λ",
    "x y",
    "__class__",
    "None",
    "True",
    "forward",
    "super",
    "Model",
    "dtype",
    "seed",
    "_",
    "__init__",
    "def",
    "a-b",
    "x" * 150,
    "print",
    "register_buffer",
    "training",
    "😀",
    "x\u200b",
    "N",
    "out",
    "lambda",
)


def renamed(text: str, rng) -> str:
    """The example with every node id (and some labels) replaced by a name codegen must not trip on."""
    doc = json.loads(text)
    names = rng.sample(HOSTILE_NAMES, len(doc["nodes"])) if len(doc["nodes"]) <= len(HOSTILE_NAMES) else None
    mapping = {
        n["id"]: (names[i] if names else f"{rng.choice(HOSTILE_NAMES)}{i}")
        for i, n in enumerate(doc["nodes"])
    }

    def ref(text: str) -> str:
        node, port = text.rsplit(".", 1)
        return f"{mapping[node]}.{port}"

    for node in doc["nodes"]:
        node["id"] = mapping[node["id"]]
        if rng.random() < 0.5:
            node["label"] = rng.choice(HOSTILE_NAMES)
    for edge in doc["edges"]:
        edge["from"], edge["to"] = ref(edge["from"]), ref(edge["to"])
    training = doc.get("training")
    if training:
        training["inputs"] = {mapping[k]: v for k, v in training["inputs"].items()}
        for key in ("loss", "predict"):
            if key in training:
                training[key] = ref(training[key])
    return json.dumps(doc)


RENAMED = 300


def test_valid_graphs_with_hostile_names_reach_code_that_compiles():
    import random

    rng = random.Random(SEED)
    failures, through = [], 0
    for case in range(RENAMED):
        name = sorted(EXAMPLE_TEXTS)[case % len(EXAMPLE_TEXTS)]
        text = renamed(EXAMPLE_TEXTS[name], rng)
        through += validate(loads(text)).ok
        if (problem := pipeline_problem(text)) is not None:
            failures.append(f"case {case} ({name}): {problem}")
    report(f"fuzz files (hostile names): {RENAMED} cases, {len(failures)} failures, {through} generated code")
    assert not failures, "\n".join(failures[:10])
    assert through == RENAMED  # renaming never makes a valid example invalid
