"""Runner: the derivative lab's work, off the GUI thread, one job at a time.

Jobs run in a one-thread pool, so two lab views never drive torch's function transforms at once,
and results come back as queued signals to the GUI thread. A job may stream partial results
(`report`), and a later request can cancel an earlier one: its next report raises `Cancelled`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from graphcore.derivatives.lab import warm_up
from graphcore.program import NodeError


class Cancelled(Exception):
    """Raised inside a job whose result nobody wants any more."""


class _Job(QRunnable):
    def __init__(self, runner: Runner, job_id: int, work: Callable[..., Any], streams: bool) -> None:
        super().__init__()
        self.runner, self.job_id, self.work, self.streams = runner, job_id, work, streams

    def report(self, item: Any) -> None:
        if self.job_id in self.runner.cancelled:
            raise Cancelled
        self.runner.progressed.emit(self.job_id, item)

    def run(self) -> None:
        try:
            result = self.work(self.report) if self.streams else self.work()
        except Cancelled:
            self.runner.finished.emit(self.job_id, False, None)
        except (ValueError, NotImplementedError) as error:  # LabError, NodeError, MemoryBudgetError
            self.runner.finished.emit(self.job_id, False, str(error))
        except Exception as error:  # a graph the lab cannot handle must not take the app down
            self.runner.finished.emit(self.job_id, False, NodeError.describe(error))
        else:
            self.runner.finished.emit(self.job_id, True, result)


class Runner(QObject):
    finished = Signal(int, bool, object)  # job id, ok, result or error message (None: cancelled)
    progressed = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.cancelled: set[int] = set()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[str], None], Any]] = {}
        self.closed = False
        self.finished.connect(self._finish)
        self.progressed.connect(self._progress)

    def submit(
        self,
        work: Callable[..., Any],
        done: Callable[[Any], None],
        failed: Callable[[str], None],
        progress: Callable[[Any], None] | None = None,
    ) -> int:
        """Run `work()` (or `work(report)` when `progress` is given) in the worker; answer here.
        After `shutdown` nothing runs and nobody is answered."""
        job_id = next(self._ids)
        if self.closed:
            return job_id
        # torch compiles its forward-mode decompositions (torch.jit.script) on the first JVP of the
        # process; done in the worker while this thread paints, that has stalled for minutes. So the
        # first job warms up here, once, not the window's start (torch is not even imported by then).
        warm_up()
        self._callbacks[job_id] = (done, failed, progress)
        self.pool.start(_Job(self, job_id, work, progress is not None))
        return job_id

    def cancel(self, job_id: int | None) -> None:
        if job_id in self._callbacks:
            self.cancelled.add(job_id)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def shutdown(self) -> None:
        """Cancel everything and wait for the worker (the window is closing)."""
        self.closed = True
        self.cancelled.update(self._callbacks)
        self.pool.waitForDone()
        self._callbacks.clear()

    def _progress(self, job_id: int, item: Any) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks and callbacks[2] is not None and job_id not in self.cancelled:
            callbacks[2](item)

    def _finish(self, job_id: int, ok: bool, payload: Any) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        was_cancelled = job_id in self.cancelled
        self.cancelled.discard(job_id)
        if callbacks is None or was_cancelled or payload is None and not ok:
            return
        done, failed, _ = callbacks
        if ok:
            done(payload)
        else:
            failed(payload)
