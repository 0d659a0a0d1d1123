"""Training: optimizers and schedules equal torch's own, examples learn, NaNs are caught and named."""

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from graphcore.files.fileformat import load, loads
from graphcore.training.config import OPTIMIZERS, TrainingConfigError
from graphcore.training.train import Trainer
from tests.sample_graphs import OVERFLOW

EXAMPLES = Path(__file__).parents[2] / "examples"


def regression_graph(training: dict, w_init: float = 0.3) -> str:
    """y ≈ tanh(x W + b) on the sine set: small enough to replicate by hand."""
    return json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": ["N", 1]}},
                {"id": "fc", "type": "Linear", "params": {"in_features": 1, "out_features": 1}},
                {"id": "t", "type": "tanh"},
                {"id": "y", "type": "Input", "params": {"shape": ["N", 1]}},
                {"id": "loss", "type": "MSELoss"},
            ],
            "edges": [
                {"from": "x.out", "to": "fc.x"},
                {"from": "fc.out", "to": "t.x"},
                {"from": "t.out", "to": "loss.input"},
                {"from": "y.out", "to": "loss.target"},
            ],
            "training": {
                "dataset": {"name": "sine", "n": 40},
                "inputs": {"x": "x", "y": "y"},
                "loss": "loss.out",
                "batch_size": 8,
                "steps": 12,
                **training,
            },
        }
    )


def by_hand(trainer: Trainer, optimizer_cls, hyper: dict, schedule=None, steps: int = 12):
    """The same run written as a plain PyTorch loop, from the same initial weights and batch order."""
    model = copy.deepcopy(trainer.module)
    optimizer = optimizer_cls(model.parameters(), **hyper)
    scheduler = schedule(optimizer) if schedule else None
    generator = torch.Generator().manual_seed(trainer.config.seed)
    x, y = trainer.train_data["x"], trainer.train_data["y"]
    order, cursor, losses, lrs = None, len(x), [], []
    for _ in range(steps):
        if cursor >= len(x):
            order, cursor = torch.randperm(len(x), generator=generator), 0
        index = order[cursor : cursor + 8]
        cursor += 8
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        loss = F.mse_loss(torch.tanh(model.fc(x[index])), y[index])
        loss.backward()
        optimizer.step()
        if scheduler:
            scheduler.step()
        losses.append(loss.item())
    return model, losses, lrs


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_equals_torch_optim(name):
    hyper = {"lr": 0.05, "weight_decay": 0.01} if name != "adamw" else {"lr": 0.05}
    trainer = Trainer(loads(regression_graph({"optimizer": {"name": name, **hyper}})), dtype="float64")
    cls_name, defaults = OPTIMIZERS[name]
    expected = {**defaults, **hyper}
    expected.pop("betas", None)
    model, losses, _ = by_hand(trainer, getattr(torch.optim, cls_name), expected)
    result = trainer.run()
    assert result.losses == pytest.approx(losses, rel=1e-12, abs=1e-12)
    for (name_a, a), (name_b, b) in zip(trainer.module.named_parameters(), model.named_parameters()):
        assert name_a == name_b
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("schedule", "reference"),
    [
        ({"name": "constant"}, lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)),
        (
            {"name": "step", "step_size": 4, "gamma": 0.5},
            lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5),
        ),
        ({"name": "cosine"}, lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)),
        (
            {"name": "cosine", "warmup_steps": 4},
            lambda opt: torch.optim.lr_scheduler.SequentialLR(
                opt,
                [
                    torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3),
                    torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8),
                ],
                milestones=[4],
            ),
        ),
        (
            {"name": "step", "step_size": 3, "gamma": 0.1, "warmup_steps": 2},
            lambda opt: torch.optim.lr_scheduler.SequentialLR(
                opt,
                [
                    torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=1),
                    torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1),
                ],
                milestones=[2],
            ),
        ),
    ],
)
def test_each_schedule_equals_torch_lr_scheduler(schedule, reference):
    trainer = Trainer(
        loads(regression_graph({"optimizer": {"name": "sgd", "lr": 0.1}, "schedule": schedule})),
        dtype="float64",
    )
    _, losses, lrs = by_hand(trainer, torch.optim.SGD, {"lr": 0.1}, reference)
    result = trainer.run()
    assert result.lrs == pytest.approx(lrs, rel=1e-12)
    assert result.losses == pytest.approx(losses, rel=1e-12)


def test_warm_up_ramps_linearly_to_the_base_rate():
    trainer = Trainer(
        loads(
            regression_graph(
                {"optimizer": {"name": "sgd", "lr": 0.1}, "schedule": {"name": "constant", "warmup_steps": 4}}
            )
        )
    )
    lrs = trainer.run().lrs
    assert lrs[:6] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])


def test_runs_are_deterministic_for_a_seed():
    graph = load(EXAMPLES / "two_moons.json")
    first = Trainer(graph, overrides={"epochs": 2}).run()
    second = Trainer(graph, overrides={"epochs": 2}).run()
    other = Trainer(graph, overrides={"epochs": 2, "seed": 1}).run()
    assert first.losses == second.losses and first.losses != other.losses


def test_xor_reaches_full_accuracy():
    result = Trainer(load(EXAMPLES / "xor.json")).run()
    assert result.stopped == "finished" and result.train["accuracy"] == 1.0


def test_two_moons_reaches_97_percent_validation_accuracy():
    result = Trainer(load(EXAMPLES / "two_moons.json")).run()
    assert result.validation["accuracy"] >= 0.97
    assert len(result.epochs) == 60 and "val_loss" in result.epochs[-1]


def test_listeners_get_every_loss_at_a_bounded_rate():
    trainer = Trainer(load(EXAMPLES / "xor.json"), overrides={"steps": 50})
    reports = []
    result = trainer.run(listener=reports.append, report_interval=math.inf)
    assert len(reports) == 1  # only the final report: the interval never elapsed
    assert [loss for _, loss in reports[0].losses] == result.losses
    assert set(reports[0].grad_norms) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    every = []
    trainer.reset_weights()
    trainer.run(listener=every.append, report_interval=0.0)
    assert len(every) == 50 and [r.step for r in every] == list(range(1, 51))


def test_should_stop_and_early_stopping():
    trainer = Trainer(load(EXAMPLES / "xor.json"))
    calls = []
    result = trainer.run(should_stop=lambda: len(calls) > 5 or calls.append(1))
    assert result.stopped == "stopped" and len(result.losses) == 6
    stopping = Trainer(
        load(EXAMPLES / "two_moons.json"), overrides={"early_stopping": {"patience": 1, "min_delta": 10.0}}
    ).run()
    assert stopping.stopped == "early_stopping" and len(stopping.epochs) == 2


def test_retune_applies_hyperparameters_from_the_next_step():
    section = json.loads(
        regression_graph(
            {
                "optimizer": {"name": "momentum", "lr": 0.1},
                "schedule": {"name": "step", "step_size": 4, "gamma": 0.5},
            }
        )
    )["training"]
    trainer = Trainer(loads(regression_graph(section)), dtype="float64")
    edited = {**section, "optimizer": {"name": "momentum", "lr": 0.2, "momentum": 0.5}, "steps": 14}

    def between_steps() -> bool:  # where the app's worker hands edits to a running trainer
        if trainer.step_count == 6:
            assert trainer.retune(edited) == []
        return False

    result = trainer.run(should_stop=between_steps)
    # the doubled rate rescales the step schedule: it halves every 4 steps as before
    assert result.lrs == pytest.approx([0.1] * 4 + [0.05] * 2 + [0.1] * 2 + [0.05] * 4 + [0.025] * 2)
    assert len(result.losses) == 14 and trainer.optimizer.param_groups[0]["momentum"] == 0.5
    later = trainer.retune({**edited, "batch_size": 4, "optimizer": {"name": "adam", "lr": 0.2}, "steps": 16})
    assert later == ["batch_size", "optimizer"] and trainer.total_steps == 16
    assert trainer.config.batch_size == 8 and trainer.config.optimizer["name"] == "momentum"
    with pytest.raises(TrainingConfigError, match="optimizer.lr"):
        trainer.retune({**edited, "optimizer": {"name": "momentum", "lr": -1}})


SCHEDULE_KINDS = [
    {"name": name, **extra, **warmup}
    for name, extra in (("constant", {}), ("step", {"step_size": 3, "gamma": 0.5}), ("cosine", {}))
    for warmup in ({}, {"warmup_steps": 4})
]


@pytest.mark.parametrize("schedule", SCHEDULE_KINDS, ids=lambda s: f"{s['name']}-{s.get('warmup_steps', 0)}")
@pytest.mark.parametrize("at", [2, 6])  # inside a warm-up, and after it
def test_a_new_learning_rate_rescales_every_schedule_from_the_next_step(schedule, at):
    text = regression_graph({"optimizer": {"name": "sgd", "lr": 0.1}, "schedule": schedule})
    reference = Trainer(loads(text), dtype="float64").run().lrs
    trainer = Trainer(loads(text), dtype="float64")
    edited = {**json.loads(text)["training"], "optimizer": {"name": "sgd", "lr": 0.2}}

    def between_steps() -> bool:
        if trainer.step_count == at:
            assert trainer.retune(edited) == []
        return False

    lrs = trainer.run(should_stop=between_steps).lrs
    assert lrs[:at] == pytest.approx(reference[:at], rel=1e-12)
    assert lrs[at:] == pytest.approx([2 * lr for lr in reference[at:]], rel=1e-12)


def test_reset_weights_starts_over():
    trainer = Trainer(load(EXAMPLES / "xor.json"), overrides={"steps": 20})
    first = trainer.run().losses
    trainer.reset_weights()
    assert trainer.run().losses == first


def test_overflow_is_caught_and_the_first_node_named():
    text = json.dumps(OVERFLOW)
    result = Trainer(loads(text)).run()
    assert result.stopped == "nonfinite" and len(result.losses) == 1
    assert (result.nonfinite.node, result.nonfinite.phase, result.nonfinite.value) == (
        "e2",
        "forward",
        "e2.out",
    )
    assert str(result.nonfinite) == "non-finite value at step 0: e2.out (node 'e2')"


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({}, "has no training section"),
        ({"dataset": {"name": "xor"}, "inputs": {"x": "x"}}, "training.loss: is required"),
        (
            {
                "dataset": {"name": "xor"},
                "inputs": {"x": "x"},
                "loss": "loss.out",
                "optimizer": {"name": "lbfgs"},
            },
            "training.optimizer.name: unknown optimizer 'lbfgs'",
        ),
        (
            {
                "dataset": {"name": "xor"},
                "inputs": {"x": "x"},
                "loss": "loss.out",
                "optimizer": {"name": "sgd", "lr": -1},
            },
            "training.optimizer.lr: must be a positive number, got -1",
        ),
        (
            {"dataset": {"name": "xor"}, "inputs": {"x": "x"}, "loss": "loss.out", "batch_size": 0},
            "training.batch_size: must be a positive integer, got 0",
        ),
        (
            {"dataset": {"name": "xor"}, "inputs": {"x": "x"}, "loss": "loss.out", "colour": 1},
            "training.colour: unknown key",
        ),
        (
            {"dataset": {"name": "xor"}, "inputs": {"nope": "x"}, "loss": "loss.out"},
            "training.inputs.nope: there is no Input node 'nope'",
        ),
        (
            {"dataset": {"name": "xor"}, "inputs": {"x": "pixels"}, "loss": "loss.out"},
            "training.inputs.x: the dataset has no field 'pixels' (fields: x, y)",
        ),
        (
            {"dataset": {"name": "xor"}, "inputs": {"x": "x"}, "loss": "nope.out"},
            "there is no output 'nope.out'",
        ),
        ({"dataset": {"name": "mnist"}, "inputs": {"x": "x"}, "loss": "loss.out"}, "unknown dataset 'mnist'"),
    ],
)
def test_bad_training_sections_name_the_key(training, message):
    graph = load(EXAMPLES / "xor.json")
    graph.training = training
    with pytest.raises(ValueError, match=".*") as caught:
        Trainer(graph)
    assert message in str(caught.value)
    assert isinstance(caught.value, TrainingConfigError) or "dataset" in message


def checked(trainer: Trainer) -> Trainer:
    """The trainer checking each step's loss and gradients as it takes it, instead of at settles."""
    trainer.deferred = False
    return trainer


def diverging_graph() -> str:
    """Linear regression at a rate that makes the weights grow each step until float32 overflows."""
    graph = json.loads(regression_graph({"optimizer": {"name": "sgd", "lr": 40.0}, "steps": 60}))
    graph["nodes"] = [node for node in graph["nodes"] if node["id"] != "t"]
    graph["edges"] = [edge for edge in graph["edges"] if "t." not in edge["from"] + edge["to"]]
    graph["edges"].append({"from": "fc.out", "to": "loss.input"})
    return json.dumps(graph)


def outcome(trainer: Trainer, result) -> tuple:
    weights = {name: p.detach().clone() for name, p in trainer.module.named_parameters()}
    return repr(result.losses), result.stopped, str(result.nonfinite), trainer.step_count, weights


def random_vae():
    """The VAE (it draws noise each step) at a rate that makes it blow up at its third step."""
    graph = load(EXAMPLES / "vae_bars_stripes.json")
    graph.training = {**graph.training, "optimizer": {"name": "sgd", "lr": 1000.0}, "steps": 60}
    return graph


@pytest.mark.parametrize(
    ("graph", "interval"),
    [
        (lambda: loads(json.dumps(OVERFLOW)), math.inf),
        (lambda: loads(diverging_graph()), math.inf),
        (lambda: loads(diverging_graph()), 0.0),
        (random_vae, math.inf),
        (random_vae, 0.0),
    ],
    ids=["first step", "later step", "later step, settled each step", "noise", "noise, drawn by reports"],
)
def test_a_late_read_names_the_first_nonfinite_step_and_stops_where_a_checked_run_stops(graph, interval):
    def run(trainer: Trainer) -> tuple:
        # a report draws random numbers, as the app's decision-boundary frames may (random nodes)
        result = trainer.run(listener=lambda _: torch.rand(3), report_interval=interval)
        return outcome(trainer, result)

    expected = run(checked(Trainer(graph(), EXAMPLES)))
    got = run(Trainer(graph(), EXAMPLES))
    assert expected[1] == "nonfinite" and got[:4] == expected[:4]
    assert got[4].keys() == expected[4].keys()
    for name, weight in expected[4].items():
        torch.testing.assert_close(got[4][name], weight, equal_nan=True, rtol=0, atol=0)


def test_deferred_steps_wait_for_the_device_once_per_settle(monkeypatch):
    sgd = {"steps": 30, "optimizer": {"name": "sgd", "lr": 0.5}}  # Adam reads its CPU step counter
    trainer = Trainer(load(EXAMPLES / "xor.json"), overrides=sgd)
    reference = checked(Trainer(load(EXAMPLES / "xor.json"), overrides=sgd))
    reads = {"item": 0, "tolist": 0, "bool": 0}
    for name in reads:
        original = getattr(torch.Tensor, "__bool__" if name == "bool" else name)

        def counted(self, *args, _name=name, _original=original):
            reads[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, "__bool__" if name == "bool" else name, counted)
    for _ in range(10):
        trainer.step()
    assert reads == {"item": 0, "tolist": 0, "bool": 0}
    records, found = trainer.settle()
    assert found is None and reads["tolist"] == 1 and reads["item"] == 0
    monkeypatch.undo()
    expected = [
        reference.step() or reference.settle()[0][0].losses[reference.config.lead.name] for _ in range(10)
    ]
    assert [r.losses[trainer.config.lead.name] for r in records] == expected
    assert [r.step for r in records] == list(range(1, 11)) and trainer.last_losses == records[-1].losses


def test_without_clipping_no_clip_grad_norm_call_and_with_it_the_same_losses_as_before(monkeypatch):
    calls = []
    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: calls.append(a) or clip(*a, **k))
    Trainer(load(EXAMPLES / "xor.json"), overrides={"steps": 5}).run()
    assert calls == []
    section = {"optimizer": {"name": "sgd", "lr": 0.5}, "clip_grad_norm": 0.01}
    trainer = Trainer(loads(regression_graph(section)), dtype="float64")
    model, _, _ = by_hand(trainer, torch.optim.SGD, {"lr": 0.5}, steps=0)
    result = trainer.run()
    assert len(calls) == 12
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    generator = torch.Generator().manual_seed(trainer.config.seed)
    x, y, losses = trainer.train_data["x"], trainer.train_data["y"], []
    for step in range(12):
        if step % 5 == 0:
            order = torch.randperm(len(x), generator=generator)
        index = order[step % 5 * 8 : step % 5 * 8 + 8]
        optimizer.zero_grad()
        loss = F.mse_loss(torch.tanh(model.fc(x[index])), y[index])
        loss.backward()
        clip(list(model.parameters()), 0.01)
        optimizer.step()
        losses.append(loss.item())
    assert result.losses == pytest.approx(losses, rel=1e-12)


@pytest.mark.parametrize("interval", [0.0, math.inf], ids=["report every step", "no reports"])
def test_deferred_runs_equal_checked_runs_with_reports_retunes_and_epochs(interval):
    section = json.loads(
        regression_graph({"optimizer": {"name": "momentum", "lr": 0.1}, "schedule": {"name": "cosine"}})
    )["training"]
    edited = {**section, "optimizer": {"name": "momentum", "lr": 0.2}}
    results = []
    for trainer in (
        checked(Trainer(loads(regression_graph(section)))),
        Trainer(loads(regression_graph(section))),
    ):
        reports = []

        def between_steps(trainer=trainer) -> bool:
            if trainer.step_count == 6:
                trainer.retune(edited)
            return False

        result = trainer.run(listener=reports.append, should_stop=between_steps, report_interval=interval)
        results.append((result.losses, result.lrs, result.epochs, [r.losses for r in reports]))
    assert results[0] == results[1]


def test_asking_for_the_last_losses_reads_them_and_the_next_settle_still_gives_every_step():
    trainer = Trainer(load(EXAMPLES / "xor.json"), overrides={"steps": 30})
    reference = checked(Trainer(load(EXAMPLES / "xor.json"), overrides={"steps": 30}))
    for _ in range(3):
        trainer.step()
        reference.step()
    assert trainer.last_losses == reference.settle()[0][-1].losses
    trainer.step()
    records, found = trainer.settle()
    assert found is None and [r.step for r in records] == [1, 2, 3, 4]
