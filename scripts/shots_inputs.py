"""Screenshots of Derivatives ▸ Input Gradients (app/input_grads) on the digits CNN after short training."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.examples import EXAMPLES
from app.window import MainWindow
from scripts.screenshots import wait_for

TRAIN_STEPS = 150


def _trained_digits(window: MainWindow) -> None:
    """digits_cnn trained a few epochs' worth of steps, then the dock opened with its weights."""
    app = QApplication.instance()
    window.open_path(EXAMPLES / "digits_cnn.json")
    tools = window.run_tools
    tools.train_dock.steps.setValue(TRAIN_STEPS)
    tools.actions["start"].trigger()
    wait_for(app, lambda: tools.session.state == "finished", seconds=300)
    feature = window.input_gradients
    feature.open()
    wait_for(app, lambda: feature.frame is not None)
    window.resizeDocks([feature.dock], [640], Qt.Orientation.Vertical)


def _press(button: QWidget, done: Callable[[], bool]) -> None:
    button.click()  # type: ignore[attr-defined]
    wait_for(QApplication.instance(), done)


def adversarial(window: MainWindow) -> None:
    """FGSM on digit sample 3: the image, ε·sign(∇), the adversarial image, probabilities before/after."""
    _trained_digits(window)
    view = window.input_gradients.view
    view.sample.setValue(3)
    view.tabs.setCurrentWidget(view.adversarial)
    view.adversarial.eps.setText("0.25")
    _press(view.adversarial.attack_button, lambda: view.adversarial.status.text() != "")
    window.frame_all()


def saliency(window: MainWindow) -> None:
    """The saliency map of logit 3 for digit sample 3, beside the digit."""
    _trained_digits(window)
    view = window.input_gradients.view
    view.sample.setValue(3)
    view.index.setText("3")
    _press(view.saliency.compute_button, lambda: view.saliency.status.text() != "")
    window.frame_all()


def maximize(window: MainWindow) -> None:
    """Gradient ascent on the input to maximise logit 3, with L2 and TV penalties, from zeros."""
    _trained_digits(window)
    view = window.input_gradients.view
    view.index.setText("3")
    tab = view.maximize
    view.tabs.setCurrentWidget(tab)
    tab.steps.setText("200")
    tab.lr.setText("0.05")
    tab.l2.setText("0.05")
    tab.tv.setText("0.1")
    _press(tab.start_button, lambda: tab.start_button.isEnabled())
    window.frame_all()


def shots() -> list[tuple[str, str, Callable[[MainWindow], None]]]:
    return [
        ("input-gradients", "light", adversarial),
        ("input-gradients-saliency", "light", saliency),
        ("input-gradients-maximize", "light", maximize),
    ]
