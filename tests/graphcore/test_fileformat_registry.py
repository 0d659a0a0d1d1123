"""Loading reads the registry it is given: a tiny one of two types, and an empty one refused in one line."""

import json

import pytest

from graphcore.fileformat import FileFormatError, load, loads
from graphcore.registry import NO_LIBRARY, NodeSpec, NoLibraryError, Param, register, same_shape


def tiny_registry() -> dict[str, NodeSpec]:
    """Two types, neither of them in the built-in library."""
    registry: dict[str, NodeSpec] = {}
    register(
        NodeSpec(
            "Seed",
            "sources",
            (),
            ("out",),
            lambda *, value: (),
            "",
            "A scalar.",
            kind="constant",
            init="torch.tensor({value!r})",
            params=(Param("value", "float", 1.0),),
        ),
        registry,
    )
    register(
        NodeSpec(
            "Double",
            "elementwise",
            ("x",),
            ("out",),
            same_shape,
            "2 * {x}",
            "Twice x.",
            params=(Param("times", "int", 2, min=1),),
        ),
        registry,
    )
    return registry


def document(double_params: dict) -> str:
    return json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "s", "type": "Seed", "params": {"value": 3.0}},
                {"id": "d", "type": "Double", "params": double_params},
            ],
            "edges": [{"from": "s.out", "to": "d.x"}],
        }
    )


def test_a_file_loads_with_a_tiny_registry(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(document({"times": 3}), encoding="utf-8")
    graph = load(path, tiny_registry())
    assert [(n.id, n.type, n.params) for n in graph.nodes] == [
        ("s", "Seed", {"value": 3.0}),
        ("d", "Double", {"times": 3}),
    ]
    assert [(str(a), str(b)) for a, b in graph.edges] == [("s.out", "d.x")]


def test_params_are_checked_against_the_given_registry():
    with pytest.raises(FileFormatError, match=r"nodes\[1\] \(id 'd'\)\.params\.times: must be >= 1; got 0"):
        loads(document({"times": 0}), registry=tiny_registry())


def test_an_empty_registry_is_refused_in_one_line():
    with pytest.raises(NoLibraryError) as error:
        loads(document({}), registry={})
    assert str(error.value) == NO_LIBRARY == "no node library loaded: call graphcore.load_library()"
