"""The NODES table of an export: which graph node each name of the code was written from.

Code names are Python names (`h1`, `self.fc1`), made from labels and ids by codegen.Namespace, so a
label such as "z = wx + b" cannot survive as a name. The table keeps the node's id, label and
position as plain literals (repr, like every other value of the file), by class and code name, and
`graphcore import-torch` gives them back to the nodes it makes (graphcore.exchange.import_nodes).
"""

from __future__ import annotations

import math
from typing import Any

from graphcore.codegen import GeneratedModule, format_expression
from graphcore.graph import Graph, Node
from graphcore.training.code import literal

TABLE = "NODES"


def _entry(node: Node) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": node.id}
    if node.label:
        entry["label"] = node.label
    if all(math.isfinite(v) for v in node.pos):
        entry["pos"] = [float(v) for v in node.pos]
    return entry


def nodes_code(graph: Graph, generated: GeneratedModule) -> str:
    """NODES = {class: {code name: {"id": ..., "label": ..., "pos": [x, y]}}}, with a comment."""
    lines = [
        "# The graph node behind each name of the code, by class: its id, label and place on the canvas,",
        "# which Backprop Studio gives back to the nodes it makes when it reads this file in. Plain data.",
        f"{TABLE} = {{",
    ]
    for scope, (class_name, names) in generated.code_names.items():
        inner = graph.blocks[scope].graph if scope else graph
        entries = {name: _entry(inner.node(node_id)) for node_id, name in names.items()}
        lines += format_expression(literal(entries), f"    {literal(class_name)}: ", ",")
    return "\n".join([*lines, "}"])
