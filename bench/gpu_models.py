"""The three models bench_gpu.py trains: each as a graphcore graph and as the torch module an engineer
would write for it (the same layers, the same loss), with random data of the right shapes.

Sizes are meant to load a GPU (an MLP 1024-4096-4096-1024 at batch 2048, a CNN on 3×64×64 images at
batch 256, a transformer block of width 1024 over 512 tokens at batch 32); `quick` shrinks each to
a smoke-test size that runs in seconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphcore.graph import Graph, Node, PortRef
from graphcore.registry import load_library

Layer = tuple[str, str, dict[str, Any]]  # (node id, node type, params)
LEARNING_RATE = 1e-4  # Adam's, in the training sections and the hand-written loops alike


@dataclass(frozen=True)
class Case:
    """One model: its graph (training section without the dataset), the hand-written module (its
    forward takes the inputs in `inputs` order and returns the loss) and random data for it."""

    name: str
    graph: Graph
    hand_written: Callable[[], nn.Module]
    data: dict[str, np.ndarray]  # Input node id -> samples
    batch_size: int


def chain(graph: Graph, source: str, layers: list[Layer]) -> str:
    """Add `layers` one after the other, each reading the previous one's `out` on its port `x`;
    the last one's output, as "node.out"."""
    for node, type_, params in layers:
        graph.add_node(Node(node, type_, params))
        graph.connect(PortRef.parse(source), PortRef(node, "x"))
        source = f"{node}.out"
    return source


def with_loss(graph: Graph, prediction: str, target: str, loss_type: str) -> Graph:
    """The graph with its loss node and a training section of Adam steps."""
    graph.add_node(Node("loss", loss_type))
    graph.connect(PortRef.parse(prediction), PortRef("loss", "input"))
    graph.connect(PortRef.parse(target), PortRef("loss", "target"))
    graph.training = {
        "inputs": {"x": "x", "y": "y"},
        "loss": "loss.out",
        "optimizer": {"name": "adam", "lr": LEARNING_RATE},
    }
    return graph


def new_graph(*inputs: tuple[str, dict[str, Any]]) -> Graph:
    load_library()
    graph = Graph()
    for node, params in inputs:
        graph.add_node(Node(node, "Input", params))
    return graph


def samples(batch: int) -> int:
    """Two batches of data: each epoch the Trainer and the loops shuffle them, as in real training."""
    return 2 * batch


# --- MLP -------------------------------------------------------------------------------------------


class HandMLP(nn.Module):
    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return F.mse_loss(self.layers[-1](x), y)


def mlp(quick: bool) -> Case:
    sizes, batch = ([32, 64, 64, 32], 16) if quick else ([1024, 4096, 4096, 1024], 2048)
    graph = new_graph(("x", {"shape": ["N", sizes[0]]}), ("y", {"shape": ["N", sizes[-1]]}))
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), 1):
        layers.append((f"fc{i}", "Linear", {"in_features": n_in, "out_features": n_out}))
        if i < len(sizes) - 1:
            layers.append((f"relu{i}", "relu", {}))
    out = chain(graph, "x.out", layers)
    rng = np.random.default_rng(0)
    data = {
        "x": rng.standard_normal((samples(batch), sizes[0]), dtype=np.float32),
        "y": rng.standard_normal((samples(batch), sizes[-1]), dtype=np.float32),
    }
    name = f"MLP {'-'.join(map(str, sizes))}, batch {batch}"
    return Case(name, with_loss(graph, out, "y.out", "MSELoss"), partial(HandMLP, sizes), data, batch)


# --- CNN -------------------------------------------------------------------------------------------


class HandCNN(nn.Module):
    def __init__(self, channels: list[int], side: int, classes: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, kernel_size=3, padding=1) for a, b in zip(channels, channels[1:])
        )
        side //= 2 ** len(self.convs)
        self.fc = nn.Linear(channels[-1] * side * side, classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.max_pool2d(torch.relu(conv(x)), 2)
        return F.cross_entropy(self.fc(torch.flatten(x, 1)), y)


def cnn(quick: bool) -> Case:
    channels, side, batch, classes = ([3, 4, 8], 16, 8, 10) if quick else ([3, 64, 128, 256], 64, 256, 10)
    graph = new_graph(("x", {"shape": ["N", 3, side, side]}), ("y", {"shape": ["N"], "dtype": "long"}))
    layers: list[Layer] = []
    for i, (c_in, c_out) in enumerate(zip(channels, channels[1:]), 1):
        conv = {"in_channels": c_in, "out_channels": c_out, "kernel_size": 3, "padding": 1}
        layers += [(f"conv{i}", "Conv2d", conv), (f"relu{i}", "relu", {})]
        layers.append((f"pool{i}", "MaxPool2d", {"kernel_size": 2}))
    flat_features = channels[-1] * (side // 2 ** (len(channels) - 1)) ** 2
    layers += [
        ("flat", "Flatten", {}),
        ("fc", "Linear", {"in_features": flat_features, "out_features": classes}),
    ]
    out = chain(graph, "x.out", layers)
    rng = np.random.default_rng(0)
    data: dict[str, np.ndarray] = {
        "x": rng.standard_normal((samples(batch), 3, side, side), dtype=np.float32),
        "y": rng.integers(0, classes, samples(batch)),
    }
    name = f"CNN {'-'.join(map(str, channels[1:]))} on 3×{side}×{side}, batch {batch}"
    hand = partial(HandCNN, channels, side, classes)
    return Case(name, with_loss(graph, out, "y.out", "CrossEntropyLoss"), hand, data, batch)


# --- Transformer block -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockSize:
    vocab: int
    width: int
    heads: int
    length: int
    batch: int

    @property
    def head_width(self) -> int:
        return self.width // self.heads


class HandTransformer(nn.Module):
    """A pre-LN causal transformer block over token embeddings, predicting each next token."""

    def __init__(self, size: BlockSize) -> None:
        super().__init__()
        self.size = size
        width = size.width
        self.tok = nn.Embedding(size.vocab, width)
        self.pos = nn.Parameter(torch.zeros(size.length, width))
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.q, self.k, self.v = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.proj = nn.Linear(width, width)
        self.mlp1, self.mlp2 = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
        self.head = nn.Linear(width, size.vocab)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        s = self.size
        return torch.transpose(torch.reshape(x, [-1, s.length, s.heads, s.head_width]), 1, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = self.size
        h0 = self.tok(x) + self.pos
        a = self.ln1(h0)
        q, k, v = (self.split_heads(layer(a)) for layer in (self.q, self.k, self.v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h1 = h0 + self.proj(torch.reshape(torch.transpose(attended, 1, 2), [-1, s.length, s.width]))
        h2 = h1 + self.mlp2(F.gelu(self.mlp1(self.ln2(h1))))
        logits = self.head(self.ln3(h2))
        return F.cross_entropy(torch.reshape(logits, [-1, s.vocab]), torch.reshape(y, [-1]))


def transformer(quick: bool) -> Case:
    size = BlockSize(50, 32, 2, 16, 4) if quick else BlockSize(1024, 1024, 16, 512, 32)
    s = size
    graph = new_graph(
        ("x", {"shape": ["N", s.length], "dtype": "long"}), ("y", {"shape": ["N", s.length], "dtype": "long"})
    )
    linear = {"in_features": s.width, "out_features": s.width}
    h0 = chain(graph, "x.out", [("tok", "Embedding", {"num_embeddings": s.vocab, "embedding_dim": s.width})])
    graph.add_node(Node("pos", "Parameter", {"shape": [s.length, s.width], "init": "zeros"}))
    graph.add_node(Node("h0", "add"))
    graph.connect(PortRef.parse(h0), PortRef("h0", "a"))
    graph.connect(PortRef("pos", "out"), PortRef("h0", "b"))
    normed = chain(graph, "h0.out", [("ln1", "LayerNorm", {"normalized_shape": s.width})])
    graph.add_node(Node("attn", "scaled_dot_product_attention", {"is_causal": True}))
    split = [-1, s.length, s.heads, s.head_width]
    for name, port in (("q", "query"), ("k", "key"), ("v", "value")):
        layers: list[Layer] = [(name, "Linear", linear), (f"{name}_heads", "reshape", {"shape": split})]
        layers.append((f"{name}_t", "transpose", {"dim0": 1, "dim1": 2}))
        graph.connect(PortRef.parse(chain(graph, normed, layers)), PortRef("attn", port))
    merged = chain(
        graph,
        "attn.out",
        [
            ("attn_t", "transpose", {"dim0": 1, "dim1": 2}),
            ("attn_merge", "reshape", {"shape": [-1, s.length, s.width]}),
            ("proj", "Linear", linear),
        ],
    )
    h1 = residual(graph, "h1", "h0.out", merged)
    mlp_out = chain(
        graph,
        h1,
        [
            ("ln2", "LayerNorm", {"normalized_shape": s.width}),
            ("mlp1", "Linear", {"in_features": s.width, "out_features": 4 * s.width}),
            ("gelu", "GELU", {}),
            ("mlp2", "Linear", {"in_features": 4 * s.width, "out_features": s.width}),
        ],
    )
    h2 = residual(graph, "h2", h1, mlp_out)
    logits = chain(
        graph,
        h2,
        [
            ("ln3", "LayerNorm", {"normalized_shape": s.width}),
            ("head", "Linear", {"in_features": s.width, "out_features": s.vocab}),
            ("logits", "reshape", {"shape": [-1, s.vocab]}),
        ],
    )
    target = chain(graph, "y.out", [("targets", "reshape", {"shape": [-1]})])
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, s.vocab, (samples(s.batch), s.length + 1))
    data = {"x": tokens[:, :-1], "y": tokens[:, 1:]}
    name = f"transformer block d{s.width}, {s.heads} heads, seq {s.length}, batch {s.batch}"
    hand = partial(HandTransformer, size)
    return Case(name, with_loss(graph, logits, target, "CrossEntropyLoss"), hand, data, s.batch)


def residual(graph: Graph, node: str, skip: str, branch: str) -> str:
    graph.add_node(Node(node, "add"))
    graph.connect(PortRef.parse(skip), PortRef(node, "a"))
    graph.connect(PortRef.parse(branch), PortRef(node, "b"))
    return f"{node}.out"


CASES: dict[str, Callable[[bool], Case]] = {"mlp": mlp, "cnn": cnn, "transformer": transformer}
