"""The training process (graphcore.training.child), driven over its pipe as the window drives it:
a real spawned child that trains, pauses at once, answers questions, mirrors the window's
BACKPROP_* variables, is reset and drained as a spare, and says how it died."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from graphcore.files.fileformat import dumps, load
from graphcore.training import child as training_child
from graphcore.training.child import TrainingProcess
from graphcore.training.host import Request
from graphcore.training.records import TrainResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WAIT = 60.0  # seconds for one message: the child's first build imports torch.optim


def run_request(steps: int, **extra: Any) -> Request:
    """Train xor for `steps` steps (its whole budget)."""
    graph = load(EXAMPLES / "xor.json")
    graph.set_training({**{k: v for k, v in graph.training.items() if k != "epochs"}, "steps": steps})
    return Request("run", graph_text=dumps(graph), base_dir=str(EXAMPLES), **extra)


def until(child: TrainingProcess, kind: str) -> tuple[Any, list[str]]:
    """Receive up to the first message of `kind`: its payload and the kinds received before it."""
    before = []
    while True:
        got, payload = child.receive(WAIT)
        if got == kind:
            return payload, before
        before.append(got)


def ask(child: TrainingProcess, ident: int, what: str, args: Any = None) -> tuple[bool, Any]:
    child.send("query", (ident, what, args))
    while True:
        payload, _ = until(child, "answer")
        if payload[0] == ident:
            return payload[1], payload[2]


@pytest.fixture
def child():
    process = TrainingProcess(threads=1)
    yield process
    process.close()


def test_a_child_trains_stops_at_once_and_answers_questions(child: TrainingProcess) -> None:
    child.send("request", run_request(10**7))
    info, before = until(child, "built")
    assert before == [] and info.parameters == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    until(child, "progress")
    ok, described = ask(child, 1, "describe")  # answered between two steps of the running loop
    assert ok and described["total_steps"] == 10**7 and described["precision"] == "fp32"
    child.send("interrupt")
    result, _ = until(child, "finished")
    assert isinstance(result, TrainResult) and result.stopped == "stopped" and result.step < 10**7
    assert ask(child, 2, "describe")[1]["step_count"] == result.step
    state = ask(child, 3, "state")[1]
    assert set(state) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert all(t.device.type == "cpu" for t in state.values())
    assert ask(child, 4, "weights", ("xor.safetensors", {}))[1].places["fc1.weight"] == "fc1.weight"
    assert ask(child, 5, "nonsense") == (False, "training process: no query named 'nonsense'")

    child.send("request", Request("drop"))
    assert until(child, "finished")[0] is None
    assert ask(child, 6, "describe") == (True, None)  # no trainer: nothing to describe
    child.close()
    assert not child.alive() and child.process.returncode == 0


def test_a_child_builds_with_the_windows_environment_of_the_moment(child: TrainingProcess) -> None:
    child.send("request", run_request(5, environment={"BACKPROP_MEMORY_BUDGET": "256B"}))
    failed, before = until(child, "failed")
    assert before == ["failed_at"] and failed.endswith(
        "the budget is 0.25 KB (set BACKPROP_MEMORY_BUDGET to change it)"
    )
    child.send("request", run_request(5, environment={}))  # the variable is gone again
    result, _ = until(child, "finished")
    while result is None:  # the failed request's own end comes first
        result, _ = until(child, "finished")
    assert result.step == 5 and result.stopped == "finished"


def test_a_spare_child_is_reset_and_nothing_of_its_last_run_reaches_the_next(monkeypatch) -> None:
    monkeypatch.setattr(training_child, "_spare", None)
    first = training_child.take()
    try:
        first.send("set", ("watch_node", "fc1"))
        first.send("request", run_request(10**7))
        until(first, "histograms")  # trains, and reports fc1's histograms
        training_child.give_back(first)  # mid-run, as a window closing
        assert training_child._spare is first and not first.ready()
        second = training_child.take()
        assert second is first and training_child._spare is None
        second.send("request", run_request(3))
        _, before = until(second, "finished")
        assert before[0] == "built" and "histograms" not in before  # the settings were reset
    finally:
        first.close()


def test_a_killed_child_says_how_it_ended(child: TrainingProcess) -> None:
    child.send("request", run_request(10**7))
    until(child, "progress")
    os.kill(child.process.pid, signal.SIGKILL)
    with pytest.raises(EOFError):
        while True:
            child.receive(WAIT)
    assert child.ended() == "was killed (SIGKILL)"
