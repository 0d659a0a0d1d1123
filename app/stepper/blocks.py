"""Flat node ids of blocks' inner nodes: the program runs the graph with its blocks inlined, so a step's
node, or a problem's, may be "res1/conv1" (inner node conv1 of block instance res1; a repeated block's
copy k is "res1/k/conv1", graphcore.blocks.flatten). The canvas shows res1 for it outside the block,
and conv1 inside it; the stepper and the Problems dock name it "res1 ▸ conv1".
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import TypeVar

from graphcore.blocks import repeat_of
from graphcore.graph import BLOCK_TYPE, Graph

SEPARATOR = "/"
PATH_SEPARATOR = " ▸ "  # between the levels of a path a user reads, as the breadcrumb has them
T = TypeVar("T")


def shown_node(node_id: str, nodes: Container[str]) -> str | None:
    """The node of a canvas holding `nodes` that stands for step node `node_id`: itself, else the
    block instance it was inlined from (the longest "a/b" prefix the canvas has); None if neither."""
    if node_id in nodes:
        return node_id
    parts = node_id.split(SEPARATOR)
    for end in range(len(parts) - 1, 0, -1):
        prefix = SEPARATOR.join(parts[:end])
        if prefix in nodes:
            return prefix
    return None


def step_path(node_id: str, outer: Container[str]) -> str:
    """How the stepper names a step's node: "res1 ▸ conv1" for an inlined one ("res1 ▸ copy 2 ▸ conv1"
    in a repeat), else the id itself."""
    if node_id in outer or shown_node(node_id, outer) is None:
        return node_id
    instance, _, inside = node_id.partition(SEPARATOR)
    return PATH_SEPARATOR.join([instance, inside_path(inside)])


def inside_path(inner_id: str) -> str:
    """How an instance names a node inlined from it, given its id below the instance: "fc" for
    "fc", "copy 2 ▸ fc" for "2/fc" (copy 2 of a repeat), "" for ""."""
    parts = inner_id.split(SEPARATOR) if inner_id else []
    return PATH_SEPARATOR.join(f"copy {part}" if part.isdigit() else part for part in parts)


def where(node_id: str, graph: Graph, port: str | None = None) -> str:
    """How the user reads flat node id `node_id` of `graph` (and its `port`): "Residual ▸ copy 2 ▸ fc.x"
    for "res1/2/fc" port x, each node by its title; a labelled node's port is "(port x)", as a label
    is free text. Parts the graph does not know stay as they are."""
    parts, names = node_id.split(SEPARATOR), []
    level: Graph | None = graph
    node = None
    while parts:
        part = parts.pop(0)
        node = level.node(part) if level is not None and part in level else None
        names.append(node.title if node is not None else part)
        name = node.params.get("block") if node is not None and node.type == BLOCK_TYPE else None
        definition = graph.blocks.get(name) if isinstance(name, str) else None
        if (
            definition is not None
            and node is not None
            and repeat_of(node) > 1
            and parts
            and parts[0].isdigit()
        ):
            names.append(f"copy {parts.pop(0)}")
        level = definition.graph if definition is not None else None
    path = PATH_SEPARATOR.join(names)
    if port is None:
        return path
    return f"{path} (port {port})" if node is not None and node.label else f"{path}.{port}"


def inner_values(values: Mapping[str, T], instance: str, inner: Container[str]) -> dict[str, T]:
    """Per-node values of the steps inside `instance`, keyed by the inner node's id (the block's
    canvas shows those); for a repeated block the last copy that has one wins, as it runs last."""
    found: dict[str, T] = {}
    for node_id, value in values.items():
        if not node_id.startswith(instance + SEPARATOR):
            continue
        inner_id = node_id.rpartition(SEPARATOR)[2]
        if inner_id in inner:
            found[inner_id] = value
    return found


def with_instances(values: Mapping[str, T], graph: Graph) -> dict[str, T]:
    """`values` plus one for each block instance of `graph`: its first output's (the value of the
    inner node exposing it, in the last copy of a repeat), so the block node wears that badge."""
    found = dict(values)
    for node in graph.nodes:
        name = node.params.get("block") if node.type == BLOCK_TYPE else None
        definition = graph.blocks.get(name) if isinstance(name, str) else None
        if definition is None or not definition.outputs:
            continue
        exposed = next(iter(definition.outputs.values())).rpartition(".")[0]
        copies = repeat_of(node)
        inner = SEPARATOR.join([node.id, *([str(copies)] if copies > 1 else []), exposed])
        if inner in values:
            found[node.id] = values[inner]
    return found
