"""A training "child" that serves in a thread of the test process, for the few tests that patch
torch to make a node raise (a patch cannot reach a real child process). It speaks the same pipe
protocol through the same `serve`, so the window cannot tell it from a process."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from graphcore.training import child as training_child


class ThreadChild(training_child.TrainingProcess):
    def __init__(self) -> None:  # no process: `serve` runs in a thread
        self.conn, child_end = multiprocessing.Pipe()
        self.thread = threading.Thread(target=training_child.serve, args=(child_end,), daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return not self.conn.closed and self.thread.is_alive()

    def ended(self) -> str:
        return "ended"

    def close(self) -> None:
        if self.thread.is_alive() and not self.conn.closed:
            self.send("interrupt")
            self.send("exit")
            self.thread.join(training_child.EXIT_WAIT)
        self.conn.close()


def train_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows made from now on in this test train in a thread of this process."""

    def take() -> Any:
        return ThreadChild()

    monkeypatch.setattr(training_child, "take", take)
    monkeypatch.setattr(training_child, "give_back", lambda child: child.close())
