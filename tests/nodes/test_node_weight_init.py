"""weight_init on every layer with weights: readable init lines, the numbers they promise, a fixed seed."""

from __future__ import annotations

import math

import pytest
import torch
from node_cases import NODE, examples_of, make_case

from graphcore.registry import REGISTRY, Example
from nodes.init import WEIGHT_INITS

LAYERS = sorted(t for t, spec in REGISTRY.items() if any(p.name == "weight_init" for p in spec.params))


def build(type_: str, scheme: str, seed: int = 0, shapes=None, **extra):
    spec = REGISTRY[type_]
    example = examples_of(spec, draws=1)[0]
    params = {**example.params, "weight_init": scheme, **extra}
    case = make_case(spec, Example(params, shapes or example.shapes, example.values), 2, seed=seed)
    assert case.report.ok, case.report.diagnostics
    return case


def matrices(module: torch.nn.Module) -> list[torch.Tensor]:
    return [w.detach() for w in module.parameters() if w.dim() > 1]


def biases(module: torch.nn.Module) -> list[torch.Tensor]:
    return [w.detach() for name, w in module.named_parameters() if "bias" in name.rsplit(".", 1)[-1]]


def test_every_layer_with_weights_offers_weight_init():
    with_weights = [
        t
        for t, spec in REGISTRY.items()
        if spec.kind == "layer" and spec.category not in ("normalization", "regularization")
    ]  # norm scales start at 1 by definition
    assert sorted(with_weights) == LAYERS


@pytest.mark.parametrize("type_", LAYERS)
@pytest.mark.parametrize("scheme", WEIGHT_INITS)
def test_weight_init_writes_readable_lines_and_keeps_its_promise(type_, scheme):
    case = build(type_, scheme)
    source, module = case.runtime.generated.source, case.module
    attr = case.runtime.generated.attributes[NODE]
    if scheme == "default":
        assert "nn.init." not in source
        return
    assert (
        f"nn.init.{scheme}_(self.{attr}.weight" in source
        or f"for name, weight in self.{attr}.named_parameters():" in source
    ), source
    found = biases(module)
    assert all(torch.count_nonzero(b) == 0 for b in found), "biases start at zero"
    assert found or not case.example.params.get("bias", True) or type_ == "Embedding"
    for w in matrices(module):
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
        limit = {
            "zeros": 0.0,
            "uniform": 0.1,
            "xavier_uniform": math.sqrt(6 / (fan_in + fan_out)),
            "kaiming_uniform": math.sqrt(6 / fan_in),
        }.get(scheme)
        if limit is not None:
            assert w.abs().max() <= limit + 1e-12, f"{scheme}: |w| ≤ {limit}"
        else:  # normal schemes: values spread, no larger than 6 standard deviations
            std = {
                "normal": 0.1,
                "xavier_normal": math.sqrt(2 / (fan_in + fan_out)),
                "kaiming_normal": math.sqrt(2 / fan_in),
            }[scheme]
            assert w.abs().max() <= 6 * std and (w.numel() == 1 or w.std() > 0)


@pytest.mark.parametrize("type_", LAYERS)
def test_a_graph_always_starts_from_the_same_weights(type_):
    first, again, other = (build(type_, "xavier_normal", seed) for seed in (0, 0, 1))
    changed = False
    for a, b, c in zip(*(case.module.parameters() for case in (first, again, other)), strict=True):
        assert torch.equal(a, b)
        changed = changed or not torch.equal(a, c)
    assert changed, "another seed gives other weights"


def test_normal_init_uses_its_std():
    case = build("Linear", "normal", std=0.05, in_features=200, out_features=50, shapes=(("N", 200),))
    assert abs(case.module.weight.std().item() - 0.05) < 0.005


def test_embedding_padding_row_stays_zero_after_init():
    case = build("Embedding", "normal", padding_idx=1)
    assert torch.count_nonzero(case.module.weight[1]) == 0
    assert torch.count_nonzero(case.module.weight[0]) > 0
