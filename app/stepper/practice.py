"""Run ▸ Practice Mode: the stepper asks the number a step computes before it shows it.

While practice is on, each new step reached with Step (F10) or Play gets a question from
graphcore.practice: its badge and the panel show "?" where the answer goes, and a box above the step
takes the typed number (Enter checks). Right: "Correct" in green and the step is revealed. Wrong: the
right value in red with the chain-rule step that gives it. Reveal (or F10 with the question open) shows
it and counts as skipped. Play stops at each question and plays on once it is answered right or
revealed; after a wrong answer it stays stopped until Play is pressed, and turning practice off plays
on. Run to End finishes the pass without asking: its steps count as not asked. The score is for this practice
session; the stepper's Reset starts it over. Run ▸ Practice Exercises opens the lecture's exercises,
then any example.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from app.examples import EXAMPLES, example_files
from app.stepper.session import StepperSession
from graphcore.practice import AnswerError, Examiner, Question, check, number
from graphcore.stepping import StepEvent

if TYPE_CHECKING:
    from app.run_tools import RunTools
    from app.shell import Shell

EXERCISES = (  # the lecture's mechanical-backprop drills, first in Run ▸ Practice Exercises
    ("The sigmoid neuron: L = ½(y − σ(wx + b))²", "sigmoid_neuron.json"),
    ("The neuron with an L2 penalty: + λw²", "sigmoid_neuron_l2.json"),
    ("f = g + g·h with g = x², h = eˣ", "practice_g_plus_gh.json"),
)
GOOD, BAD, SKIPPED = "#15803d", "#dc2626", "#a16207"
WAITING = "Practice: Play waits for your answer (Reveal shows it and plays on)"
READ_WHY = "Practice: Play stays stopped while you read why; press Play to go on"
ASKING = {
    "value": "Forward step: what is {}?",
    "gradient": "Backward step: what gradient does it send back, {}?",
    "total": "The gradients meet: what is the total {}?",
}


class PracticeBox(QFrame):
    """The question, the answer box with Check and Reveal, what the last answer got, the score."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.answer = QLineEdit()
        self.answer.setPlaceholderText("a number: 0.25, -1e-3, 1/4")
        self.check = QPushButton("Check")
        self.reveal = QPushButton("Reveal")
        self.reveal.setToolTip("Show the answer (counted as skipped); F10 reveals and steps on")
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.feedback.setTextFormat(Qt.TextFormat.RichText)
        self.feedback.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.answer, 1)
        row.addWidget(self.check)
        row.addWidget(self.reveal)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Practice</b>"))
        layout.addWidget(self.question)
        layout.addLayout(row)
        layout.addWidget(self.feedback)
        layout.addWidget(self.score)

    def ask(self, question: Question | None) -> None:
        """An open question takes the keyboard; without one the box says how to reach the next."""
        open_ = question is not None
        self.question.setText(
            ASKING[question.kind].format(question.label)
            if question
            else "Step (F10) or Play to the next question."
        )
        for widget in (self.answer, self.check, self.reveal):
            widget.setEnabled(open_)
        self.answer.clear()
        if open_:
            self.feedback.clear()
            self.answer.setFocus()

    def tell(self, text: str, color: str) -> None:
        self.feedback.setText(f"<span style='color:{color}'>{text}</span>")


class Practice(QObject):
    """Practice mode over the Run menu's stepper: questions, checking, masking, the score."""

    def __init__(self, shell: Shell, run_tools: RunTools, open_path: Callable[[Path], bool]) -> None:
        super().__init__(shell)
        self.shell, self.run_tools, self.open_path = shell, run_tools, open_path
        self.stepper = run_tools.stepper
        self.play = run_tools.actions["play"]
        self.box = PracticeBox()
        self.box.hide()
        self.stepper.panel.add_section(self.box)
        self.stepper.panel.shown = self._shown
        self.question: Question | None = None
        self.resume_play = False  # Play stopped for the open question: it plays on once that is done
        self.correct = self.wrong = self.skipped = 0
        self._pass: tuple[int, ...] = ()  # which pass `shown_up_to` is of
        self.shown_up_to = -1  # the steps of this pass up to this one were shown: not asked again
        self.action = QAction("Practice Mode", shell.widget)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        tip = "The stepper asks each value and gradient before it shows it"
        self.action.setToolTip(f"Practice Mode: {tip} (Ctrl+Shift+P)")
        self.action.setStatusTip(tip)
        menu = shell.menu_named("Run")
        menu.addAction(self.action)
        self.exercises = menu.addMenu("Practice Exercises")
        self._exercise_entries()
        run_tools.toolbars[1].addAction(self.action)
        run_tools.actions["practice"] = self.action  # the window gives the Run actions their icons
        self.action.toggled.connect(self._toggled)
        self.stepper.changed.connect(self._on_changed)
        self.stepper.ran_to_end.connect(self._ran_to_end)
        run_tools.actions["stepper_reset"].triggered.connect(self.reset_score)
        self.box.answer.returnPressed.connect(self.submit)
        self.box.check.clicked.connect(self.submit)
        self.box.reveal.clicked.connect(lambda: self.reveal())
        self._show_score()

    def _exercise_entries(self) -> None:
        lectures = [EXAMPLES / file for _, file in EXERCISES]
        for (title, _), path in zip(EXERCISES, lectures):
            self.exercises.addAction(title, partial(self.open_exercise, path))
        self.exercises.addSeparator()
        for path in example_files():
            if path not in lectures:
                self.exercises.addAction(path.stem.replace("_", " "), partial(self.open_exercise, path))

    @property
    def on(self) -> bool:
        return self.action.isChecked()

    @property
    def session(self) -> StepperSession | None:
        return self.stepper.session

    # --- switching -----------------------------------------------------------------------------------

    def open_exercise(self, path: Path) -> None:
        """Open an example and practise on it from its first step."""
        if self.open_path(path):
            self.reset_score()
            self.run_tools.actions["stepper_mode"].setChecked(True)
            self.action.setChecked(True)

    def _toggled(self, on: bool) -> None:
        if on and not self.stepper.active:
            self.run_tools.actions["stepper_mode"].setChecked(True)  # starts the stepper
            if not self.stepper.active:  # this graph cannot be stepped: the status bar says why
                self.action.setChecked(False)
                return
        if on and self.session is not None:
            self.shell.raise_dock("stepper")
            self._start_pass(self.session)
        if not on:
            self._close()
        self._on_changed()

    def _start_pass(self, session: StepperSession) -> None:
        """Steps already shown (before practice began, or before a Step back) are not asked."""
        self._pass = self._pass_of(session)
        self.shown_up_to = len(session.history) - 1

    @staticmethod
    def _pass_of(session: StepperSession) -> tuple[int, ...]:
        return (id(session), session.passes, id(session.history))  # Reset makes a new history

    def reset_score(self) -> None:
        self.correct = self.wrong = self.skipped = 0
        self.box.feedback.clear()
        self._show_score()

    # --- following the stepper -----------------------------------------------------------------------

    def _on_changed(self) -> None:
        """The stepper moved or redrew: ask at a step reached for the first time, else show what is open."""
        session = self.session
        self.box.setVisible(self.on and session is not None)
        if session is None:
            self._forget_question()
            return
        if self._pass_of(session) != self._pass:
            self._forget_question()
            self._pass, self.shown_up_to = self._pass_of(session), -1
        position = session.position
        if self.question is not None and self.question.step != position:
            self.resume_play = False  # the student moved on (F10, Play, Step back): they lead from here
            self.reveal(redraw=False)  # skipped, and on to the next step
        if self.stepper.running:
            return  # Run to End shows its steps without asking; _ran_to_end counts them
        event = session.current
        if self.on and event is not None and not session.updates and position == self.shown_up_to + 1:
            self.shown_up_to = position  # before asking: stopping Play for the question redraws
            self._ask(session, event)
        self.shown_up_to = max(self.shown_up_to, position)
        if self.question is not None:
            self._hide_badge()

    def _forget_question(self) -> None:
        """The pass it was asked in is gone (Reset, a new session): nothing is counted."""
        if self.question is not None:
            self.question = None
            self.box.ask(None)
        self.resume_play = False

    def _ran_to_end(self) -> None:
        """Run to End finished the pass: the steps it went through were shown without asking."""
        session = self.session
        if session is None:
            return
        unasked = session.position - self.shown_up_to
        self.shown_up_to = session.position
        if self.on:
            self.shell.show_message(f"Run to End: {unasked} step{'s' * (unasked != 1)} shown without asking")

    def _ask(self, session: StepperSession, event: StepEvent) -> None:
        examiner = Examiner(session.program, session.runtime, session.of, session.names)
        try:
            self.question = examiner.ask(event, session.forward_event(event.node))
        except Exception as error:  # noqa: BLE001 - a node's JVP that fails must not stop the stepper
            self.question = None
            self.shell.show_message(f"Practice: no question at this step ({error})")
        self.box.ask(self.question)
        if self.question is None:
            return
        self.stepper.panel.show_session(session)  # with "?" where the answer goes
        if self.stepper.timer.isActive():  # Play reached it: Play waits for the answer
            self.resume_play = True
            self.play.setChecked(False)
            self.shell.show_message(WAITING)

    def _shown(self, event: StepEvent) -> StepEvent:
        """The event as the panel shows it: the asked tensor as "?" while the question is open."""
        question = self.question
        if question is None or event.index != question.step:
            return event
        masked = copy.copy(event)
        setattr(masked, question.where, {**getattr(event, question.where), question.key: "?"})
        return masked

    def _hide_badge(self) -> None:
        overlay, question = self.stepper.overlay, self.question
        if overlay is None or question is None or question.badge is None:
            return
        badge = overlay.badge(question.badge)
        if badge is not None and badge.isVisible() and badge.ask(question.badge_part):
            overlay.place(question.badge)

    # --- answering -----------------------------------------------------------------------------------

    def submit(self) -> None:
        question = self.question
        if question is None:
            return
        text = self.box.answer.text()
        try:
            verdict = check(text, question)
        except AnswerError as error:
            self.box.tell(escape(str(error)), BAD)
            self.box.answer.selectAll()
            return
        if verdict.correct:
            self.correct += 1
            self.box.tell(f"<b>Correct</b>: {escape(question.label)} = {number(question.answer)}", GOOD)
        else:
            self.wrong += 1
            self.box.tell(
                f"<b>Not quite</b>: you typed {escape(number(verdict.given))}; "
                f"{escape(question.label)} = {number(question.answer)}<br>{escape(question.explanation)}",
                BAD,
            )
            if self.resume_play:
                self.shell.show_message(READ_WHY)
        self._close(play_on=verdict.correct)

    def reveal(self, redraw: bool = True) -> None:
        """Show the answer and how it comes about; counted as skipped."""
        question = self.question
        if question is None:
            return
        self.skipped += 1
        self.box.tell(
            f"<b>Skipped</b>: {escape(question.label)} = {number(question.answer)}<br>"
            f"{escape(question.explanation)}",
            SKIPPED,
        )
        self._close(redraw=redraw)

    def _close(self, redraw: bool = True, play_on: bool = True) -> None:
        """The open question is done with: the step shows all it computed, and Play, if it stopped
        for the question, plays on (`play_on`)."""
        if self.question is None:
            return
        self.question = None
        resume, self.resume_play = self.resume_play and play_on, False
        self.box.ask(None)
        self._show_score()
        if redraw:
            self.stepper.redraw()
        session = self.session
        if resume and session is not None and not session.at_end:
            self.play.setChecked(True)

    def _show_score(self) -> None:
        asked = self.correct + self.wrong + self.skipped
        skipped = f" · {self.skipped} skipped" if self.skipped else ""
        self.box.score.setText(f"Score: {self.correct} / {asked} correct{skipped}")
