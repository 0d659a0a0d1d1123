"""Backprop to the input (graphcore.input_grads), checked against the same models written in torch."""

import pytest
import torch
import torch.nn.functional as F

from graphcore.files.fileformat import load
from graphcore.input_grads.adversarial import fgsm
from graphcore.input_grads.maximize import maximize, objective, total_variation
from graphcore.input_grads.model import InputModel, train_weights
from graphcore.input_grads.saliency import image_view, saliency
from graphcore.input_grads.unit import InputGradError, Unit, parse_unit
from graphcore.program import lower

EXAMPLES = "examples"


def model_of(name, values, **options):
    graph = load(f"{EXAMPLES}/{name}.json")
    return InputModel(lower(graph), "x", values=values, base_dir=EXAMPLES, training=graph.training, **options)


@pytest.fixture(scope="module")
def trained_mlp():
    """digits_mlp after 60 steps of its own training (a few seconds)."""
    return train_weights(load(f"{EXAMPLES}/digits_mlp.json"), EXAMPLES, 60)


def mlp_reference(model):
    """digits_mlp written in torch, with the model's weights."""
    fc1 = model.runtime.module_of(model.program.by_node["fc1"])
    fc2 = model.runtime.module_of(model.program.by_node["fc2"])
    return lambda x: F.linear(torch.relu(F.linear(x, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def test_saliency_equals_autograd_of_the_same_mlp(trained_mlp):
    model = model_of("digits_mlp", ["fc2.out"], sample=5, state=trained_mlp)
    result = saliency(model, parse_unit(model.program, "fc2.out[7]"))
    x = model.x.clone().requires_grad_(True)
    unit = mlp_reference(model)(x)[0, 7]
    (expected,) = torch.autograd.grad(unit, x)
    assert result.gradient.shape == (64,)
    torch.testing.assert_close(result.gradient, expected[0], rtol=1e-12, atol=1e-12)
    assert result.value == pytest.approx(unit.item())
    assert result.weights == "trained weights" and "sample 5" in result.source
    assert float(result.gradient.abs().max()) > 0


@pytest.mark.parametrize("text", ["conv1.out:c=2", "conv1.out[2, 3, 4]", "fc.out[9]"])
def test_saliency_of_a_channel_and_of_an_element_of_the_cnn(text):
    model = model_of("digits_cnn", [text.split("[")[0].split(":")[0]], sample=2)
    conv1 = model.runtime.module_of(model.program.by_node["conv1"])
    conv2 = model.runtime.module_of(model.program.by_node["conv2"])
    fc = model.runtime.module_of(model.program.by_node["fc"])
    x = model.x.clone().requires_grad_(True)
    c1 = F.conv2d(x, conv1.weight, conv1.bias, padding=1)
    if text.endswith("c=2"):
        unit = c1[0, 2].mean()  # the channel's mean over space
    elif text.startswith("conv1"):
        unit = c1[0, 2, 3, 4]
    else:
        c2 = F.conv2d(F.max_pool2d(torch.relu(c1), 2), conv2.weight, conv2.bias, padding=1)
        unit = F.linear(torch.relu(c2).flatten(1), fc.weight, fc.bias)[0, 9]
    (expected,) = torch.autograd.grad(unit, x)
    result = saliency(model, parse_unit(model.program, text))
    assert result.gradient.shape == (1, 8, 8)
    torch.testing.assert_close(result.gradient, expected[0], rtol=1e-10, atol=1e-12)
    assert result.weights == "untrained weights (seed 0)"


def test_a_channel_and_its_elements_differ():
    model = model_of("digits_cnn", ["conv1.out"])
    channel = saliency(model, Unit("conv1.out", channel=1)).gradient
    element = saliency(model, Unit("conv1.out", (1, 4, 4))).gradient
    assert not torch.allclose(channel, element)
    assert int((element != 0).sum()) <= 9  # one 3×3 receptive field
    assert int((channel != 0).sum()) > 9


def hand_tv(image):
    return ((image[1:, :] - image[:-1, :]) ** 2).sum() + ((image[:, 1:] - image[:, :-1]) ** 2).sum()


def test_maximize_raises_the_unit_and_matches_a_hand_loop(trained_mlp):
    model = model_of("digits_mlp", ["fc2.out"], state=trained_mlp)
    steps, lr, l2, tv = 15, 0.05, 0.01, 0.02
    seen = []
    ascent = maximize(
        model, Unit("fc2.out", (4,)), steps, lr, l2, tv, start="noise", seed=3, report=seen.append
    )
    reference = mlp_reference(model)
    x = 0.1 * torch.randn((1, 64), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x.requires_grad_(True)
    optimizer = torch.optim.SGD([x], lr=lr, maximize=True)
    objectives = []
    for _ in range(steps):
        total = reference(x)[0, 4] - l2 * (x**2).sum() - tv * hand_tv(x.reshape(8, 8))
        objectives.append(total.item())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    torch.testing.assert_close(ascent.x, x.detach()[0], rtol=1e-10, atol=1e-12)
    assert ascent.objectives[:steps] == pytest.approx(objectives, rel=1e-10)
    assert ascent.units[-1] > ascent.units[0] + 1
    assert [s.step for s in seen] == list(range(steps + 1))


def test_adam_ascent_matches_torch_adam(trained_mlp):
    model = model_of("digits_mlp", ["fc2.out"], state=trained_mlp, sample=1)
    ascent = maximize(model, Unit("fc2.out", (2,)), 5, 0.1, start="sample", optimizer="adam")
    x = model.x.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.1, maximize=True)
    for _ in range(5):
        optimizer.zero_grad()
        mlp_reference(model)(x)[0, 2].backward()
        optimizer.step()
    torch.testing.assert_close(ascent.x, x.detach()[0], rtol=1e-10, atol=1e-12)


def test_the_regularisers_gradients_are_exact():
    x = torch.randn(1, 5, 6, dtype=torch.float64, requires_grad=True)
    (tv_grad,) = torch.autograd.grad(total_variation(x), x)
    a = x.detach()[0]
    expected = torch.zeros_like(a)  # d/dx of Σ (a[i+1] − a[i])² down and across
    expected[1:, :] += 2 * (a[1:, :] - a[:-1, :])
    expected[:-1, :] -= 2 * (a[1:, :] - a[:-1, :])
    expected[:, 1:] += 2 * (a[:, 1:] - a[:, :-1])
    expected[:, :-1] -= 2 * (a[:, 1:] - a[:, :-1])
    torch.testing.assert_close(tv_grad[0], expected)
    (l2_grad,) = torch.autograd.grad(objective(torch.tensor(0.0), x, 0.3, 0.0), x)
    torch.testing.assert_close(l2_grad, -0.6 * x.detach())
    v = torch.tensor([1.0, 4.0, 2.0], dtype=torch.float64)  # a short vector: neighbours along it
    assert float(total_variation(v)) == pytest.approx(9 + 4)


def test_fgsm_is_the_sign_step_and_lowers_the_true_class(trained_mlp):
    model = model_of("digits_mlp", ["fc2.out"], state=trained_mlp, sample=3)
    result = fgsm(model, "fc2.out", 0.2)
    x = model.x.clone().requires_grad_(True)
    loss = F.cross_entropy(mlp_reference(model)(x), torch.tensor([3]))
    (gradient,) = torch.autograd.grad(loss, x)
    assert result.label == 3 == model.label  # the digits' own label of sample 3
    torch.testing.assert_close(result.adversarial, (x + 0.2 * gradient.sign()).detach()[0])
    torch.testing.assert_close(result.perturbation.abs(), torch.full((64,), 0.2, dtype=torch.float64))
    assert result.predicted_before == 3
    assert result.after[3] < result.before[3] - 0.1
    assert sum(result.after) == pytest.approx(1.0)


def test_fgsm_refusals():
    model = model_of("digits_mlp", ["fc2.out", "loss.out"])
    for eps in (-0.1, float("nan"), float("inf")):
        with pytest.raises(InputGradError, match="eps must be"):
            fgsm(model, "fc2.out", eps)
    with pytest.raises(InputGradError, match="label 10 is out of range"):
        fgsm(model, "fc2.out", 0.1, label=10)
    with pytest.raises(InputGradError, match="one score"):
        fgsm(model, "loss.out", 0.1)


def test_unit_and_input_refusals():
    model = model_of("digits_cnn", ["conv1.out", "fc.out"])
    program = model.program
    cases = {
        "nope.out[1]": "no node 'nope'",
        "fc.bogus[1]": "no output 'bogus'",
        "fc.out[x]": "not a whole number",
        "fc.out[]": "not a whole number",
        "fc.out[1": "expected NODE.PORT",
        "日本.out[1]": "no node '日本'",
    }
    for text, message in cases.items():
        with pytest.raises(InputGradError, match=message):
            parse_unit(program, text)
    checks = {
        "fc.out[10]": "out of range 0..9",
        "fc.out[-1]": "out of range",
        "fc.out[1, 2]": "needs 1 number",
        "fc.out": "pick one element",
        "fc.out:c=0": "a channel needs a map",
        "conv1.out:c=8": "channel 8 is out of range 0..7",
    }
    for text, message in checks.items():
        with pytest.raises(InputGradError, match=message):
            saliency(model, parse_unit(program, text))
    graph = load(f"{EXAMPLES}/digits_cnn.json")
    program, training = lower(graph), graph.training
    with pytest.raises(InputGradError, match="holds integers"):
        InputModel(program, "y", base_dir=EXAMPLES, training=training)
    with pytest.raises(InputGradError, match="no node 'zz'"):
        InputModel(program, "zz", base_dir=EXAMPLES, training=training)
    with pytest.raises(InputGradError, match="there are 1797 samples"):
        InputModel(program, "x", base_dir=EXAMPLES, training=training, sample=1797)
    with pytest.raises(InputGradError, match="steps must be"):
        maximize(model, Unit("fc.out", (1,)), 0, 0.1)
    with pytest.raises(InputGradError, match="lr must be"):
        maximize(model, Unit("fc.out", (1,)), 3, float("nan"))


def test_a_report_that_raises_stops_the_ascent():
    model = model_of("digits_mlp", ["fc2.out"])
    seen = []

    def report(step):
        seen.append(step.step)
        if step.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        maximize(model, Unit("fc2.out", (0,)), 100, 0.1, report=report)
    assert seen == [0, 1, 2]


def test_image_views():
    assert image_view((1, 8, 8)) == (1, 8, 8)
    assert image_view((8, 8)) == (1, 8, 8)
    assert image_view((64,)) == (1, 8, 8)
    assert image_view((2,)) is None and image_view((15,)) is None and image_view((4,)) is None


def test_fgsm_fools_the_trained_bars_and_stripes_cnn():
    graph = load(f"{EXAMPLES}/cnn_bars_stripes.json")
    state = train_weights(graph, EXAMPLES, 40)
    model = model_of("cnn_bars_stripes", ["fc.out"], state=state, sample=7)
    result = fgsm(model, "fc.out", 0.3)
    assert result.x.shape == result.perturbation.shape == (1, 8, 8)
    assert result.predicted_before == result.label
    assert result.after[result.label] < result.before[result.label]


def test_weights_that_do_not_fit_are_refused():
    with pytest.raises(InputGradError, match="the weights given do not fit this graph"):
        model_of("digits_mlp", ["fc2.out"], state={"bogus": torch.zeros(2)})
