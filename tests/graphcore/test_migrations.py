"""Migrations: older files are upgraded by explicit functions, one version at a time, in order."""

import json

import pytest

from graphcore.files import fileformat, migrations
from graphcore.files.fileformat import FileFormatError, graph_to_dict, loads
from graphcore.files.migrations import MigrationError, upgrade


def rename_old_negate(data):
    """A v1 → v2 step as a real one would look: a node type renamed."""
    nodes = [{**n, "type": "neg"} if n.get("type") == "negate" else n for n in data.get("nodes", [])]
    return {**data, "nodes": nodes}


def add_title(data):
    """A v2 → v3 step that relies on the one before having run."""
    assert all(n["type"] != "negate" for n in data["nodes"])
    return {**data, "meta": {**data.get("meta", {}), "title": "upgraded"}}


@pytest.fixture
def two_migrations(monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: rename_old_negate, 2: add_title})
    monkeypatch.setattr(fileformat, "VERSION", 3)
    monkeypatch.setattr(fileformat, "PLAIN_VERSION", 3)


def old_file():
    return {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [2]}}, {"id": "n", "type": "negate"}],
        "edges": [{"from": "x.out", "to": "n.x"}],
    }


def test_every_older_version_has_its_step():
    assert sorted(migrations.MIGRATIONS) == list(range(1, fileformat.VERSION))


def test_migrations_run_in_order_and_set_each_version(two_migrations):
    data = old_file()
    upgraded = upgrade(data, 1, 3)
    assert upgraded["version"] == 3 and upgraded["meta"] == {"title": "upgraded"}
    assert [n["type"] for n in upgraded["nodes"]] == ["Input", "neg"]
    assert data == old_file()  # the argument is left alone


def test_the_loader_upgrades_an_older_file_and_saves_the_new_version(two_migrations):
    graph = loads(json.dumps(old_file()))
    assert graph.node("n").type == "neg" and graph.meta == {"title": "upgraded"}
    assert graph_to_dict(graph)["version"] == 3


def test_a_missing_step_is_one_line(monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: rename_old_negate})
    with pytest.raises(MigrationError, match="^version: files of version 1 cannot be upgraded"):
        upgrade(old_file(), 1, 3)
    monkeypatch.setattr(fileformat, "VERSION", 3)
    with pytest.raises(FileFormatError) as caught:
        loads(json.dumps(old_file()), "old.json")
    assert str(caught.value) == (
        "old.json: version: files of version 1 cannot be upgraded (no migration from version 2)"
    )
