"""meta.description: a paragraph kept through save and load; anything else is refused in one line."""

import json

import pytest

from graphcore.files.fileformat import FileFormatError, load, loads, save

BASE = {"format": "backprop-studio-graph", "version": 1, "nodes": [], "edges": []}
TEXT = "What this graph shows.\nWhat to try: change the init param of fc1 — ünïcode too."


def test_description_is_kept_through_save_and_load(tmp_path):
    graph = loads(json.dumps({**BASE, "meta": {"title": "T", "description": TEXT}}))
    save(graph, tmp_path / "g.json")
    assert load(tmp_path / "g.json").meta["description"] == TEXT


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x" * 2001, "meta.description: expected a paragraph of text (at most 2,000 characters)"),
        (5, "meta.description: expected a paragraph of text"),
        (None, "meta.description: expected a paragraph of text"),
        ({"a": 1}, "meta.description: expected a paragraph of text"),
        ("a\ud800", "meta.description: character 1 is a lone surrogate"),
    ],
)
def test_hostile_descriptions_are_one_line(value, message):
    with pytest.raises(FileFormatError) as caught:
        loads(json.dumps({**BASE, "meta": {"description": value}}))
    assert message in str(caught.value) and "\n" not in str(caught.value)
