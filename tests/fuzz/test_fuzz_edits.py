"""Random edit sequences on every example (and an empty document): after every step the canvas must
mirror the model, undo and redo must give back exactly the states they left, and undoing everything
must give back the original file byte for byte.

Sequences are seeded (sequence k uses Random(k)), so CI runs exactly the stated count and a failure
names the seed and the steps that led to it. Most run on a bare document, scene and controller (the
cheapest way to drive the controller and the undo stack); a sample runs in a real MainWindow, with
edits through its menu actions and wires and nodes dragged with real mouse events on the viewport.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from edits import EDITS, HISTORY, Canvas, redo, undo
from gestures import GESTURES
from mirror import check_mirror
from PySide6.QtTest import QTest
from pytestqt.exceptions import capture_exceptions

from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.editing.controller import Controller
from app.editing.document import Document
from app.main import EXAMPLES
from app.theme import LIGHT
from app.window import MainWindow
from graphcore.files.fileformat import dumps, graph_to_dict, loads
from tests.fuzz.counts import report

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def _with_placeholder(text: str, node_id: str) -> str:
    """The file as a newer version might write it: one node of a type this build does not know, with
    long port names (its item makes a port for each edge, and grows)."""
    data = json.loads(text)
    node = next(n for n in data["nodes"] if n["id"] == node_id)
    node.update(type="FutureActivation", params={"alpha": 2})
    for edge in data["edges"]:
        for end, name in (("from", "activation_output"), ("to", "pre_activation_input")):
            if edge[end].startswith(f"{node_id}."):
                edge[end] = f"{node_id}.{name}"
    return json.dumps(data)


STARTS: dict[str, str | None] = {
    "empty document": None,
    **{p.stem: p.read_text(encoding="utf-8") for p in EXAMPLE_FILES},
    "placeholder": _with_placeholder((EXAMPLES / "sigmoid_neuron.json").read_text(encoding="utf-8"), "t"),
}
BARE_SEQUENCES, WINDOW_SEQUENCES = 960, 40
MAX_STEPS = 11


class BareCanvas(Canvas):
    def __init__(self, start: str | None, view: CanvasView) -> None:
        self.document = Document(loads(start, "start") if start else None)
        self.scene = CanvasScene(self.document, LIGHT)
        self.view = view
        view.setScene(self.scene)
        self.controller = Controller(self.document, self.scene, view)

    def close(self) -> None:
        self.view.setScene(None)
        self.document.close()
        self.document.deleteLater()


class WindowCanvas(Canvas):
    """The current document of a shown MainWindow; menu actions are triggered as a user's click does."""

    gestures = True

    def __init__(self, start: Path | None, window: MainWindow) -> None:
        assert window.open_path(start) if start else window.new_document()
        self.window = window
        self.document, self.scene, self.controller = window.document, window.scene, window.controller
        self.view = window.view

    def act(self, name: str) -> None:
        self.window.menu[name].trigger()

    def close(self) -> None:
        pass


@dataclass
class Run:
    """One sequence, with the state seen at each undo index, so that every undo and redo can be
    checked to give back exactly the state it left."""

    canvas: Canvas
    log: list[str] = field(default_factory=list)
    states: dict[int, str] = field(default_factory=dict)
    history = False  # whether the current step only moves through the history (undo, redo)

    def __post_init__(self) -> None:
        self.stack = self.canvas.document.stack
        self.states[self.stack.index()] = self.dump()
        self.changes, self.mismatches, self.empty, self.index = 0, [], [], self.stack.index()
        self.stack.indexChanged.connect(self._changed)

    def dump(self) -> str:
        """The graph as compact file text: json's C encoder writes it several times faster than
        the indented file, and every step needs one."""
        return json.dumps(
            graph_to_dict(self.canvas.document.graph), ensure_ascii=False, separators=(",", ":")
        )

    def _changed(self, index: int) -> None:
        """A push (or merge) leaves the index at the top and forgets the states above it; an undo or
        redo must land on the state recorded for its index. A step that changes nothing is a fault:
        it marks the file modified and fills the history with entries that undo nothing."""
        self.changes += 1
        now = self.last = self.dump()
        if self.history or (index < self.stack.count() and index in self.states):
            if now != self.states.get(index):
                self.mismatches.append(index)
        else:
            if index > self.index and now == self.states.get(index - 1):
                self.empty.append(self.stack.text(index - 1))
            self.states = {i: s for i, s in self.states.items() if i < index}
            self.states[index] = now
        self.index = index

    def step(self, edit: Callable[[Canvas, random.Random], str | None], rng: random.Random) -> None:
        """Run one edit; then the scene must mirror the model and the graph match the stack."""
        self.changes, self.mismatches, self.empty = 0, [], []
        self.history = edit in HISTORY
        description = edit(self.canvas, rng)
        if description is None:
            assert self.changes == 0, "an edit that did not apply changed the history"
            return
        self.log.append(description)
        index, now = self.stack.index(), self.last if self.changes else self.dump()
        check_mirror(self.canvas.document, self.canvas.scene, now)
        assert not self.mismatches, f"undo index {self.mismatches} does not give back the state it left"
        assert not self.empty, f"undo steps that change nothing: {self.empty}"
        if self.changes == 0:
            assert now == self.states[index], "the graph changed without an undo step"


def run_sequence(canvas: Canvas, seed: int) -> int:
    """Run sequence `seed` on `canvas`; returns the number of steps taken (edits, undos and redos)."""
    rng = random.Random(seed)
    edits = EDITS + (GESTURES if canvas.gestures else [])
    choices, weights = zip(*edits)
    run = Run(canvas)
    original = dumps(canvas.document.graph)
    try:
        with capture_exceptions() as raised:
            for _ in range(rng.randint(3, MAX_STEPS)):
                run.step(rng.choices(choices, weights)[0], rng)
                assert not raised, f"a slot raised: {raised[0][1]!r}"
            while run.stack.canRedo():
                run.step(redo, rng)
            top = dumps(canvas.document.graph)
            while run.stack.canUndo():
                run.step(undo, rng)
            assert dumps(canvas.document.graph) == original, "undoing everything changed the file"
            while run.stack.canRedo():
                run.step(redo, rng)
            assert dumps(canvas.document.graph) == top, "redoing everything does not give back the file"
            assert not raised, f"a slot raised: {raised[0][1]!r}"
    except AssertionError as error:
        trail = "\n  ".join(run.log)
        raise AssertionError(f"seed {seed}, steps:\n  {trail}\n{error}") from None
    finally:
        run.stack.indexChanged.disconnect(run._changed)
    return len(run.log)


RAN = {"sequences": 0, "steps": 0}  # totals over the tests of this file, for the summary line


def _report(capsys: pytest.CaptureFixture, what: str, sequences: int, steps: int) -> None:
    RAN["sequences"] += sequences
    RAN["steps"] += steps
    with capsys.disabled():
        report(f"\nfuzz edits ({what}): {sequences} sequences, {steps} steps")


@pytest.mark.parametrize("start", list(STARTS))
def test_random_edits_on_a_bare_canvas(qapp, capsys, start: str):
    view = CanvasView()
    first = list(STARTS).index(start)
    seeds = range(first, BARE_SEQUENCES, len(STARTS))
    steps = 0
    for seed in seeds:
        canvas = BareCanvas(STARTS[start], view)
        try:
            steps += run_sequence(canvas, seed)
        finally:
            canvas.close()
    _report(capsys, start, len(seeds), steps)


def test_undoing_a_rename_onto_an_id_the_training_section_still_names(qapp):
    """Found by the rename edit: xor's training binds Input y; y is deleted, then loss renamed to y.
    Renaming back cannot tell the two references apart, so RenameNode's undo restores the section."""
    canvas = BareCanvas((EXAMPLES / "xor.json").read_text(encoding="utf-8"), CanvasView())
    try:
        original = dumps(canvas.document.graph)
        canvas.scene.select_nodes(["y"])
        canvas.act("delete")
        assert canvas.controller.rename_node("loss", "y")
        canvas.act("undo")
        canvas.act("undo")
        assert dumps(canvas.document.graph) == original
    finally:
        canvas.close()


def test_random_edits_and_gestures_in_the_window(window: MainWindow, capsys):
    """Last in the file, so it also prints the totals."""
    window.resize(1000, 700)
    window.activateWindow()  # shortcuts typed on the canvas reach only the active window
    assert QTest.qWaitForWindowActive(window)
    steps = 0
    for seed in range(BARE_SEQUENCES, BARE_SEQUENCES + WINDOW_SEQUENCES):
        start = [None, *EXAMPLE_FILES][seed % (len(EXAMPLE_FILES) + 1)]
        steps += run_sequence(WindowCanvas(start, window), seed)
    _report(capsys, "window menus and mouse gestures", WINDOW_SEQUENCES, steps)
    with capsys.disabled():
        report(f"fuzz edits: {RAN['sequences']} sequences, {RAN['steps']} steps")
