"""Small graph files that tests in more than one folder open: written once here so the graphcore test
and the app test of the same behaviour read the same file."""

from __future__ import annotations

OVERFLOW = {
    "format": "backprop-studio-graph",
    "version": 1,
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 1]}},
        {"id": "w", "type": "Parameter", "params": {"shape": [], "init": "value", "value": 30.0}},
        {"id": "z", "type": "mul", "pos": [200, 0]},
        {"id": "e1", "type": "exp", "pos": [400, 0]},
        {"id": "e2", "type": "exp", "pos": [600, 0]},
        {"id": "y", "type": "Input", "params": {"shape": ["N", 1]}, "pos": [600, 150]},
        {"id": "loss", "type": "MSELoss", "pos": [800, 0]},
    ],
    "edges": [
        {"from": "w.out", "to": "z.a"},
        {"from": "x.out", "to": "z.b"},
        {"from": "z.out", "to": "e1.x"},
        {"from": "e1.out", "to": "e2.x"},
        {"from": "e2.out", "to": "loss.input"},
        {"from": "y.out", "to": "loss.target"},
    ],
    "training": {
        "dataset": {"name": "sine", "n": 16, "low": 1.0, "high": 2.0},
        "inputs": {"x": "x", "y": "y"},
        "loss": "loss.out",
        "steps": 5,
    },
}
"""exp(exp(30 x)) on x in [1, 2]: e2 is the first node whose value overflows, in the first forward pass."""
