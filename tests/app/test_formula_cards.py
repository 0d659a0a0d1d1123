"""Typeset formulas in the window: the card under the selected or hovered node on the canvas
(vector-painted, so it scales with the zoom and stays sharp), the stepper panel and the inspector."""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.canvas.formula_card import PAD, FormulaCard
from app.mathtext.widgets import FormulaLabel
from app.window import MainWindow
from graphcore.registry import REGISTRY
from tests.app.canvas_gestures import GRAB, click, click_node, mouse
from tests.app.test_blocks import double_click


def cards(window: MainWindow) -> list[FormulaCard]:
    return [i for i in window.scene.items() if isinstance(i, FormulaCard) and i.isVisible()]


def formula_pixels(window: MainWindow, card: FormulaCard) -> QImage:
    """What the view shows of the card's formula, inside its border, in screen pixels."""
    inner = card.mapRectToScene(card.boundingRect().adjusted(PAD / 2, PAD / 2, -PAD / 2, -PAD / 2))
    return window.view.viewport().grab(window.view.mapFromScene(inner).boundingRect()).toImage()


def mid_grey_share(image: QImage) -> float:
    """Of the pixels that are not background, the share half way between background and ink: the
    antialiased fringe. A vector drawing keeps a one-pixel fringe at any zoom; a scaled bitmap's grows."""
    pixels = [
        image.pixelColor(x, y).lightnessF() for x in range(image.width()) for y in range(image.height())
    ]
    background = Counter(pixels).most_common(1)[0][0]
    ink = min(pixels)
    depths = [(background - p) / max(background - ink, 1e-6) for p in pixels]
    marked = [d for d in depths if d > 0.1]
    return sum(d < 0.75 for d in marked) / max(len(marked), 1)


def test_selecting_a_node_shows_its_forward_rule_under_it(neuron: MainWindow):
    node = neuron.scene.nodes["t"]
    before = (node.boundingRect(), node.port_scene_pos("out", True), node.pos())
    assert cards(neuron) == []
    click_node(neuron, "t")
    (card,) = cards(neuron)
    assert card.formula == "σ(z) = 1/(1+e^(−z))" == REGISTRY["sigmoid"].formula.split(",  ")[0]
    assert card.sceneBoundingRect().top() >= node.sceneBoundingRect().bottom()
    assert (node.boundingRect(), node.port_scene_pos("out", True), node.pos()) == before
    assert neuron.document.stack.count() == 0 and neuron.scene.items_rect(list(neuron.scene.nodes.values()))
    assert "formula" not in str(neuron.document.graph.meta)


def test_the_card_scales_with_the_zoom_and_stays_sharp(neuron: MainWindow, qtbot):
    click_node(neuron, "t")
    (card,) = cards(neuron)
    neuron.view.zoom_by(1 / neuron.view.zoom)  # 100 %
    neuron.view.centerOn(card)
    small = formula_pixels(neuron, card)
    for _ in range(6):  # View ▸ Zoom In, the real action, up to 1.25⁶ ≈ 3.8×
        neuron.menu["zoom_in"].trigger()
    neuron.view.centerOn(card)
    big = formula_pixels(neuron, card)
    assert big.width() / small.width() > 3.5 and big.height() / small.height() > 3.5
    assert mid_grey_share(big) < 0.6 * mid_grey_share(small)


def test_hovering_shows_a_card_and_the_view_menu_turns_cards_off(neuron: MainWindow):
    view, scene = neuron.view, neuron.scene
    click(view, scene.items_rect().bottomRight() + QPointF(200, 200))  # on the empty canvas: nothing selected
    z = scene.nodes["z"]
    mouse(view, QEvent.Type.MouseMove, z.mapToScene(QPointF(40, 10)), buttons=QApplication.mouseButtons())
    (card,) = cards(neuron)
    assert card.formula == REGISTRY[z.node.type].formula.split(",  ")[0]
    mouse(
        view,
        QEvent.Type.MouseMove,
        scene.items_rect().bottomRight() + QPointF(300, 300),
        buttons=QApplication.mouseButtons(),
    )
    assert cards(neuron) == []
    action = next(a for a in neuron.shell.menu_named("View").actions() if a.text() == "&Formulas on Nodes")
    assert action.isChecked()
    click_node(neuron, "t")
    assert len(cards(neuron)) == 1
    action.trigger()
    assert not action.isChecked() and cards(neuron) == []
    action.trigger()
    assert len(cards(neuron)) == 1


def test_the_stepper_panel_shows_the_formula_typeset(neuron: MainWindow):
    tools = neuron.run_tools
    tools.actions["stepper_mode"].setChecked(True)
    while tools.stepper.session.current is None or tools.stepper.session.current.node != "t":
        tools.actions["step"].trigger()  # forward to t = σ(z)
    formula = REGISTRY["sigmoid"].formula
    text = tools.stepper_panel.text
    assert "Formula" in text and f"<code>{formula}" not in text
    (data,) = re.findall(r"<img src='data:image/png;base64,([^']+)'", text)
    image = QImage.fromData(base64.b64decode(data))
    assert image.width() > 40 and image.height() > 10
    assert any(
        image.pixelColor(x, y).alpha() > 200 for x in range(image.width()) for y in range(image.height())
    )


def test_the_inspector_shows_the_formula_typeset(neuron: MainWindow):
    click_node(neuron, "t")
    (label,) = neuron.inspector.widget().findChildren(FormulaLabel)
    assert label.formula == REGISTRY["sigmoid"].formula and not label.pixmap().isNull()
    assert label.isVisible() and label.height() >= label.sizeHint().height() > 10


def test_the_card_steps_aside_during_a_drag_and_follows_the_node(neuron: MainWindow):
    view, node = neuron.view, neuron.scene.nodes["t"]
    click_node(neuron, "t")
    start = node.mapToScene(GRAB)
    mouse(view, QEvent.Type.MouseButtonPress, start)
    mouse(view, QEvent.Type.MouseMove, start + QPointF(60, 40), Qt.MouseButton.NoButton)
    assert cards(neuron) == []  # hidden while the node moves under it
    mouse(view, QEvent.Type.MouseMove, start + QPointF(120, 80), Qt.MouseButton.NoButton)
    mouse(view, QEvent.Type.MouseButtonRelease, start + QPointF(120, 80), buttons=Qt.MouseButton.NoButton)
    (card,) = cards(neuron)
    assert node.pos() != QPointF(0, 0) and neuron.document.stack.count() == 1  # the move, nothing else
    assert card.pos().x() == node.pos().x()  # under the node's body where it now stands
    assert 0 <= card.sceneBoundingRect().top() - node.sceneBoundingRect().bottom() < 10


def test_inside_an_open_block_the_cards_follow_its_canvas(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "resnet_blocks.json")
    outside = window.scene
    double_click(window, qtbot, outside.nodes["res"].mapToScene(GRAB))
    inner = window.scene
    assert inner is not outside
    linear = next(i for i, item in inner.nodes.items() if item.node.type == "Linear")
    click_node(window, linear)
    (card,) = cards(window)
    assert card.scene() is inner and card.formula == "y = x Wᵀ + b"
    window.blocks.leave()
    (card,) = cards(window)  # back outside, the block node double-clicked is still selected
    assert window.scene is outside and card.scene() is outside and card.node_id == "res"
    click_node(window, "loss")
    (card,) = cards(window)
    assert card.formula == REGISTRY["CrossEntropyLoss"].formula.split(",  ")[0]
