"""Run ▸ Practice Mode in the real window: questions while stepping, typed answers, the score."""

from __future__ import annotations

import pytest
from canvas_gestures import press_run_action
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QTextDocument
from PySide6.QtTest import QTest

from app.stepper.practice import READ_WHY, WAITING
from app.window import MainWindow


def run_menu_action(window: MainWindow, text: str) -> QAction:
    menu = window.shell.menu_named("Run")
    return next(a for a in menu.actions() if a.text() == text)


def press_f10(window: MainWindow, qtbot) -> None:
    """F10 as the student presses it: into whatever has the keyboard (the answer box, mostly)."""
    QTest.keyClick(window.focusWidget() or window, Qt.Key.Key_F10)


def question_text(window: MainWindow) -> str:
    return window.practice.box.question.text()


def step_to_question(window: MainWindow, qtbot, asks: str, limit: int = 40) -> None:
    """F10 until the box asks about `asks` (an open question on the way is skipped)."""
    for _ in range(limit):
        press_f10(window, qtbot)
        if asks in question_text(window) and window.practice.question is not None:
            return
    raise AssertionError(f"no question about {asks!r}; last: {question_text(window)!r}")


def answer(window: MainWindow, text: str) -> None:
    box = window.practice.box.answer
    assert box.hasFocus()  # the student types without clicking into it first
    QTest.keyClicks(box, text)
    QTest.keyClick(box, Qt.Key.Key_Return)


def feedback(window: MainWindow) -> str:
    """The feedback line as the student reads it (its rich text rendered to plain text)."""
    document = QTextDocument()
    document.setHtml(window.practice.box.feedback.text())
    return document.toPlainText()


def feedback_color(window: MainWindow) -> str:
    return window.practice.box.feedback.text().split("color:")[1][:7]


@pytest.fixture
def practising(neuron: MainWindow) -> MainWindow:
    run_menu_action(neuron, "Practice Mode").trigger()
    assert neuron.run_tools.stepper.active  # practice starts the stepper
    assert neuron.practice.box.isVisible()
    return neuron


def test_a_right_answer_typed_after_f10_is_correct_and_scores(practising, qtbot):
    window = practising
    step_to_question(window, qtbot, "what is w·x?")
    badge = window.run_tools.stepper.overlay.badge("wx")
    assert badge.isVisible() and badge.text == "= ?"
    assert "?" in window.run_tools.stepper_panel.text and "0.75" not in window.run_tools.stepper_panel.text
    answer(window, "0.75")
    assert feedback(window) == "Correct: w·x = 0.75" and feedback_color(window) == "#15803d"
    assert window.practice.box.score.text() == "Score: 1 / 1 correct"
    assert badge.text == "= 0.75"  # revealed
    assert "0.75" in window.run_tools.stepper_panel.text


def test_a_wrong_backward_answer_shows_upstream_times_local(practising, qtbot):
    window = practising
    step_to_question(window, qtbot, "∂L/∂z")
    badge = window.run_tools.stepper.overlay.badge("z")
    assert badge.text.endswith("∂ ?")
    answer(window, "-0.5")
    said = feedback(window)
    assert feedback_color(window) == "#dc2626"
    assert said.startswith("Not quite: you typed -0.5; ∂L/∂z = -0.09257")
    assert "∂L/∂z = upstream × local = ∂L/∂t × ∂t/∂z = (-0.3894) × 0.2378 = -0.09257" in said
    score = window.practice.box.score.text()
    assert score.startswith("Score: 0 / ") and "skipped" in score  # the questions F10 went past
    assert badge.text.endswith("∂ -0.09257")
    press_run_action(window, "stepper_reset")
    assert window.practice.box.score.text() == "Score: 0 / 0 correct"


def test_the_fan_out_total_is_asked_and_explained_as_a_sum(window, qtbot):
    exercises = run_menu_action(window, "Practice Exercises").menu()
    entry = next(a for a in exercises.actions() if a.text().startswith("f = g + g·h"))
    entry.trigger()
    assert window.document.path.name == "practice_g_plus_gh.json"
    assert window.practice.on and window.run_tools.stepper.active
    step_to_question(window, qtbot, "the total ∂f/∂x")
    answer(window, "3")
    said = feedback(window)
    assert "∂f/∂x = the sum of the gradients arriving through each consumer = " in said
    assert said.endswith("= 2.649 (through g) + 0.4122 (through h) = 3.061")


def test_garbage_gets_a_line_and_the_question_stays_open(practising, qtbot):
    window = practising
    step_to_question(window, qtbot, "what is w·x?")
    answer(window, "abc")
    assert feedback(window) == "'abc' is not a number: type a number such as 0.25, -1e-3 or 1/4"
    assert window.practice.question is not None
    QTest.keyClick(window.practice.box.answer, Qt.Key.Key_Backspace)
    window.practice.box.answer.clear()
    answer(window, "3/4")
    assert feedback(window).startswith("Correct")


def test_reveal_counts_as_skipped_and_practice_off_asks_nothing(practising, qtbot):
    window = practising
    step_to_question(window, qtbot, "what is w·x?")
    QTest.mouseClick(window.practice.box.reveal, Qt.MouseButton.LeftButton)
    assert feedback(window).startswith("Skipped: w·x = 0.75")
    assert window.practice.box.score.text() == "Score: 0 / 1 correct · 1 skipped"
    run_menu_action(window, "Practice Mode").trigger()
    assert not window.practice.box.isVisible()
    press_f10(window, qtbot)
    assert window.practice.question is None
    assert window.run_tools.stepper.overlay.badge("z").text == "= 0.45"


def test_f10_with_a_question_open_reveals_it_as_skipped_and_asks_the_next(practising, qtbot):
    window = practising
    step_to_question(window, qtbot, "what is w·x?")
    press_f10(window, qtbot)
    assert "what is z?" in question_text(window)
    assert window.run_tools.stepper.overlay.badge("wx").text == "= 0.75"  # the skipped one is shown
    assert window.run_tools.stepper.overlay.badge("z").text == "= ?"
    assert window.practice.box.score.text() == "Score: 0 / 1 correct · 1 skipped"
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)  # Step back
    assert window.practice.question is None and window.run_tools.stepper.session.position == 4
    press_f10(window, qtbot)  # z was shown (skipped) already: not asked again
    assert window.practice.question is None
    assert window.run_tools.stepper.overlay.badge("z").text == "= 0.45"


def test_run_to_end_finishes_without_asking_and_says_so(practising, qtbot):
    window = practising
    stepper = window.run_tools.stepper
    with qtbot.waitSignal(stepper.ran_to_end):
        press_run_action(window, "run_to_end")
    assert stepper.session.at_end and window.practice.question is None
    total = stepper.session.total
    assert window.statusBar().currentMessage() == f"Run to End: {total} steps shown without asking"
    assert window.practice.box.score.text() == "Score: 0 / 0 correct"  # not asked, not skipped
    assert "?" not in stepper.overlay.badge("w").text and "?" not in stepper.overlay.badge("wx").text


def test_run_to_end_from_a_question_counts_only_the_steps_not_shown(practising, qtbot):
    window = practising
    stepper = window.run_tools.stepper
    step_to_question(window, qtbot, "what is w·x?")
    reached = stepper.session.position
    with qtbot.waitSignal(stepper.ran_to_end):
        press_run_action(window, "run_to_end")
    unasked = stepper.session.total - 1 - reached
    assert window.statusBar().currentMessage() == f"Run to End: {unasked} steps shown without asking"
    assert window.practice.box.score.text() == "Score: 0 / 1 correct · 1 skipped"  # the open one


# --- Play in practice mode: it stops at each question and plays on once it is answered -------------


def play_button(window: MainWindow) -> QAction:
    return window.run_tools.actions["play"]


def play_to_question(window: MainWindow, qtbot, asks: str) -> None:
    """Press Play on the Stepper toolbar and wait until it stops at the question about `asks`."""
    press_run_action(window, "play")
    wait_for_question(window, qtbot, asks)


def wait_for_question(window: MainWindow, qtbot, asks: str) -> None:
    qtbot.waitUntil(lambda: window.practice.question is not None and asks in question_text(window))
    assert not play_button(window).isChecked() and not window.run_tools.stepper.timer.isActive()
    assert window.practice.box.answer.hasFocus()


@pytest.fixture
def fast(practising: MainWindow) -> MainWindow:
    """Auto-play at the slider's top speed, 20 steps a second."""
    practising.run_tools.speed.setValue(20)
    return practising


def test_play_stops_at_each_question_and_plays_on_after_a_right_answer(fast, qtbot):
    window, stepper = fast, fast.run_tools.stepper
    assert stepper.interval_ms == 50  # the slider sets auto-play's speed
    play_to_question(window, qtbot, "what is w·x?")
    assert stepper.overlay.badge("wx").text == "= ?"
    assert window.statusBar().currentMessage() == WAITING
    window.run_tools.speed.setValue(10)  # the slider moved while Play waits: it plays on at the new speed
    answer(window, "0.75")
    assert feedback(window) == "Correct: w·x = 0.75"
    assert play_button(window).isChecked() and stepper.timer.isActive()
    assert stepper.timer.interval() == 100
    wait_for_question(window, qtbot, "what is z?")
    assert stepper.overlay.badge("z").text == "= ?" and stepper.overlay.badge("wx").text == "= 0.75"
    answer(window, "0.45")
    assert window.practice.box.score.text() == "Score: 2 / 2 correct"
    assert play_button(window).isChecked()


def test_a_wrong_answer_keeps_play_stopped_and_reveal_plays_on(fast, qtbot):
    window, stepper = fast, fast.run_tools.stepper
    play_to_question(window, qtbot, "what is w·x?")
    position = stepper.session.position
    answer(window, "1")
    assert feedback(window).startswith("Not quite: you typed 1; w·x = 0.75")
    assert not play_button(window).isChecked() and not stepper.timer.isActive()
    assert stepper.session.position == position
    assert window.statusBar().currentMessage() == READ_WHY
    play_to_question(window, qtbot, "what is z?")  # Play again, after reading why
    QTest.mouseClick(window.practice.box.reveal, Qt.MouseButton.LeftButton)
    assert feedback(window).startswith("Skipped: z = 0.45")
    assert play_button(window).isChecked() and stepper.timer.isActive()
    qtbot.waitUntil(lambda: window.practice.question is not None)  # and on to the next question
    assert not play_button(window).isChecked()
    assert window.practice.box.score.text() == "Score: 0 / 2 correct · 1 skipped"


def test_play_with_a_question_open_skips_it_and_f10_while_play_waits_takes_over(fast, qtbot):
    window, stepper = fast, fast.run_tools.stepper
    step_to_question(window, qtbot, "what is w·x?")
    play_to_question(window, qtbot, "what is z?")  # Play goes past the open question: skipped
    assert window.practice.box.score.text() == "Score: 0 / 1 correct · 1 skipped"
    assert stepper.overlay.badge("wx").text == "= 0.75"
    press_f10(window, qtbot)  # F10 while Play waits: skipped, and Step leads from here
    assert window.practice.box.score.text() == "Score: 0 / 2 correct · 2 skipped"
    assert "what is t?" in question_text(window)
    answer(window, f"{window.practice.question.answer:.4g}")
    assert feedback(window).startswith("Correct: t = ")
    assert not play_button(window).isChecked() and not stepper.timer.isActive()  # no Play to go back to


def test_turning_practice_off_while_play_waits_plays_on_without_asking(fast, qtbot):
    window, stepper = fast, fast.run_tools.stepper
    play_to_question(window, qtbot, "what is w·x?")
    run_menu_action(window, "Practice Mode").trigger()
    assert not window.practice.box.isVisible() and window.practice.question is None
    assert play_button(window).isChecked() and stepper.timer.isActive()
    assert stepper.overlay.badge("wx").text == "= 0.75"
    qtbot.waitUntil(lambda: stepper.session.at_end)
    assert window.practice.question is None
    assert window.practice.box.score.text() == "Score: 0 / 0 correct"  # put away, not skipped


def test_practice_on_a_graph_that_cannot_be_stepped_switches_itself_off(window, qtbot):
    run_menu_action(window, "Practice Mode").trigger()  # the window's empty document has no output
    assert not window.practice.on and not window.run_tools.stepper.active
    assert not window.practice.box.isVisible()


def test_the_toolbar_has_practice_mode_with_its_icon(practising):
    toolbar = practising.run_tools.toolbars[1]
    assert practising.practice.action in toolbar.actions()
    assert not practising.practice.action.icon().isNull()
    assert practising.practice.action.toolTip().endswith("(Ctrl+Shift+P)")


def test_a_tensor_step_asks_one_named_element(window, examples, qtbot):
    assert window.open_path(examples / "xor.json")
    run_menu_action(window, "Practice Mode").trigger()
    step_to_question(window, qtbot, "what is fc1[0, 0]?")
    assert window.run_tools.stepper.overlay.badge("fc1").text == "= ?"
    right = window.practice.question.answer
    answer(window, f"{right:.4g}")
    assert feedback(window) == f"Correct: fc1[0, 0] = {right:.4g}"
    assert window.run_tools.stepper.overlay.badge("fc1").text.startswith("= [4, 4]")


def test_a_question_at_the_last_step_answered_leaves_play_at_the_end(fast, qtbot):
    window, stepper = fast, fast.run_tools.stepper
    session = stepper.session
    while session.position < session.total - 2:
        press_f10(window, qtbot)
    press_run_action(window, "play")
    qtbot.waitUntil(lambda: window.practice.question is not None and session.at_end)
    assert not play_button(window).isChecked()
    answer(window, f"{window.practice.question.answer:.4g}")
    assert feedback(window).startswith("Correct")
    assert session.at_end and session.position == session.total - 1  # not started over
    assert not play_button(window).isChecked() and not stepper.timer.isActive()
