"""GraphSignals: graphcore's plain-Python events re-emitted as Qt signals.

graphcore stays Qt-free; this adapter is the only place the app subscribes to the model, so views
connect to Qt signals (and could receive them queued from a worker thread).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from graphcore.graph import Graph


class GraphSignals(QObject):
    node_added = Signal(object)  # Node
    node_removed = Signal(object)  # Node
    node_changed = Signal(object, str)  # Node, attribute name
    edge_added = Signal(object, object)  # PortRef src, PortRef dst
    edge_removed = Signal(object, object)
    meta_changed = Signal(str)  # key of Graph.meta
    training_changed = Signal()

    def __init__(self, graph: Graph, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._graph = graph
        self._links = [
            (graph.node_added, self.node_added.emit),
            (graph.node_removed, self.node_removed.emit),
            (graph.node_changed, self.node_changed.emit),
            (graph.edge_added, self.edge_added.emit),
            (graph.edge_removed, self.edge_removed.emit),
            (graph.meta_changed, self.meta_changed.emit),
            (graph.training_changed, self.training_changed.emit),
        ]
        for event, emit in self._links:
            event.connect(emit)

    def detach(self) -> None:
        """Stop following the graph (the document is being closed)."""
        for event, emit in self._links:
            event.disconnect(emit)
        self._links = []
