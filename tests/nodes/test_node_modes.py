"""Behaviour a user of the library relies on beyond the per-type contract: training and evaluation mode
in the stepping engine, random nodes, recurrent state ports, and the formulas a lecture states."""

from __future__ import annotations

import pytest
import torch

from graphcore.codegen import node_function
from graphcore.derivatives.api import forward_mode, reverse_mode
from graphcore.derivatives.autodiff import call_with_pullback, trace_forward
from graphcore.graph import Graph, Node, PortRef
from graphcore.program import lower
from graphcore.registry import load_library
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper
from graphcore.validate import check, validate

load_library()


def runtime(nodes: list[tuple[str, str, dict]], edges: list[tuple[str, str]], **options) -> Runtime:
    graph = Graph()
    for node_id, type_, params in nodes:
        graph.add_node(Node(node_id, type_, params))
    for src, dst in edges:
        graph.connect(PortRef.parse(src), PortRef.parse(dst))
    check(graph)
    return Runtime(lower(graph), dtype="float64", **options)


def batch_norm(momentum: float = 0.1) -> Runtime:
    return runtime(
        [
            ("x", "Input", {"shape": ["N", 3]}),
            ("bn", "BatchNorm1d", {"num_features": 3, "momentum": momentum}),
            ("total", "sum", {}),
        ],
        [("x.out", "bn.x"), ("bn.out", "total.x")],
        batch=5,
    )


def test_stepping_batch_norm_in_training_uses_batch_statistics_and_updates_running_ones_once():
    rt = batch_norm()
    stepper = Stepper(rt)
    stepper.run()
    x, bn = rt.inputs["x"], rt.module_of(rt.program.by_node["bn"])
    normalised = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(stepper.trace.values["bn.out"], normalised)
    assert bn.num_batches_tracked.item() == 1
    torch.testing.assert_close(bn.running_mean, 0.1 * x.mean(0))
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * x.var(0, unbiased=True))
    # Σ of a batch-normalised column does not depend on x: the gradient vanishes in training mode
    torch.testing.assert_close(stepper.gradients()["x.out"], torch.zeros_like(x), atol=1e-12, rtol=0)


def test_stepping_batch_norm_in_evaluation_uses_running_statistics_and_leaves_them_alone():
    rt = batch_norm()
    bn = rt.module_of(rt.program.by_node["bn"])
    with torch.no_grad():
        bn.running_mean.fill_(0.5)
        bn.running_var.fill_(4.0)
    rt.module.eval()
    stepper = Stepper(rt)
    stepper.run()
    scale = (4.0 + 1e-5) ** -0.5
    torch.testing.assert_close(stepper.trace.values["bn.out"], (rt.inputs["x"] - 0.5) * scale)
    torch.testing.assert_close(stepper.gradients()["x.out"], torch.full_like(rt.inputs["x"], scale))
    assert bn.num_batches_tracked.item() == 0 and torch.all(bn.running_mean == 0.5)
    torch.testing.assert_close(rt.forward()["total.out"], stepper.trace.values["total.out"])


def test_forward_mode_through_batch_norm_in_training_agrees_and_keeps_running_statistics():
    rt = batch_norm()
    trace = trace_forward(rt)  # one forward pass: one update of the running statistics
    bn = rt.module_of(rt.program.by_node["bn"])
    before = bn.running_mean.clone()
    forward = forward_mode(rt, "bn.out", ["x.out"], trace)
    reverse = reverse_mode(rt, "bn.out", ["x.out"], trace)
    torch.testing.assert_close(forward.grads["x.out"], reverse.grads["x.out"])
    assert torch.equal(bn.running_mean, before) and bn.num_batches_tracked.item() == 1


def dropout(p: float = 0.5) -> Runtime:
    return runtime(
        [("x", "Input", {"shape": ["N", 4]}), ("drop", "Dropout", {"p": p}), ("total", "sum", {})],
        [("x.out", "drop.x"), ("drop.out", "total.x")],
        batch=6,
    )


def test_stepping_dropout_in_training_masks_and_its_gradient_uses_the_same_mask():
    rt = dropout(0.5)
    stepper = Stepper(rt)
    stepper.run()
    x, out = rt.inputs["x"], stepper.trace.values["drop.out"]
    kept = out != 0
    assert 0 < kept.sum() < kept.numel()
    torch.testing.assert_close(out[kept], 2 * x[kept])
    torch.testing.assert_close(stepper.gradients()["x.out"], 2 * kept.to(x.dtype))


def test_stepping_dropout_in_evaluation_is_the_identity():
    rt = dropout(0.5)
    rt.module.eval()
    stepper = Stepper(rt)
    stepper.run()
    torch.testing.assert_close(stepper.trace.values["drop.out"], rt.inputs["x"])
    torch.testing.assert_close(stepper.gradients()["x.out"], torch.ones_like(rt.inputs["x"]))


def test_dropout_refuses_forward_mode_because_a_rerun_draws_another_mask():
    rt = dropout(0.5)
    with pytest.raises(NotImplementedError, match="different dropout mask"):
        forward_mode(rt, "total.out", ["x.out"])
    # the reason is real: running the node again for its tangent draws a new mask
    instr, x = rt.program.by_node["drop"], rt.inputs["x"]
    module, fn = rt.module_of(instr), node_function(instr)
    torch.manual_seed(1)
    mask = call_with_pullback(instr, module, (x,)).outputs[0] != 0
    _, tangent = torch.func.jvp(lambda v: fn(module, v), (x,), (torch.ones_like(x),))
    assert not torch.equal(tangent != 0, mask)


@pytest.mark.parametrize(("p", "training"), [(0.5, False), (0.0, True)])
def test_dropout_has_forward_mode_where_it_is_the_identity(p, training):
    rt = dropout(p)
    rt.module.train(training)
    forward = forward_mode(rt, "total.out", ["x.out"])
    torch.testing.assert_close(forward.grads["x.out"], torch.ones_like(rt.inputs["x"]))


def joins_graph(cat_ports: tuple[str, ...], shapes: tuple[list, list, list]) -> Graph:
    """Inputs x, y and z of `shapes` into a cat along dim 1 on `cat_ports`, and x into a stack on ports
    a, b and e."""
    graph = Graph()
    for node_id, shape in zip("xyz", shapes, strict=True):
        graph.add_node(Node(node_id, "Input", {"shape": shape}))
    graph.add_node(Node("joined", "cat", {"dim": 1}))
    graph.add_node(Node("stacked", "stack", {"dim": -1}))
    for source, port in zip("xyz", cat_ports, strict=True):
        graph.connect(PortRef(source, "out"), PortRef("joined", port))
    for port in "abe":
        graph.connect(PortRef("x", "out"), PortRef("stacked", port))
    return graph


def test_cat_and_stack_join_their_connected_inputs_in_port_order():
    graph = joins_graph(("a", "b", "d"), (["N", 2], ["N", 3], ["N", 1]))
    check(graph)
    rt = Runtime(lower(graph), dtype="float64", batch=3, outputs=["joined.out", "stacked.out"])
    assert "torch.cat([x, y, z], dim=1)" in rt.generated.source
    assert "torch.stack([x, x, x], dim=-1)" in rt.generated.source
    values, (x, y, z) = rt.forward(), (rt.inputs[name] for name in "xyz")
    torch.testing.assert_close(values["joined.out"], torch.cat([x, y, z], dim=1))
    torch.testing.assert_close(values["stacked.out"], torch.stack([x, x, x], dim=-1))
    jacobian = forward_mode(rt, "joined.out", ["z.out"]).grads["z.out"]  # [N, 6] by [N, 1]: z is column 5
    torch.testing.assert_close(jacobian[:, 5, :, 0], torch.eye(3, dtype=torch.float64))
    assert not jacobian[:, :5].any()


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ((["N", 2], ["N", 3], ["N", 3, 2]), "cat along dim 1: c [N, 3, 2] differs from a [N, 2] in rank"),
        (
            (["N", 2, 4], ["N", 3, 4], ["N", 1, 5]),
            "cat along dim 1: c [N, 1, 5] differs from a [N, 2, 4] in dim 2",
        ),
    ],
)
def test_a_join_names_the_input_that_does_not_fit(shapes, message):
    report = validate(joins_graph(("a", "b", "c"), shapes))
    assert [(d.node, d.message) for d in report.diagnostics] == [("joined", message)]


def vae_sample(seed: int | None) -> Runtime:
    """z = μ + σ·ε, the reparameterisation trick."""
    return runtime(
        [
            ("mu", "Input", {"shape": ["N", 2]}),
            ("sigma", "Input", {"shape": ["N", 2]}),
            ("eps", "randn", {"seed": seed}),
            ("scaled", "mul", {}),
            ("z", "add", {}),
            ("total", "sum", {}),
        ],
        [
            ("mu.out", "eps.x"),
            ("sigma.out", "scaled.a"),
            ("eps.out", "scaled.b"),
            ("mu.out", "z.a"),
            ("scaled.out", "z.b"),
            ("z.out", "total.x"),
        ],
        batch=3,
    )


def test_randn_with_a_seed_draws_the_same_noise_on_every_path():
    rt = vae_sample(seed=7)
    stepper = Stepper(rt)
    stepper.run()
    eps = stepper.trace.values["eps.out"]
    torch.testing.assert_close(rt.forward()["total.out"], stepper.trace.values["total.out"])
    torch.testing.assert_close(stepper.gradients()["sigma.out"], eps)  # ∂z/∂σ = ε
    torch.testing.assert_close(stepper.gradients()["mu.out"], torch.ones_like(eps))  # ε does not depend on μ
    forward = forward_mode(rt, "total.out", ["sigma.out"], stepper.trace)
    torch.testing.assert_close(forward.grads["sigma.out"], eps)


def test_randn_without_a_seed_draws_new_noise_each_run_and_both_modes_still_agree():
    rt = vae_sample(seed=None)
    first, second = rt.forward()["total.out"], rt.forward()["total.out"]
    assert not torch.equal(first, second)
    trace = trace_forward(rt)  # forward mode reads ε from the trace; re-running randn adds a zero tangent
    forward = forward_mode(rt, "total.out", ["sigma.out", "mu.out"], trace)
    reverse = reverse_mode(rt, "total.out", ["sigma.out", "mu.out"], trace)
    for value in ("sigma.out", "mu.out"):
        torch.testing.assert_close(forward.grads[value], reverse.grads[value])
    torch.testing.assert_close(reverse.grads["sigma.out"], trace.values["eps.out"])


def test_recurrent_layers_expose_their_final_state():
    rt = runtime(
        [
            ("seq", "Input", {"shape": [4, "N", 3]}),
            ("rnn", "RNN", {"input_size": 3, "hidden_size": 2}),
            ("lstm", "LSTM", {"input_size": 3, "hidden_size": 2}),
            ("decoder", "LSTM", {"input_size": 3, "hidden_size": 2}),
        ],
        [
            ("seq.out", "rnn.x"),
            ("seq.out", "lstm.x"),
            ("seq.out", "decoder.x"),
            ("lstm.h", "decoder.h0"),
            ("lstm.c", "decoder.c0"),
        ],
        batch=2,
        outputs=["rnn.out", "rnn.h", "lstm.out", "lstm.h", "lstm.c", "decoder.out"],
    )
    values = rt.forward()
    torch.testing.assert_close(values["rnn.h"][0], values["rnn.out"][-1])
    torch.testing.assert_close(values["lstm.h"][0], values["lstm.out"][-1])
    assert values["lstm.c"].shape == (1, 2, 2)
    source = rt.generated.source
    assert "self.lstm(seq)" in source and "self.decoder(seq, (lstm_h, lstm_c))" in source
    assert "self.rnn(seq)" in source


def test_gaussian_kl_matches_torch_distributions():
    rt = runtime(
        [
            ("mu", "Input", {"shape": ["N", 3]}),
            ("logvar", "Input", {"shape": ["N", 3]}),
            ("kl", "GaussianKLLoss", {}),
        ],
        [("mu.out", "kl.mu"), ("logvar.out", "kl.logvar")],
        batch=4,
    )
    mu, logvar = rt.inputs["mu"], rt.inputs["logvar"]
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(-1).mean()
    torch.testing.assert_close(rt.forward()["kl.out"], expected)


@pytest.mark.parametrize("saturating", [False, True])
def test_gan_generator_losses_and_why_the_non_saturating_one_is_used(saturating):
    sure_fake = torch.full((4, 1), -8.0, dtype=torch.float64)  # D is sure the samples are fake
    rt = runtime(
        [("score", "Input", {"shape": ["N", 1]}), ("loss", "GANGeneratorLoss", {"saturating": saturating})],
        [("score.out", "loss.fake")],
        inputs={"score": sure_fake},
    )
    d = torch.sigmoid(rt.inputs["score"])
    expected = torch.log(1 - d).mean() if saturating else -torch.log(d).mean()
    torch.testing.assert_close(rt.forward()["loss.out"], expected)
    gradient = reverse_mode(rt, "loss.out", ["score.out"]).grads["score.out"]
    if saturating:
        assert gradient.abs().max() < 1e-3  # the gradient vanishes just when G most needs it
    else:
        assert gradient.abs().min() > 0.2


def test_gan_discriminator_loss_is_the_binary_cross_entropy_of_both_batches():
    rt = runtime(
        [
            ("real", "Input", {"shape": ["N", 1]}),
            ("fake", "Input", {"shape": ["N", 1]}),
            ("loss", "GANDiscriminatorLoss", {}),
        ],
        [("real.out", "loss.real"), ("fake.out", "loss.fake")],
    )
    real, fake = torch.sigmoid(rt.inputs["real"]), torch.sigmoid(rt.inputs["fake"])
    torch.testing.assert_close(rt.forward()["loss.out"], -torch.log(real).mean() - torch.log(1 - fake).mean())
