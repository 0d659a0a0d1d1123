"""The training plots as a user meets them: one batch trained from the toolbar, the gradient-norm
plot's labels read, then another document opened."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTabBar

from app.window import MainWindow
from tests.flows.test_flow_lab import assert_readable, click

TIMEOUT = 60_000


def click_tab(window: MainWindow, title: str) -> None:
    """Bring a tabbed dock to the front by clicking its tab (in the tab bar on screen: Qt keeps the
    bars of an earlier arrangement around after the layout is reset)."""
    dock = next(d for d in window.docks.values() if d.windowTitle() == title)
    for bar in window.findChildren(QTabBar):
        for i in range(bar.count()):
            if bar.tabText(i) == title and not bar.visibleRegion().isEmpty():
                QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
                if not dock.visibleRegion().isEmpty():
                    return
    raise AssertionError(f"no tab {title!r} on screen")


def _points(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def legend_texts(legend) -> list[str]:
    return [label.text for _, label in legend.items]


def test_gradient_norms_are_labelled_and_forgotten_with_their_document(
    window: MainWindow, examples: Path, qtbot
):
    tools, plots = window.run_tools, window.run_tools.plots
    step_batch = tools.toolbars[0].widgetForAction(tools.actions["step_batch"])
    assert window.open_path(examples / "two_moons.json")
    window.resize(1400, 900)
    window.default_layout()  # View → Reset Layout: the plots get room for their axes
    click_tab(window, "Training Plots")
    dock = window.docks["plots"]
    assert dock.isVisible()
    qtbot.waitUntil(lambda: plots.grad_plot.vb.size().height() > 60)
    click(step_batch)
    moons = [f"fc{i}.{w}" for i in (1, 2, 3) for w in ("weight", "bias")]
    qtbot.waitUntil(lambda: legend_texts(plots.grad_legend) == moons, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: _points(plots.curves["grad fc3.bias"]) == 1)  # drawn at the next redraw
    assert legend_texts(plots.legend) == ["train", "validation"]
    for legend, plot in ((plots.grad_legend, plots.grad_plot), (plots.legend, plots.loss_plot)):
        assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())
    plots.grad_plot.setYRange(-4, 1)  # norms from 10⁻⁴ to 10¹, as a run spreads them
    assert_readable(plots.grad_plot.getAxis("left"), log=True)
    assert window.open_path(examples / "xor.json")
    assert legend_texts(plots.grad_legend) == [] and not any(k.startswith("grad ") for k in plots.curves)
    qtbot.waitUntil(step_batch.isEnabled, timeout=TIMEOUT)  # the old run has stopped
    click(step_batch)
    xor = [f"fc{i}.{w}" for i in (1, 2) for w in ("weight", "bias")]
    qtbot.waitUntil(lambda: legend_texts(plots.grad_legend) == xor, timeout=TIMEOUT)
