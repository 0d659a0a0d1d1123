"""graphcore.landscape: grid values are the graph's loss there, paths are torch.optim's steps."""

import copy
import json
from pathlib import Path

import pytest
import torch

from graphcore.files.fileformat import graph_from_dict, load
from graphcore.landscape.grid import compute_grid
from graphcore.landscape.landscape import Request, compute
from graphcore.landscape.loss import LandscapeError, LossFunction
from graphcore.landscape.paths import make_spec, parse_specs
from graphcore.landscape.plane import parameter_plane, random_plane
from graphcore.program import lower
from graphcore.runtime import Runtime

EXAMPLES = Path(__file__).parents[2] / "examples"


def example(name):
    return load(EXAMPLES / f"{name}.json")


def test_grid_values_equal_the_graph_evaluated_at_those_parameters():
    graph = example("sigmoid_neuron")
    landscape = compute(graph, Request(tuple(parse_specs("sgd")), 1, ("w", "b"), span=2.0, resolution=7))
    runtime = Runtime(lower(graph), dtype="float64", device="cpu")
    assert landscape.grid.xs[0] == pytest.approx(0.5 - 2) and landscape.grid.ys[-1] == pytest.approx(-0.3 + 2)
    for j, b in enumerate(landscape.grid.ys):
        for i, w in enumerate(landscape.grid.xs):
            with torch.no_grad():
                runtime.module.w.fill_(w)
                runtime.module.b.fill_(b)
            expected = float(runtime.forward()["L.out"].detach())
            assert float(landscape.grid.values[j, i]) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    by_hand = (
        0.5
        * (
            1.0
            - torch.sigmoid(
                torch.tensor(landscape.grid.xs[3] * 1.5 + landscape.grid.ys[1], dtype=torch.float64)
            )
        )
        ** 2
    )
    assert float(landscape.grid.values[1, 3]) == pytest.approx(float(by_hand), rel=1e-12)


def test_elements_of_layer_weights_as_axes_set_just_those_numbers():
    graph = example("xor")
    landscape = compute(
        graph,
        Request(tuple(parse_specs("sgd")), 1, ("fc1.weight[1, 0]", "fc1.bias[3]"), span=0.5, resolution=3),
        EXAMPLES,
    )
    loss = LossFunction(graph, EXAMPLES)
    reference = copy.deepcopy(loss.module)
    assert landscape.plane.start == (
        float(loss.weights["fc1.weight"][1, 0]),
        float(loss.weights["fc1.bias"][3]),
    )
    for j, i in [(0, 0), (1, 2), (2, 1)]:
        with torch.no_grad():
            reference.fc1.weight[1, 0] = landscape.grid.xs[i]
            reference.fc1.bias[3] = landscape.grid.ys[j]
            out = reference(*loss.args)[loss.index]
        assert float(landscape.grid.values[j, i]) == pytest.approx(float(out), rel=1e-12)


def test_random_direction_grid_is_the_training_loss_at_w0_plus_alpha_d1_plus_beta_d2():
    graph = example("two_moons")
    loss = LossFunction(graph, EXAMPLES)
    plane = random_plane(loss, seed=3)
    grid = compute_grid(loss, plane, (-1.0, 1.0), (-0.5, 0.5), 5)
    runtime = loss.runtime
    reference = copy.deepcopy(runtime.module).eval()
    first, second = plane.directions
    for j, i in [(0, 0), (2, 3), (4, 1)]:
        alpha, beta = grid.xs[i], grid.ys[j]
        state = {name: w + alpha * first[name] + beta * second[name] for name, w in plane.base.items()}
        reference.load_state_dict(state, strict=False)
        inputs = {**runtime.inputs, **{k: v for k, v in zip(runtime.generated.inputs, loss.args)}}
        with torch.no_grad():
            out = reference(*(inputs[n] for n in runtime.generated.inputs))
        value = out[runtime.generated.outputs.index("loss.out")]
        assert float(grid.values[j, i]) == pytest.approx(float(value), rel=1e-12)
    assert loss.data == "all 384 training samples"  # 512 samples, a quarter held out for validation


def test_filter_normalised_directions_have_each_filter_as_long_as_the_weights():
    loss = LossFunction(example("two_moons"), EXAMPLES)
    plane = random_plane(loss, seed=0)
    small = [name for name, w in plane.base.items() if w.dim() < 2]
    assert small and any(w.dim() == 2 for w in plane.base.values())
    for direction in plane.directions:
        for name, w in plane.base.items():
            if w.dim() >= 2:
                torch.testing.assert_close(direction[name].norm(dim=1), w.norm(dim=1), rtol=1e-12, atol=0)
        joint = torch.cat([direction[n].reshape(-1) for n in small]).norm()
        assert float(joint) == pytest.approx(
            float(torch.cat([plane.base[n].reshape(-1) for n in small]).norm())
        )
    again = random_plane(loss, seed=0)
    other = random_plane(loss, seed=1)
    name = next(iter(plane.base))
    assert torch.equal(again.directions[0][name], plane.directions[0][name])
    assert not torch.equal(other.directions[0][name], plane.directions[0][name])
    assert not torch.equal(plane.directions[0][name], plane.directions[1][name])


TORCH_OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.001),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.0005, momentum=0.9),
    "nesterov": lambda p: torch.optim.SGD(p, lr=0.0005, momentum=0.9, nesterov=True),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.5),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999)),
}
LRS = {"sgd": 0.001, "momentum": 0.0005, "nesterov": 0.0005, "adagrad": 0.5, "rmsprop": 0.01, "adam": 0.05}


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_each_path_is_what_a_torch_optim_loop_does_on_the_graph(name):
    graph = example("rosenbrock")
    steps = 40
    spec = make_spec(name, {"lr": LRS[name]})
    path = compute(graph, Request((spec,), steps, ("x", "y"), resolution=2)).paths[0]
    runtime = Runtime(lower(graph), dtype="float64", device="cpu")
    x, y = runtime.module.x, runtime.module.y
    optimizer = TORCH_OPTIMIZERS[name]([x, y])
    points, losses = [(float(x.detach()), float(y.detach()))], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = runtime.forward()["f.out"]
        losses.append(float(loss.detach()))
        loss.backward()
        optimizer.step()
        points.append((float(x.detach()), float(y.detach())))
    losses.append(float(runtime.forward()["f.out"].detach()))
    assert len(path.points) == steps + 1 and path.points[0] == (-1.2, 1.0)
    assert torch.allclose(torch.tensor(path.points), torch.tensor(points), rtol=1e-10, atol=1e-12)
    assert torch.allclose(torch.tensor(path.losses), torch.tensor(losses), rtol=1e-10, atol=1e-12)
    assert points[-1] != points[0]


def test_random_direction_path_is_torch_optim_on_alpha_and_beta():
    graph = example("two_moons")
    landscape = compute(graph, Request(tuple(parse_specs("adam:lr=0.1")), 15, seed=2, resolution=2), EXAMPLES)
    loss = LossFunction(graph, EXAMPLES)
    first, second = random_plane(loss, seed=2).directions
    alpha = torch.zeros((), dtype=torch.float64, requires_grad=True)
    beta = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([alpha, beta], lr=0.1)
    points = [(0.0, 0.0)]
    for _ in range(15):
        optimizer.zero_grad()
        weights = {n: w + alpha * first[n] + beta * second[n] for n, w in loss.weights.items()}
        out = torch.func.functional_call(loss.module, weights, loss.args)
        out[loss.index].backward()
        optimizer.step()
        points.append((float(alpha.detach()), float(beta.detach())))
    assert torch.allclose(
        torch.tensor(landscape.paths[0].points), torch.tensor(points), rtol=1e-10, atol=1e-12
    )


def test_on_the_ill_conditioned_quadratic_sgd_zigzags_and_momentum_does_not():
    graph = example("ill_conditioned_quadratic")
    specs = tuple(parse_specs("sgd:lr=0.019,momentum:lr=0.005"))
    sgd, momentum = compute(graph, Request(specs, 60, ("x", "y"), resolution=2)).paths

    def sign_changes(path):
        ys = [y for _, y in path.points]
        return sum(a * b < 0 for a, b in zip(ys, ys[1:]))

    assert sign_changes(sgd) == 60  # 1 − 0.019·100 = −0.9: every step jumps across the valley
    assert sign_changes(momentum) == 14
    assert sgd.points[-1][0] == pytest.approx(-4 * 0.981**60)  # x shrinks 1.9 % a step
    assert sgd.losses[-1] == pytest.approx(0.8007, abs=1e-4)
    assert momentum.losses[-1] == pytest.approx(0.0607, abs=1e-4)


def test_a_diverging_path_stops_at_its_first_non_finite_loss():
    path = compute(
        example("beale"), Request(tuple(parse_specs("sgd:lr=0.05")), 300, ("x", "y"), resolution=2)
    ).paths[0]
    assert path.diverged and len(path.points) == len(path.losses) < 301
    assert path.losses[-1] == float("inf") and all(v < float("inf") for v in path.losses[:-1])


def test_cancelling_stops_the_grid_where_progress_raises():
    seen = []

    class Stop(Exception):
        pass

    def progress(done, total):
        seen.append((done, total))
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        compute(
            example("sigmoid_neuron"),
            Request(tuple(parse_specs("sgd,adam")), 5, resolution=9),
            progress=progress,
        )
    assert seen == [(1, 11), (2, 11), (3, 11)]  # 9 grid rows then 2 paths


def test_progress_counts_every_row_and_path():
    seen = []
    compute(
        example("sigmoid_neuron"),
        Request(tuple(parse_specs("sgd,adam")), 5, resolution=4),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(k, 6) for k in range(1, 7)]


def graph_with_two_outputs():
    data = json.loads((EXAMPLES / "sigmoid_neuron.json").read_text())
    data["nodes"].append({"id": "extra", "type": "square"})
    data["edges"].append({"from": "w.out", "to": "extra.x"})
    return graph_from_dict(data)


@pytest.mark.parametrize(
    "request_, message",
    [
        (
            Request((), 5, ("w", "x")),
            "'x' is not a scalar Parameter of this graph (its scalar Parameters: w, b)",
        ),
        (Request((), 5, ("w", "w")), "the two parameters must differ"),
        (Request((), 5, ("w", "b"), resolution=1000), "the resolution must be from 2 to 201"),
        (Request((), 0, ("w", "b"), resolution=2), "the steps must be from 1 to 10000"),
        (Request((), 5, ("w", "b"), x_range=(1.0, float("nan"))), "the w range must be two finite numbers"),
    ],
)
def test_bad_requests_are_one_line(request_, message):
    specs = tuple(parse_specs("sgd"))
    bad = Request(
        specs, request_.steps, request_.params, resolution=request_.resolution, x_range=request_.x_range
    )
    with pytest.raises(LandscapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compute(example("sigmoid_neuron"), bad)


def test_a_graph_without_a_loss_is_refused():
    with pytest.raises(LandscapeError, match="the graph has no loss"):
        LossFunction(graph_with_two_outputs())


def test_parameter_plane_starts_at_the_current_values():
    plane = parameter_plane(LossFunction(example("sigmoid_neuron")), "b", "w")
    assert plane.axes == ("b", "w") and plane.start == (-0.3, 0.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("sgd,sgd", "given twice"),
        ("adam:lr=-1", "adam.lr: must be a positive number"),
        ("adam:lr=inf", "adam.lr: must be a positive number"),
        ("adam:lr=x", "adam.lr must be a number"),
        ("adam:=1", "expected adam:KEY=VALUE"),
        ("adam:eps", "expected adam:KEY=VALUE"),
        ("sgd:betas=0.9/0.99", "sgd takes no hyperparameter 'betas'"),
        ("nope", "unknown optimizer 'nope'"),
        ("", "expected optimizers such as"),
        ("nesterov:momentum=0", "Nesterov momentum requires a momentum"),
    ],
)
def test_bad_optimizer_texts_name_what_is_wrong(text, message):
    with pytest.raises(LandscapeError, match=message):
        parse_specs(text)


def test_lr_is_every_optimizers_unless_it_has_its_own():
    sgd, adam = parse_specs("sgd,adam:lr=0.2:betas=0.8/0.9", lr=0.03)
    assert sgd.config["lr"] == 0.03 and adam.config["lr"] == 0.2 and adam.config["betas"] == [0.8, 0.9]
    assert parse_specs("momentum")[0].config == {"name": "momentum", "lr": 0.01, "momentum": 0.9}


def test_random_nodes_draw_the_same_noise_at_every_point_and_the_generator_is_restored():
    graph = example("vae_bars_stripes")  # its reparameterisation draws randn noise
    loss = LossFunction(graph, EXAMPLES)
    plane = random_plane(loss)
    grid = compute_grid(loss, plane, (-1.0, 1.0), (-1.0, 1.0), 3)  # vmap, randomness="same"
    for j, i in [(0, 0), (1, 1), (2, 0)]:
        theta = torch.tensor([grid.xs[i], grid.ys[j]], dtype=torch.float64)
        with torch.no_grad():
            first, again = float(loss(plane.weights(theta))), float(loss(plane.weights(theta)))
        assert first == again == pytest.approx(float(grid.values[j, i]), rel=1e-12)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    compute(graph, Request(tuple(parse_specs("sgd")), 2, resolution=2), EXAMPLES)
    assert torch.equal(torch.random.get_rng_state(), before)
