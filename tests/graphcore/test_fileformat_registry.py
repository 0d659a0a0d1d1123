"""Loading reads the registry it is given: a tiny one of two types, and an empty one refused in one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graphcore.files.fileformat import FileFormatError, load, loads
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


def test_graphcore_never_loads_the_library_behind_the_callers_back():
    """In a fresh process: importing graphcore registers nothing, and loading a file says what to call."""
    code = (
        "import sys, graphcore, graphcore.files.fileformat, graphcore.exchange.importer\n"
        "import graphcore.nodedocs, graphcore.cli.main\n"
        "from graphcore.registry import NoLibraryError\n"
        "try:\n"
        "    graphcore.files.fileformat.load('examples/xor.json')\n"
        "except NoLibraryError as error:\n"
        "    print(error)\n"
        "print(len(graphcore.REGISTRY), any(m.split('.')[0] == 'nodes' for m in sys.modules))\n"
        "graphcore.load_library()\n"
        "print(len(graphcore.files.fileformat.load('examples/xor.json').nodes) > 0)\n"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.splitlines() == [NO_LIBRARY, "0 False", "True"]
