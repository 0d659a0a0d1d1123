"""Every Derivatives panel, opened from the Derivatives menu and used with the mouse and keyboard
as a user does, on the shipped examples: what the panels say and draw is checked, not their data."""

from __future__ import annotations

import re
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontInfo, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QListWidget, QRadioButton, QScrollArea, QWidget

from app.canvas.view import READABLE_PX, readable_zoom
from app.window import MainWindow

POWER_OF_TEN = re.compile(r"([25]·)?10⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
TIMEOUT = 60_000


def derivatives_action(window: MainWindow, text: str):
    """The Derivatives menu's entry with this text (without its & mnemonic)."""
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Derivatives")
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


def click(widget: QWidget) -> None:
    """Click as a hand would: a radio button or check box on its indicator (its middle may lie past
    its text when the layout stretches it, where a click does nothing)."""
    if isinstance(widget, QRadioButton | QCheckBox):
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(6, widget.height() // 2))
    else:
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def type_into(combo: QComboBox, text: str) -> None:
    """Focus a combo box and type the start of an entry, as keyboard search picks it."""
    combo.setFocus()
    QTest.keyClicks(combo, text)


def retype(field: QWidget, text: str) -> None:
    """Select all of a field and type over it, key by key."""
    field.setFocus()
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)


def toggle(values: QListWidget, text: str) -> None:
    """Tick or untick a list entry with the space bar."""
    values.setFocus()
    values.setCurrentItem(values.findItems(text, Qt.MatchFlag.MatchExactly)[0])
    QTest.keyClick(values.viewport(), Qt.Key.Key_Space)


def items(combo: QComboBox) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def drawn_labels(axis: pg.AxisItem) -> list[tuple[QRectF, str]]:
    """The tick labels the axis paints, with their rectangles (as AxisItem.paint lays them out)."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    if axis.style["tickFont"] is not None:
        painter.setFont(axis.style["tickFont"])
    _, _, texts = axis.generateDrawSpecs(painter)
    painter.end()
    return [(rect, text) for rect, _, text in texts]


def assert_readable(axis: pg.AxisItem, log: bool) -> list[str]:
    """Labels distinct, none over another, and on a log axis powers of ten; returns them."""
    labels = drawn_labels(axis)
    texts = [text for _, text in labels]
    assert texts and len(set(texts)) == len(texts), texts
    for i, (a, _) in enumerate(labels):
        assert not any(a.intersects(b) for b, _ in labels[i + 1 :]), texts
    if log:
        assert all(POWER_OF_TEN.fullmatch(text) for text in texts), texts
    return texts


def drawn_color(label: pg.LabelItem) -> QColor:
    """The colour a pyqtgraph label's text is painted in (from the HTML it renders)."""
    found = re.search(r"color:\s*(#[0-9a-fA-F]{6,8})", label.item.toHtml())
    assert found, label.item.toHtml()
    return QColor(found.group(1))


def luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio: 4.5 or more reads as normal text, 3 as large text."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture
def opened(window: MainWindow, examples: Path):
    def open_example(name: str) -> MainWindow:
        assert window.open_path(examples / name)
        return window

    return open_example


def test_path_view_names_nodes_by_their_labels(opened, qtbot):
    window = opened("sigmoid_neuron.json")
    view = window.lab.path_view
    with qtbot.waitSignal(view.computed, timeout=TIMEOUT):
        derivatives_action(window, "Path View on Canvas").trigger()
    assert window.lab.docks["paths"].isVisible() and view.enabled.isChecked()
    labels = ["w", "x", "b", "y", "w·x", "z", "t", "y − t", "(y − t)²", "½", "L"]
    assert items(view.x_choice) == labels and items(view.z_choice) == labels
    assert view.x_choice.currentText() == "w" and view.z_choice.currentText() == "L"
    badges = {node: tag.text for node, tag in view.overlay.badges.items()}
    assert badges["L"] == "∂L/∂w = -0.1389" and badges["r"] == "∂(y − t)/∂w = -0.3566"
    assert "Σ over 1 paths: ∂L/∂w = <b>-0.1389</b>" in view.summary.text()
    path = view.paths.topLevelItem(0).text(0)
    assert path == "w → w·x → z → t → y − t → (y − t)² → L"
    with qtbot.waitSignal(view.computed, timeout=TIMEOUT):
        type_into(view.x_choice, "b")
    assert view.x_choice.currentText() == "b"
    assert "forward mode: ∂L/∂b = -0.09257 ✓" in view.summary.text()
    click(view.backward_button)
    click(view.reset_button)
    click(view.step_button)
    click(view.step_button)  # reverse mode: L first, then the ½ · (y − t)² it multiplies
    assert view.caption.text().startswith("∂L/∂(y − t)² = ") or view.caption.text().startswith("∂L/∂½ = ")
    assert "mul" not in view.caption.text() and "sq" not in view.caption.text()


def test_two_nodes_with_one_label_are_told_apart_by_id(opened, qtbot):
    window = opened("residual_mlp.json")
    view = window.lab.path_view
    with qtbot.waitSignal(view.computed, timeout=TIMEOUT):
        derivatives_action(window, "Path View on Canvas").trigger()
    shown = items(view.x_choice)
    assert "ReLU (act_in)" in shown and "ReLU (act_block)" in shown
    assert "fc1" in shown and "fc_in" not in shown  # a label of its own: no id
    assert view.z_choice.currentText() == "loss"


def test_jacobian_lab_writes_each_cell_readably(opened, qtbot):
    window = opened("path_sum.json")
    derivatives_action(window, "Jacobian Lab").trigger()
    dock = window.lab.jacobian
    assert window.lab.docks["jacobian"].isVisible()
    ticked = [dock.inputs.item(i) for i in range(dock.inputs.count())]
    assert [i.text() for i in ticked] == [
        "a  scalar",
        "b  scalar",
        "1  scalar",
        "c  scalar",
        "d  scalar",
        "e  scalar",
    ]
    toggle(dock.inputs, "c  scalar")
    with qtbot.waitSignal(dock.computed, timeout=TIMEOUT):
        click(dock.compute_button)
    assert dock.message.text().startswith("Jacobian 1 × 3 (outputs × inputs)")
    qtbot.waitUntil(lambda: all(drawn_labels(p.getAxis("bottom")) for p in dock.panels.values()))
    picture = dock.plots.grab().toImage()
    for method in ("forward", "reverse", "fd"):
        panel = dock.panels[method]
        assert [t for _, t in drawn_labels(panel.getAxis("left"))] == ["e"]
        assert [t for _, t in drawn_labels(panel.getAxis("bottom"))] == ["a", "b", "c"]
        cells = {(round(n.pos().x(), 1), round(n.pos().y(), 1)): n for n in dock.numbers[method].texts}
        assert {at: n.textItem.toPlainText() for at, n in cells.items()} == {
            (0.5, 0.5): "2",  # ∂e/∂a = d = 2
            (1.5, 0.5): "5",  # ∂e/∂b = d + c = 5
            (2.5, 0.5): "2",  # ∂e/∂c = d = 2
        }
        for (x, y), number in cells.items():
            beside = panel.vb.mapViewToScene(QPointF(x - 0.35, y))  # the cell, off the digits
            pixel = dock.plots.mapFromScene(beside)
            background = picture.pixelColor(pixel)
            assert contrast(number.color, background) >= 4.5, (method, x, background.name())
    backgrounds = {
        picture.pixelColor(
            dock.plots.mapFromScene(dock.panels["fd"].vb.mapViewToScene(QPointF(x, 0.5)))
        ).name()
        for x in (0.15, 1.15)
    }
    assert len(backgrounds) == 2  # 2 and 5 sit on different colours, each number readable on its own


def test_derivative_plot_titles_and_a_difference_of_zero(opened, qtbot):
    window = opened("path_sum.json")
    derivatives_action(window, "Derivative Plot").trigger()
    plot = window.lab.derivative_plot
    assert window.lab.docks["derivative"].isVisible()
    assert items(plot.of_choice) == ["a", "b", "1", "c", "d", "e"]
    assert items(plot.sweep_choice) == ["a", "b"]
    type_into(plot.wrt_choice, "b")
    assert plot.top.titleLabel.text == "∂e/∂b as b varies"
    assert plot.bottom.getAxis("bottom").labelText == "b (swept)"
    legend = [label.text for _, label in plot.legend.items]
    assert legend == ["forward mode (JVP)", "reverse mode (VJP)", "e (right axis)"]
    retype(plot.count, "5")
    with qtbot.waitSignal(plot.finished, timeout=TIMEOUT):
        click(plot.sweep_button)
    qtbot.waitUntil(lambda: len(plot.difference_curve.getData()[0]) == 5)
    assert all(p.difference == 0 for p in plot.points.values())  # e = (a + b)(b + 1) is exact
    low, high = plot.bottom.vb.viewRange()[1]
    assert low == -high and 0 < high <= 1e-12  # rounding level, centred on 0
    axis = plot.bottom.getAxis("left")
    texts = assert_readable(axis, log=False)
    assert "0" in texts and all(abs(float(t)) <= 1e-12 for t in texts)
    assert "x0.001" not in axis.labelString() and "(x" not in axis.labelString()
    for other in (plot.top.vb, plot.bottom.vb):
        assert not plot.legend.sceneBoundingRect().intersects(other.sceneBoundingRect())


def test_derivative_plot_form_is_not_cut_off(opened):
    window = opened("sigmoid_neuron.json")
    derivatives_action(window, "Derivative Plot").trigger()
    plot = window.lab.derivative_plot
    area = plot.findChild(QScrollArea)
    assert not area.horizontalScrollBar().isVisible()
    form = area.widget()
    assert area.viewport().width() >= form.minimumSizeHint().width()
    for field in (plot.of_choice, plot.high, plot.count, plot.loss_choice):
        right = field.mapTo(area.viewport(), field.rect().topRight()).x()
        assert right <= area.viewport().width(), field


def test_cost_of_modes_log_axes_and_legend(opened, qtbot):
    window = opened("path_sum.json")
    derivatives_action(window, "Cost of Modes").trigger()
    plot = window.lab.cost_plot
    assert window.lab.docks["cost"].isVisible()
    retype(plot.sizes, "1, 4, 16, 64")
    retype(plot.fixed, "4")
    retype(plot.hidden, "4")
    retype(plot.repeats, "1")
    with qtbot.waitSignal(plot.finished, timeout=TIMEOUT):
        click(plot.run_button)
    qtbot.waitUntil(lambda: len(plot.curves[("m", "ms", "reverse")].getData()[0]) == 4)
    plots = [item for item in plot.plots.ci.items if isinstance(item, pg.PlotItem)]
    assert len(plots) == 4
    qtbot.waitUntil(lambda: all(drawn_labels(p.getAxis(side)) for p in plots for side in ("left", "bottom")))
    # n from 1 to 64; the auto range follows the last point a paint later, so wait for it
    qtbot.waitUntil(lambda: [t for _, t in drawn_labels(plots[0].getAxis("bottom"))][:2] == ["10⁰", "10¹"])
    for item in plots:
        for side in ("left", "bottom"):
            assert_readable(item.getAxis(side), log=True)
        assert not plot.legend.sceneBoundingRect().intersects(item.vb.sceneBoundingRect())
    with qtbot.waitSignal(plot.finished, timeout=TIMEOUT):
        click(plot.mine_button)
    qtbot.waitUntil(lambda: "★" in plot.message.text())
    assert plot.message.text().endswith("★ your graph: e with respect to a, b")
    assert [label.text for _, label in plot.legend.items] == ["forward mode", "reverse mode", "your graph"]
    assert plot.table.item(plot.table.rowCount() - 1, 0).text() == "your graph"
    assert window.open_path(window.document.path.parent / "xor.json")  # the star was path_sum's
    assert [label.text for _, label in plot.legend.items] == ["forward mode", "reverse mode"]
    assert "★" not in plot.message.text()


def test_lab_legends_and_titles_stay_readable_in_the_dark_theme(opened, qtbot):
    window = opened("path_sum.json")
    window.menu["theme_dark"].trigger()
    derivatives_action(window, "Derivative Plot").trigger()
    plot = window.lab.derivative_plot
    with qtbot.waitSignal(plot.finished, timeout=TIMEOUT):
        click(plot.sweep_button)
    background = plot.plots.backgroundBrush().color()
    for legend in (plot.legend, window.lab.cost_plot.legend):
        for _, label in legend.items:
            assert contrast(drawn_color(label), background) >= 4.5, label.text
    assert contrast(drawn_color(plot.top.titleLabel), background) >= 4.5


def test_path_view_badges_read_as_large_as_titles_at_the_framing_zoom(opened, qtbot):
    """Opened and framed, the view is at least at the zoom where titles are READABLE_PX: the badges'
    text is as large on screen as the titles'."""
    window = opened("two_moons.json")
    view = window.lab.path_view
    with qtbot.waitSignal(view.computed, timeout=TIMEOUT):
        derivatives_action(window, "Path View on Canvas").trigger()
    zoom = window.view.zoom
    assert zoom >= readable_zoom() * 0.999
    tags = list(view.overlay.badges.values())
    assert tags
    for tag in tags:
        assert QFontInfo(tag.label.font()).pixelSize() * zoom >= READABLE_PX - 0.01, tag.text
