"""Documents the screenshots open that no example file has, built here so the script needs nothing
from tests/: each is a plain graph-file dict, as File ▸ Open reads it."""

from __future__ import annotations

from typing import Any


def residual_blocks_document() -> dict[str, Any]:
    """x [1, 2] → Residual ×3 (h + tanh(fc(h)), a skip around a Linear) → loss = sum: one block,
    defined once and repeated, each copy with its own fc."""
    return {
        "format": "backprop-studio-graph",
        "version": 3,
        "blocks": {
            "Residual": {
                "description": "h + tanh(W h + b): a skip connection around one Linear layer",
                "inputs": ["h"],
                "outputs": {"out": "skip.out"},
                "nodes": [
                    {"id": "h", "type": "Input", "params": {"shape": [1, 2]}, "pos": [0, 0]},
                    {
                        "id": "fc",
                        "type": "Linear",
                        "params": {"in_features": 2, "out_features": 2},
                        "pos": [240, 100],
                    },
                    {"id": "act", "type": "tanh", "pos": [480, 100]},
                    {"id": "skip", "type": "add", "label": "h + tanh(fc)", "pos": [720, 0]},
                ],
                "edges": [
                    {"from": "h.out", "to": "fc.x"},
                    {"from": "fc.out", "to": "act.x"},
                    {"from": "h.out", "to": "skip.a"},
                    {"from": "act.out", "to": "skip.b"},
                ],
            }
        },
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [1, 2], "value": [[0.5, -1.0]]}, "pos": [0, 0]},
            {"id": "res", "type": "Block", "params": {"block": "Residual", "repeat": 3}, "pos": [260, 0]},
            {"id": "loss", "type": "sum", "pos": [520, 0]},
        ],
        "edges": [{"from": "x.out", "to": "res.h"}, {"from": "res.out", "to": "loss.x"}],
    }
