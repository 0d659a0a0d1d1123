"""Helpers of the export and import tests: write an export, load it as a module, compare graphs."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from itertools import count
from pathlib import Path
from typing import Any

import networkx as nx

from graphcore.exchange.export import export_python
from graphcore.files.fileformat import loads
from graphcore.graph import Graph
from graphcore.registry import REGISTRY, load_library

load_library()
EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.json"))
TRAINED = [p for p in EXAMPLES if json.loads(p.read_text()).get("training")]
_modules = count()

# How weights start is not structure: the importer records Parameters' values and rebuilds layers
# from the seed, so these params may differ between a graph and its round trip.
HOW_WEIGHTS_START = {"weight_init", "std", "bound", "init", "value"}


def graph_from(data: dict[str, Any]) -> Graph:
    return loads(json.dumps({"format": "backprop-studio-graph", "version": 1, **data}))


def write_export(graph: Graph, folder: Path, name: str = "model", **options: Any) -> tuple[Path, str]:
    """Export `graph` to folder/name.py; returns the path and the class name."""
    exported = export_python(graph, name=name, script_name=f"{name}.py", **options)
    path = folder / f"{name}.py"
    path.write_text(exported.source, encoding="utf-8")
    return path, exported.class_name


def load_file(path: Path) -> Any:
    """Import an exported file as a fresh module (its `__main__` block does not run)."""
    spec = importlib.util.spec_from_file_location(f"exported_{next(_modules)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def structure(graph: Graph) -> nx.MultiDiGraph:
    """The graph as node types and params joined by port-to-port edges; ids, labels and positions
    are not structure, and neither is how weights start (HOW_WEIGHTS_START, except an Input's value).
    Flatten is flatten(start_dim=1): both write the same code."""
    result = nx.MultiDiGraph()
    for node in graph.nodes:
        spec = REGISTRY[node.type]
        params = spec.with_defaults(node.params)
        type_ = "flatten" if node.type == "Flatten" else node.type
        if spec.kind != "input":
            params = {k: v for k, v in params.items() if k not in HOW_WEIGHTS_START}
        result.add_node(node.id, key=(type_, json.dumps(params, sort_keys=True)))
    for src, dst in graph.edges:
        result.add_edge(src.node, dst.node, ports=(src.port, dst.port))
    return result


def same_structure(a: Graph, b: Graph) -> bool:
    """One-to-one map between the nodes keeping every node's key and every edge's ports."""
    return nx.is_isomorphic(
        structure(a),
        structure(b),
        node_match=lambda x, y: x["key"] == y["key"],
        edge_match=lambda x, y: (
            sorted(e["ports"] for e in x.values()) == sorted(e["ports"] for e in y.values())
        ),
    )


def ruff(*args: str) -> subprocess.CompletedProcess[str] | None:
    """`ruff ARGS` with ruff's own defaults (--isolated), or None when ruff is not installed."""
    executable = shutil.which("ruff")
    if executable is None:
        return None
    return subprocess.run([executable, *args, "--isolated"], capture_output=True, text=True)


def run_python(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def losses_printed(text: str) -> list[float]:
    """The per-step losses an exported training script prints (`step 3 loss 0.25`)."""
    values = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 4 and words[0] == "step" and words[2] == "loss":
            assert int(words[1]) == len(values) + 1, f"steps out of order: {line!r}"
            values.append(float(words[3]))
    return values


def objective_losses_printed(text: str) -> dict[str, list[float]]:
    """Each objective's per-step losses from a script training several
    (`step 3 discriminator loss 1.4, generator loss 0.61`)."""
    losses: dict[str, list[float]] = {}
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head != "step" or " loss " not in rest:
            continue
        step, _, terms = rest.partition(" ")
        for term in terms.split(", "):
            name, _, value = term.rpartition(" loss ")
            values = losses.setdefault(name, [])
            assert int(step) == len(values) + 1, f"steps out of order: {line!r}"
            values.append(float(value))
    return losses


def nodes_of(graph: Graph) -> dict[str, set[tuple[str, str, tuple[float, float]]]]:
    """(id, label, position) of every node, by scope: "" the graph, else a block definition."""
    scopes = {"": graph, **{name: definition.graph for name, definition in graph.blocks.items()}}
    return {scope: {(n.id, n.label, tuple(n.pos)) for n in inner.nodes} for scope, inner in scopes.items()}


def assert_same_nodes(graph: Graph, imported: Graph) -> None:
    """The import gave every node back its id, label and position (the NODES table), in the graph and
    in each block; a type that imports as several nodes (a GAN loss) keeps its id and label on the
    last, and the others' positions are the import's own."""
    ours, theirs = nodes_of(graph), nodes_of(imported)
    assert set(ours) == set(theirs)
    for scope, nodes in ours.items():
        if len(nodes) == len(theirs[scope]):
            assert theirs[scope] == nodes, scope
        else:
            named = {(i, label) for i, label, _ in theirs[scope]}
            assert {(i, label) for i, label, _ in nodes} <= named, scope
