"""graphcore: the Qt-free core of Backprop Studio.

A `Graph` is the document (nodes, port-to-port edges). `validate` reports what is wrong with it;
`lower` turns it into a `Program`, the straight-line list every interpreter walks: shape
inference, the generated nn.Module (fast path), the stepping engine and both AD modes.

Node types live in a registry that starts empty; a script loads the built-in library first:
`import graphcore; graphcore.load_library()`.
"""

from graphcore.graph import EditError, Graph, Node, PortRef
from graphcore.registry import REGISTRY, NodeSpec, Param, ShapeError, TorchRule, load_library

__all__ = [
    "EditError",
    "Graph",
    "Node",
    "NodeSpec",
    "Param",
    "PortRef",
    "REGISTRY",
    "ShapeError",
    "TorchRule",
    "load_library",
]
