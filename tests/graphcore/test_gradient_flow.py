"""Gradient flow (graphcore.training.flow): wire norms and parameter norms equal torch autograd's,
fan-out contributions add up, update ratios are ‖Δp‖/‖p‖, the probe leaves training bit-identical,
and the initialisation experiment is flagged as its real numbers say."""

import copy
import json
import math
import pickle
from pathlib import Path

import pytest
import torch

from graphcore.files.fileformat import load, loads
from graphcore.training.flow import (
    VANISHING,
    FlowFrame,
    FlowProbe,
    flag_kind,
    flag_layers,
    layer_numbers,
    parameters_of,
)
from graphcore.training.train import Trainer

EXAMPLES = Path(__file__).parents[2] / "examples"


def fan_out_graph(steps: int = 6) -> str:
    """h = tanh(bn(fc1(x))) is read by fc2 and by the add (a fan-out); Dropout and BatchNorm
    draw random numbers and keep running statistics, which the probe must leave alone."""
    nodes = [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 2]}},
        {"id": "fc1", "type": "Linear", "params": {"in_features": 2, "out_features": 8}},
        {"id": "bn", "type": "BatchNorm1d", "params": {"num_features": 8}},
        {"id": "h", "type": "tanh"},
        {"id": "fc2", "type": "Linear", "params": {"in_features": 8, "out_features": 8}},
        {"id": "sum", "type": "add"},
        {"id": "drop", "type": "Dropout", "params": {"p": 0.3}},
        {"id": "fc3", "type": "Linear", "params": {"in_features": 8, "out_features": 2}},
        {"id": "y", "type": "Input", "params": {"shape": ["N"], "dtype": "long"}},
        {"id": "loss", "type": "CrossEntropyLoss"},
    ]
    edges = [
        ("x.out", "fc1.x"),
        ("fc1.out", "bn.x"),
        ("bn.out", "h.x"),
        ("h.out", "fc2.x"),
        ("h.out", "sum.a"),
        ("fc2.out", "sum.b"),
        ("sum.out", "drop.x"),
        ("drop.out", "fc3.x"),
        ("fc3.out", "loss.input"),
        ("y.out", "loss.target"),
    ]
    return json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": nodes,
            "edges": [{"from": a, "to": b} for a, b in edges],
            "training": {
                "dataset": {"name": "two_moons", "n": 96},
                "inputs": {"x": "x", "y": "y"},
                "loss": "loss.out",
                "batch_size": 32,
                "steps": steps,
                "optimizer": {"name": "adam", "lr": 0.01},
            },
        }
    )


def trainer_of(text: str) -> Trainer:
    return Trainer(loads(text))


def test_wire_norms_equal_autograd_and_fan_out_adds_up() -> None:
    trainer = trainer_of(fan_out_graph())
    torch.manual_seed(5)
    frame = FlowProbe(trainer).collect()
    # the same pass by hand: h read twice; dropout's mask from the same random state the probe saw
    torch.manual_seed(5)
    module = copy.deepcopy(trainer.module).train()
    size = trainer.config.batch_size
    x, y = trainer.train_data["x"][:size], trainer.train_data["y"][:size]
    h = torch.tanh(module.bn(module.fc1(x)))
    h_fc2, h_sum = h.clone(), h.clone()  # the two wires out of h
    s = h_sum + module.fc2(h_fc2)
    out = module.fc3(torch.nn.functional.dropout(s, 0.3, training=True))
    loss = torch.nn.functional.cross_entropy(out, y)
    params = dict(module.named_parameters())
    g_fc2, g_sum, g_h, *g_params = torch.autograd.grad(loss, [h_fc2, h_sum, h, *params.values()])
    assert frame.wires[("h.out", "fc2.x")] == pytest.approx(g_fc2.norm().item(), rel=1e-5)
    assert frame.wires[("h.out", "sum.a")] == pytest.approx(g_sum.norm().item(), rel=1e-5)
    # each wire carries its own consumer's part; together they are ∂L/∂h
    assert (g_fc2 + g_sum).norm().item() == pytest.approx(g_h.norm().item(), rel=1e-5)
    assert g_fc2.norm().item() != pytest.approx(g_sum.norm().item(), rel=1e-3)
    for name, grad in zip(params, g_params, strict=True):
        assert frame.grad_norms[name] == pytest.approx(grad.norm().item(), rel=1e-5), name
    assert set(frame.wires) >= {("x.out", "fc1.x"), ("sum.out", "drop.x"), ("fc3.out", "loss.input")}
    assert ("y.out", "loss.target") not in frame.wires  # integer labels carry no gradient
    assert frame.ratios == {}  # never armed: no step measured
    assert pickle.loads(pickle.dumps(frame)) == frame


def test_single_consumer_wire_is_the_gradient_of_the_value() -> None:
    trainer = trainer_of(fan_out_graph())
    module = copy.deepcopy(trainer.module).train()
    module.fc3.register_forward_hook(lambda _m, _i, out: kept.append(out))
    kept: list[torch.Tensor] = []
    torch.manual_seed(9)
    frame = FlowProbe(trainer).collect()
    torch.manual_seed(9)
    size = trainer.config.batch_size
    loss = module(trainer.train_data["x"][:size], trainer.train_data["y"][:size])
    (grad,) = torch.autograd.grad(loss, kept)
    assert frame.wires[("fc3.out", "loss.input")] == pytest.approx(grad.norm().item(), rel=1e-5)


def test_ratios_are_the_step_over_the_weight() -> None:
    trainer = trainer_of(fan_out_graph())
    probe = FlowProbe(trainer)
    trainer.step()
    before = {n: p.detach().clone() for n, p in trainer.module.named_parameters()}
    probe.arm()
    trainer.step()
    frame = probe.collect()
    assert frame.step == 2
    for name, p in trainer.module.named_parameters():
        expected = ((p.detach() - before[name]).norm() / before[name].norm()).item()
        assert frame.ratios[name] == pytest.approx(expected, rel=1e-5), name
    assert probe.collect().ratios == {}  # a collect disarms
    probe.arm()
    assert probe.collect().ratios == {}  # armed, but no step since


def test_probe_leaves_training_bit_identical() -> None:
    def losses(watched: bool) -> tuple[list[float], dict[str, torch.Tensor]]:
        trainer = trainer_of(fan_out_graph(steps=6))
        trainer.deferred = False
        probe = FlowProbe(trainer)
        seen = []
        for _ in range(6):
            if watched:
                probe.arm()
            trainer.step()
            if watched:
                grads = [p.grad.clone() for p in trainer.module.parameters()]
                probe.collect()
                assert all(
                    torch.equal(a, p.grad) for a, p in zip(grads, trainer.module.parameters(), strict=True)
                )
            seen.append(trainer.settle()[0][-1].losses["loss"])
        return seen, trainer.module.state_dict()

    plain, plain_state = losses(False)
    watched, watched_state = losses(True)
    assert plain == watched
    for key, value in plain_state.items():  # BatchNorm's running statistics included
        assert torch.equal(value, watched_state[key]), key


def test_layer_numbers_and_parameter_owners() -> None:
    trainer = trainer_of(fan_out_graph())
    frame = FlowProbe(trainer).collect()
    owners = parameters_of(trainer.runtime.generated.attributes, frame.grad_norms)
    assert owners == {node: names for node, names in trainer.weights.items() if names}
    numbers = layer_numbers(owners, frame.grad_norms, {"fc1.weight": 0.5, "fc1.bias": 9.0})
    assert numbers["fc1"].grad_norm == pytest.approx(
        math.hypot(frame.grad_norms["fc1.weight"], frame.grad_norms["fc1.bias"])
    )
    assert numbers["fc1"].ratio == 0.5  # the weight's, not the bias'
    assert numbers["fc2"].ratio is None


def test_flag_rules() -> None:
    weights = {"a": ["a.w"], "b": ["b.w"], "c": ["c.w"], "d": ["d.w"], "out": ["out.w"]}
    norms = {"a": 1e-5, "b": 1e3, "c": 1.0, "d": math.nan, "out": 1.0}
    flags = flag_layers(weights, {f"{k}.w": v for k, v in norms.items()}, {"c.w": 0.5})
    assert flags["a"] == "vanishing gradient: ‖∇‖ = 1e-05, 1.0e-05 × out's 1"
    assert flags["b"] == "exploding gradient: ‖∇‖ = 1e+03, 1.0e+03 × out's 1"
    assert flags["c"] == "update ratio Δ/w = 0.5, far above ~1e-3: the steps are too large"
    assert flags["d"].startswith("exploding gradient") and "nan" in flags["d"]
    assert "out" not in flags  # the reference itself
    assert [flag_kind(flags[k]) for k in "abc"] == ["gradient", "gradient", "ratio"]
    assert flag_layers(weights, {"out.w": 1.0}, {"out.w": 1e-9}) == {
        "out": "update ratio Δ/w = 1e-09, far below ~1e-3: the weights barely move"
    }
    assert flag_layers({}, {}, {}) == {}


def layers_after(name: str, steps: int) -> tuple[dict[str, float], dict[str, str]]:
    trainer = Trainer(load(EXAMPLES / f"init_{name}.json"), EXAMPLES)
    probe = FlowProbe(trainer)
    for index in range(steps):
        if index == steps - 1:
            probe.arm()
        trainer.step()
    frame = probe.collect()
    numbers = layer_numbers(trainer.weights, frame.grad_norms, frame.ratios)
    return {node: n.grad_norm for node, n in numbers.items()}, frame.flags


def test_init_small_vanishes_layer_by_layer() -> None:
    norms, flags = layers_after("small", 1)
    # every layer back from the loss gets about an order of magnitude less gradient
    assert norms["fc10"] == pytest.approx(0.083, rel=0.05)
    assert norms["fc1"] < 1e-9 * norms["fc10"]
    assert all(norms[f"fc{i}"] < norms[f"fc{i + 1}"] for i in range(1, 10))
    vanishing = [n for n, s in flags.items() if s.startswith("vanishing")]
    assert vanishing == [f"fc{i}" for i in range(1, 9)]
    assert all(norms[n] < VANISHING * norms["fc10"] for n in vanishing)
    assert flags["fc1"] == "vanishing gradient: ‖∇‖ = 8.2e-11, 9.9e-10 × fc10's 0.083"


def test_init_large_explodes_then_saturates() -> None:
    norms, flags = layers_after("large", 1)
    assert norms["fc1"] > 100 * norms["fc10"]  # the gradient grows on its way back
    assert [n for n, s in flags.items() if s.startswith("exploding")] == ["fc1", "fc2", "fc3"]
    assert flags["fc4"].startswith("update ratio")  # 59× the last layer's, but steps of 15 %
    # tanh saturates: now the first layers get next to nothing (how little depends on the CPU's
    # rounding along 100 chaotic steps: 1e-3 to 1e-6 of fc10's on the machines seen)
    norms, flags = layers_after("large", 100)
    assert norms["fc1"] < VANISHING * norms["fc10"]
    assert flags["fc1"].startswith("vanishing")


@pytest.mark.parametrize("name", ["he", "xavier"])
def test_good_initialisations_are_not_flagged(name: str) -> None:
    for steps in (1, 60):
        norms, flags = layers_after(name, steps)
        assert flags == {}, (steps, flags)
        assert max(norms.values()) < 10 * min(norms.values())


def test_init_zeros_leaves_only_the_last_layer_a_gradient() -> None:
    norms, flags = layers_after("zeros", 1)
    assert [n for n, v in norms.items() if v > 0] == ["fc10"]
    assert set(flags) == {f"fc{i}" for i in range(1, 11)}
    assert flags["fc1"] == "vanishing gradient: ‖∇‖ = 0, 0 × fc10's 0.083"


def test_frame_is_plain_data() -> None:
    frame = FlowFrame(3, {("a.out", "b.x"): 1.0}, {"b.weight": 2.0}, {}, {"b": "vanishing gradient: …"})
    assert pickle.loads(pickle.dumps(frame)) == frame
