"""Training a graph with a block, as a user does: xor's hidden layer (fc1, h1) selected and made a
block with Ctrl+B, then Train ▸ Start: the loss curve fills and falls, and the weights the block's
Linear learns are named through the instance ("hidden_fc1.weight"). Save and reopen keep it training."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.window import MainWindow
from graphcore.graph import BLOCK_TYPE
from tests.app.canvas_gestures import activate
from tests.app.test_blocks import answer_name

BUILD_TIMEOUT = 60_000  # the first run in a process imports torch.optim (slow on small machines)


def make_hidden_block(window: MainWindow, qtbot) -> str:
    window.scene.select_nodes(["fc1", "h1"])
    activate(window, qtbot)
    window.view.setFocus()
    answer_name(qtbot, "Hidden")
    qtbot.keyClick(window.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "Hidden" in window.document.graph.blocks)
    (instance,) = [n.id for n in window.document.graph.nodes if n.type == BLOCK_TYPE]
    return instance


def train_a_while(window: MainWindow, qtbot) -> list[float]:
    tools = window.run_tools
    tools.train_dock.steps.setValue(300)
    qtbot.waitUntil(tools.actions["start"].isEnabled, timeout=10_000)  # a run of the last file ends first
    tools.actions["start"].trigger()
    qtbot.waitUntil(
        lambda: tools.session.state == "finished",
        timeout=BUILD_TIMEOUT,
    )
    assert window.statusBar().currentMessage().startswith("Training finished after 300 steps")
    tools.plots.redraw()
    _, losses = tools.plots.curves["train loss"].getData()
    return [float(v) for v in losses]


def test_start_trains_a_graph_made_into_a_block_and_after_save_and_reopen(
    window: MainWindow, qtbot, examples: Path
):
    assert window.open_path(examples / "xor.json")
    instance = make_hidden_block(window, qtbot)
    assert window.diagnostics.messages() == []
    losses = train_a_while(window, qtbot)
    assert losses[-1] < losses[0], losses
    weights = {name for name in window.run_tools.plots.curves if name.startswith("grad ")}
    # the block's Linear is plotted under the instance's name (a torch name has no "/")
    assert {f"grad {instance}_fc1.weight", f"grad {instance}_fc1.bias"} <= weights, weights
    window.menu["save"].trigger()
    assert not window.dirty
    assert window.open_path(examples / "xor.json")
    assert window.scene.nodes[instance].type_name == "Hidden" and window.diagnostics.messages() == []
    again = train_a_while(window, qtbot)
    assert again[-1] < again[0], again
