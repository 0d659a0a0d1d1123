"""Entry point: `backprop-studio [FILE]` opens the main window on FILE or the default example, and
first offers to restore what a crashed or killed session left unsaved.

SIGTERM and SIGINT close every window without asking, keeping unsaved work in its recovery file,
and exit with 128 + the signal's number. Python runs signal handlers only when the interpreter gets
control, which a Qt event loop waiting for events never gives it: the signal's wake-up byte on a
socket wakes a QSocketNotifier instead.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from app.examples import DEFAULT_EXAMPLE, EXAMPLES  # noqa: F401 (EXAMPLES: tests read it from here)

if TYPE_CHECKING:
    from app.window import MainWindow

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PREPARE_TRAINING_MS = 1000  # after the first paint, start the training process in the background


def main(argv: Sequence[str] | None = None) -> int:
    from pyqtgraph.util.garbage_collector import GarbageCollector
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow
    from graphcore.registry import load_library

    load_library()
    args = list(sys.argv[1:] if argv is None else argv)
    qt_app = QApplication.instance() or QApplication([sys.argv[0], *args])
    qt_app.setApplicationName("Backprop Studio")
    qt_app.setOrganizationName("Backprop Studio")
    # Python's cycle collector runs in whichever thread allocates; run in a lab or import worker,
    # it destroys dead Qt objects there and deadlocks with the GUI thread. Collect on a GUI timer.
    collector = GarbageCollector(interval=1.0)  # noqa: F841 (kept alive by this frame)
    windows: list[MainWindow] = []
    code: list[int] = []

    def end(signum: int) -> None:
        code.append(128 + signum)
        for each in windows:
            each.end_session()
        qt_app.exit(code[0])

    with on_signals(ENDING_SIGNALS, end):
        window = MainWindow()
        windows.append(window)
        window.show()
        if args:
            window.open_path(Path(args[0]))  # a bad file still opens the window, with the message
        restored = offer_recovery(window, reuse=not args)
        windows += [w for w in restored if w is not window]
        if not args and window not in restored:
            window.open_path(DEFAULT_EXAMPLE)
        # the training process imports torch while the user looks: the first Start need not wait
        QTimer.singleShot(PREPARE_TRAINING_MS, window.run_tools.session.prepare)
        result = qt_app.exec() if not code else 0
    return code[0] if code else result


def offer_recovery(window: MainWindow, reuse: bool) -> list[MainWindow]:
    """Ask about each document a dead session left unsaved; the windows that show one are returned.
    The first restored document goes into `window` when `reuse`, the others into windows of their own."""
    from app.recovery import find_recovered
    from app.window import MainWindow

    shown: list[MainWindow] = []
    for recovered in find_recovered(window.recovery):
        answer = window.ask_restore(recovered)
        if window.ending:  # a signal arrived while asking
            break
        if answer == "discard":
            recovered.discard()
        if answer not in ("restore", "open"):
            continue
        target = window if reuse and not shown else MainWindow(window.settings)
        if answer == "restore":
            opened = target.restore(recovered)
        else:
            assert recovered.source is not None  # "open" is offered only when there is a saved file
            recovered.discard()
            opened = target.open_path(recovered.source)
        if target is not window:
            target.show()
        if opened or target is not window:
            shown.append(target)
    return shown


@contextmanager
def on_signals(signums: Sequence[int], handle: Callable[[int], None]) -> Iterator[None]:
    """While inside, call handle(signum) on the GUI thread when one of `signums` arrives."""
    from PySide6.QtCore import QSocketNotifier

    reader, writer = socket.socketpair()
    for end in (reader, writer):
        end.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in signums}

    def read() -> None:
        try:
            received = reader.recv(64)
        except BlockingIOError:
            return
        for signum in received:
            if signum in signums:
                handle(signum)
                return

    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(read)
    try:
        yield
    finally:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        reader.close()
        writer.close()
