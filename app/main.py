"""Entry point: `backprop-studio [FILE]` opens the main window on FILE or the default example."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_EXAMPLE = EXAMPLES / "sigmoid_neuron.json"


def main(argv: Sequence[str] | None = None) -> int:
    from pyqtgraph.util.garbage_collector import GarbageCollector
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow

    args = list(sys.argv[1:] if argv is None else argv)
    qt_app = QApplication.instance() or QApplication([sys.argv[0], *args])
    qt_app.setApplicationName("Backprop Studio")
    qt_app.setOrganizationName("Backprop Studio")
    # Python's cycle collector runs in whichever thread allocates; run in the training or lab worker,
    # it destroys dead Qt objects there and deadlocks with the GUI thread. Collect on a GUI timer.
    collector = GarbageCollector(interval=1.0)  # noqa: F841 (kept alive by this frame)
    window = MainWindow()
    window.open_path(Path(args[0]) if args else DEFAULT_EXAMPLE)
    window.show()
    return qt_app.exec()


if __name__ == "__main__":
    sys.exit(main())
