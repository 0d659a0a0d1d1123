"""Saving trained weights as a user does: train from the Train panel, File ▸ Save Weights… (the file
dialog answered), reopen the graph, and Start carries on from the saved weights, not from the seed."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import torch
from PySide6.QtWidgets import QFileDialog

from app.stepper.format import describe
from app.window import MainWindow
from graphcore.files.fileformat import load
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.training.train import Trainer
from tests.flows.test_flow_stepper import click, shown
from tests.flows.test_flow_training import TIMEOUT, press, retype, state

STEPS = 40


def answer_save_dialog(monkeypatch: pytest.MonkeyPatch, path: Path | str) -> list[str]:
    """The save dialog returns `path`; what it suggested is recorded."""
    suggested: list[str] = []

    def dialog(parent, caption, directory, filter_):
        suggested.append(directory)
        return str(path), filter_

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    return suggested


def train(window: MainWindow, qtbot, steps: int = STEPS) -> None:
    retype(window.run_tools.train_dock.steps, str(steps))
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "finished", timeout=TIMEOUT)


def badge_of(graph, node: str) -> str:
    """What the stepper's badge on `node` reads after its forward step (the stepper's own runtime)."""
    runtime = Runtime(lower(graph), dtype="float64", device="cpu", seed=0, outputs=[f"{node}.out"])
    value = runtime.forward()[f"{node}.out"].detach()
    return f"= {describe(value)}"


def fresh_graph_of(examples: Path):
    """The xor graph as shipped, without weights of its own."""
    graph = load(examples / "xor.json")
    graph.weights = None
    return graph


def first_loss(graph) -> float:
    """The loss of the first training step of a fresh trainer on `graph`."""
    trainer = Trainer(graph, Path("."), {}, dtype="float32")
    trainer.step()
    return float(trainer.last_losses[next(iter(trainer.last_losses))])


def test_saved_weights_are_what_training_reached_and_start_resumes_from_them(
    window: MainWindow, examples: Path, qtbot, monkeypatch
):
    assert window.open_path(examples / "xor.json")
    train(window, qtbot)
    trained = window.run_tools.session.worker.query("state")
    suggested = answer_save_dialog(monkeypatch, examples / "xor_trained.safetensors")
    window.menu["save_weights"].trigger()
    assert suggested == [str(examples / "xor.safetensors")]  # named after the graph, beside it
    assert window.statusBar().currentMessage() == f"Saved {examples / 'xor.json'}"
    stored = safetensors.torch.load_file(examples / "xor_trained.safetensors")
    assert sorted(torch.cat([v.flatten() for v in stored.values()]).tolist()) == sorted(
        torch.cat([v.flatten() for v in trained.values()]).tolist()
    )

    assert window.open_path(examples / "xor.json")
    graph = window.document.graph
    assert graph.weights is not None and graph.weights.reference == "xor_trained.safetensors"
    runtime = Runtime(lower(graph), dtype="float32")  # as the stepper and inspector build their module
    assert sorted(torch.cat([v.flatten() for v in runtime.module.state_dict().values()]).tolist()) == sorted(
        torch.cat([v.flatten() for v in trained.values()]).tolist()
    )

    trained_fc1 = badge_of(graph, "fc1")
    assert trained_fc1 != badge_of(fresh_graph_of(examples), "fc1")
    click(window, "stepper_mode")
    for _ in range(len(graph)):  # step forward until fc1 has run: its badge shows its value
        if "fc1" in shown(window):
            break
        click(window, "step")
    assert shown(window)["fc1"] == trained_fc1
    click(window, "stepper_mode")

    resumed = first_loss(load(examples / "xor.json"))
    assert resumed < first_loss(fresh_graph_of(examples))  # trained weights start lower than the seed's
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)  # the old run let go on opening
    retype(window.run_tools.train_dock.steps, "1")
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "finished", timeout=TIMEOUT)
    plotted = window.run_tools.plots.buffers["train loss"]
    assert plotted.data()[1][0] == pytest.approx(resumed, rel=1e-6)


def test_save_weights_before_training_says_so_and_writes_nothing(
    window: MainWindow, examples: Path, monkeypatch
):
    assert window.open_path(examples / "xor.json")
    answer_save_dialog(monkeypatch, examples / "xor.safetensors")
    window.menu["save_weights"].trigger()
    assert window.statusBar().currentMessage() == "Train first: there are no trained weights to save"
    assert (
        not (examples / "xor.safetensors").exists() and "weights" not in (examples / "xor.json").read_text()
    )


@pytest.mark.parametrize(
    "name, message",
    [
        ("élan.safetensors", "a weights file name is ASCII letters"),
        ("x" * 300 + ".safetensors", "a weights file name is ASCII letters"),
        ("-.safetensors", "a weights file name is ASCII letters"),
        ("elsewhere/w.safetensors", "weights are kept beside the graph file"),
    ],
)
def test_a_weights_file_that_cannot_be_named_is_refused_in_one_line(
    window: MainWindow, examples: Path, qtbot, monkeypatch, name, message
):
    assert window.open_path(examples / "xor.json")
    train(window, qtbot, steps=3)
    (examples / "elsewhere").mkdir(exist_ok=True)
    answer_save_dialog(monkeypatch, examples / name)
    before = (examples / "xor.json").read_text()
    window.menu["save_weights"].trigger()
    box = window.error_box
    assert box is not None and message in box.text() and "\n" not in box.text()
    box.close()
    assert (examples / "xor.json").read_text() == before and window.document.graph.weights is None


@pytest.mark.parametrize("paused", [True, False], ids=["paused", "finished"])
def test_weights_of_a_graph_edited_since_training_are_not_saved(
    window: MainWindow, examples: Path, qtbot, monkeypatch, paused
):
    assert window.open_path(examples / "xor.json")
    if paused:
        retype(window.run_tools.train_dock.steps, "100000")
        press(window, "start")
        qtbot.waitUntil(lambda: state(window) == "running", timeout=TIMEOUT)
        press(window, "pause")
        qtbot.waitUntil(lambda: state(window) == "paused", timeout=TIMEOUT)
    else:
        train(window, qtbot, steps=3)
    window.controller.set_param("fc2", "bias", False)  # another graph now: its weights would not fit
    # the edit stops a paused run; the panel says so once the trainer and its weights are dropped
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
    assert window.run_tools.train_dock.status.text().startswith("Training stopped: the graph changed")
    assert window.run_tools.session.worker.query("describe") is None
    answer_save_dialog(monkeypatch, examples / "xor.safetensors")
    window.menu["save_weights"].trigger()
    # an edit ends the run and drops its weights, which belong to the graph as it was
    assert window.statusBar().currentMessage() == "Train first: there are no trained weights to save"
    assert (
        not (examples / "xor.safetensors").exists() and "weights" not in (examples / "xor.json").read_text()
    )
