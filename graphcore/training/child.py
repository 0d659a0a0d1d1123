"""Training in a process of its own: the window stays fluid however hard the Trainer works.

The window's process starts a child interpreter (`TrainingProcess`) that runs `serve`: a
TrainingHost fed by a socket pair. Everything crossing it is a pickled `(kind, payload)` pair. To
the child: "request" (a host Request, handled in order), "interrupt" (pause: the running loop ends
after this step), "set" (the node to show histograms of, weight rows to share, gradient flow on or
off), "retune" (an edited training section), "query" (a question answered between steps or when
idle, e.g. the weights to save), "mark" (echoed once everything sent before it is handled),
"exit". From the child: the host's messages, and "answer" to a query. A reader thread in the child
takes messages as they come, so a pause reaches a running loop at its next step and the window
never blocks writing. The child leaves one core to the window (torch threads = cores − 1), imports
no Qt, and dies with the window's process (on Linux even when that is killed).
A closing window's child is kept as the spare for the next (`take`, `give_back`).
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from graphcore.training.host import TrainingHost, sentence

SETTINGS = ("watch_node", "weights_rows", "watch_flow")  # what "set" may change on the host
EXIT_WAIT = 5.0  # seconds a closing child gets to end before it is killed

Message = tuple[str, Any]


def encode(kind: str, payload: Any = None) -> bytes:
    return pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes) -> Message:
    kind, payload = pickle.loads(data)
    return kind, payload


def training_threads() -> int:
    """Torch threads for the child: all cores but one, which the window keeps."""
    return max(1, (os.cpu_count() or 1) - 1)


# --- the child's side ------------------------------------------------------------------------------


def serve(conn: Connection, threads: int | None = None) -> None:
    """The child's main: handle requests until "exit" or until the window's end of the pipe closes."""
    from graphcore.registry import load_library

    load_library()  # an entry point, like the app and the CLI
    if threads is not None:
        from graphcore._torch import torch

        torch.set_num_threads(threads)
    inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
    questions: deque[tuple[int, str, Any]] = deque()

    def send(kind: str, payload: Any) -> None:
        conn.send_bytes(encode(kind, payload))

    def answer_questions() -> None:
        while questions:
            ident, what, args = questions.popleft()
            try:
                send("answer", (ident, True, answer(host, what, args)))
            except Exception as error:  # noqa: BLE001 - the window shows the sentence
                send("answer", (ident, False, sentence(error)))

    host = TrainingHost(send, between_steps=answer_questions)

    def read() -> None:
        while True:
            try:
                kind, payload = decode(conn.recv_bytes())
            except (EOFError, OSError):
                kind, payload = "exit", None
            if kind == "interrupt":
                host.stop = True
            elif kind == "set" and payload[0] in SETTINGS:
                setattr(host, payload[0], payload[1])
            elif kind == "retune":
                host.retune(payload)
            elif kind == "query":
                questions.append(payload)
                inbox.put(("wake", None))
            else:
                inbox.put((kind, payload))
            if kind == "exit":
                host.stop = True
                return

    threading.Thread(target=read, name="training-pipe", daemon=True).start()
    while True:
        kind, payload = inbox.get()
        answer_questions()
        if kind == "exit":
            break
        if kind == "request":
            host.handle(payload)
        elif kind == "mark":  # everything sent before it is handled
            send("mark", payload)
    conn.close()


def _ends_with(parent: int) -> bool:
    """Have Linux kill this child when the window's process dies, even by SIGKILL (which the pipe
    would only tell it after its imports); False when the parent is gone already."""
    if sys.platform.startswith("linux"):
        import ctypes

        set_parent_death_signal = 1  # PR_SET_PDEATHSIG in <linux/prctl.h>
        ctypes.CDLL(None).prctl(set_parent_death_signal, signal.SIGKILL)
    return os.getppid() == parent


def main(argv: list[str]) -> None:
    """`python -m graphcore.training.child FD THREADS PARENT`: serve on the socket FD."""
    fd, threads, parent = (int(arg) for arg in argv)
    if _ends_with(parent):
        serve(Connection(fd), threads)


def answer(host: TrainingHost, what: str, args: Any) -> Any:
    """A query's answer, computed from the host's trainer (None when there is none).

    "describe": the trainer's step count, step budget, precision, clipping and optimizer settings;
    "state": a CPU copy of the module's state_dict; "weights": the Weights to save (args: the file
    name they will have and the graph's previous Weights' places, whose names they keep)."""
    trainer = host.trainer
    if trainer is None:
        return None
    if what == "describe":
        return {
            "step_count": trainer.step_count,
            "total_steps": trainer.total_steps,
            "precision": trainer.config.precision,
            "clip_grad_norm": trainer.config.clip_grad_norm,
            "param_groups": [
                [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
                for optimizer in trainer.optimizers
            ],
        }
    if what == "state":
        return {k: v.detach().to("cpu", copy=True) for k, v in trainer.module.state_dict().items()}
    if what == "weights":
        from graphcore.files.weights import Weights, collect

        reference, places = args
        previous = Weights(reference, None, dict(places))
        weights = collect(trainer.module, trainer.runtime.generated.attributes, reference, previous)
        assert weights.tensors is not None
        weights.tensors = {k: v.detach().to("cpu", copy=True) for k, v in weights.tensors.items()}
        return weights
    raise ValueError(f"training process: no query named {what!r}")


# --- the window's side -----------------------------------------------------------------------------


class TrainingProcess:
    """A child `python -m graphcore.training.child` serving one TrainingHost over a socket pair;
    `send` never blocks on the child's work. A new interpreter, not multiprocessing's spawn: that
    would run the parent's main script again in the child (a second app, for a script without a
    main guard)."""

    def __init__(self, threads: int | None = None) -> None:
        ours, theirs = socket.socketpair()
        threads = training_threads() if threads is None else threads
        command = [sys.executable, "-m", __name__, str(theirs.fileno()), str(threads), str(os.getpid())]
        package_root = str(Path(__file__).resolve().parents[2])  # this checkout's graphcore, not another
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            command, pass_fds=[theirs.fileno()], env={**os.environ, "PYTHONPATH": path}, close_fds=True
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        _running.add(self)

    def fileno(self) -> int:
        return self.conn.fileno()

    def alive(self) -> bool:
        return not self.conn.closed and self.process.poll() is None

    def send(self, kind: str, payload: Any = None) -> None:
        self.conn.send_bytes(encode(kind, payload))

    def receive(self, timeout: float = 0.0) -> Message:
        """The next message (waiting up to `timeout` seconds for one); EOFError when the child ended,
        TimeoutError when none came."""
        if not self.conn.poll(timeout):
            raise TimeoutError
        return decode(self.conn.recv_bytes())

    def ready(self) -> bool:
        """A message (or the end of the child) waits to be received."""
        return not self.conn.closed and self.conn.poll(0)

    def ended(self) -> str:
        """How the child ended, in words: 'was killed (SIGKILL)' or 'exited with code 1'."""
        try:
            code = self.process.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed ({name})"
        return f"exited with code {code}"

    def close(self, wait: float = EXIT_WAIT) -> None:
        """Ask the child to end, and kill it when it does not within `wait` seconds."""
        if self.process.poll() is None and not self.conn.closed:
            try:
                self.send("interrupt")
                self.send("exit")
            except OSError:
                pass
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


_running: weakref.WeakSet[TrainingProcess] = weakref.WeakSet()  # ended at exit, the spare among them
_spare: TrainingProcess | None = None  # a child whose window closed, kept for the next one
SPARE_WAIT = 2.0  # seconds a closing window waits for its child to wind down before ending it


def take() -> TrainingProcess:
    """A ready child: the spare one when there is one alive (no second torch import), else new."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None and spare.alive() and not spare.ready():
        return spare
    if spare is not None:
        spare.close()
    return TrainingProcess()


def give_back(child: TrainingProcess) -> None:
    """Keep a child that still serves as the spare, else end it. The spare is reset (no trainer, no
    settings) and drained: nothing of this window's run can reach the next window."""
    global _spare
    if _spare is None and child.alive() and _reset(child):
        _spare = child
    else:  # a spare is kept already, or this one is busy (a long build): the window does not wait
        child.close(wait=SPARE_WAIT / 4)


@atexit.register
def _end_all() -> None:
    """This process exits: end its children now rather than leave them to notice the closed pipe."""
    for child in list(_running):
        child.close(wait=SPARE_WAIT / 4)


def _reset(child: TrainingProcess) -> bool:
    """Drop the trainer and the settings, and read until the child says it got that far."""
    from graphcore.training.host import Request

    try:
        child.send("interrupt")
        child.send("request", Request("drop"))
        for name, value in (("watch_node", None), ("weights_rows", 0), ("watch_flow", False)):
            child.send("set", (name, value))
        token = os.urandom(8).hex()
        child.send("mark", token)
        while child.receive(SPARE_WAIT) != ("mark", token):
            pass
    except (OSError, EOFError, TimeoutError):
        return False
    return True


if __name__ == "__main__":
    main(sys.argv[1:])
