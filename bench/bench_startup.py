"""Start-up benchmark: seconds from the launch command to the main window's first paint on the default
example, and for `graphcore --help` and `graphcore check` to finish. Each is a fresh process, as a
user starts it. Numbers go to docs/benchmarks.md, section "Start-up".

    python bench/bench_startup.py             # 5 runs of each
    python bench/bench_startup.py --runs 1    # one of each (what `python -m bench --quick` runs)

Targets from issue 16: the window painted within 2 s on an idle machine, with torch imported after the
first paint (it is not imported at all until something computes); check and --help under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "two_moons.json"
RECOVERY = tempfile.mkdtemp(prefix="bench-startup-")  # no recovery dialog from the user's own files

# What `backprop-studio` runs (app.main.main), plus an event filter that reports the window's first
# paint and quits: the time a user waits to see the graph.
FIRST_PAINT = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
import app.main, app.window

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print("painted", "torch" in sys.modules, flush=True)
            watched.removeEventFilter(self)
            QTimer.singleShot(0, QApplication.quit)
        return False

watcher = FirstPaint()
real_show = app.window.MainWindow.show
def show(window):
    window.view.viewport().installEventFilter(watcher)
    real_show(window)
app.window.MainWindow.show = show
sys.exit(app.main.main([]))
"""


def seconds(command: list[str], expect: str | None = None) -> tuple[float, str]:
    """Wall seconds until `command` exits, and what it printed (which must hold `expect`). Bytecode
    is written and reused, as on a user's machine (some sandboxes set PYTHONDONTWRITEBYTECODE, and
    compiling every module then costs more than the rest of the start)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BACKPROP_RECOVERY_DIR"] = RECOVERY
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    if expect is not None and expect not in done.stdout:
        raise SystemExit(f"{' '.join(command[:3])}: printed no {expect!r} line")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (median)")
    parser.add_argument("--quick", action="store_true", help="one run of each (a smoke test)")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table between bench:startup markers"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    if runs < 1:
        parser.error("--runs must be at least 1")
    graphcore = [sys.executable, "-m", "graphcore"]
    figures = {
        "window painted (backprop-studio, default example)": [sys.executable, "-c", FIRST_PAINT],
        "graphcore --help": [*graphcore, "--help"],
        f"graphcore check {EXAMPLE.name}": [*graphcore, "check", str(EXAMPLE)],
    }
    if args.markdown:
        print("<!-- bench:startup:begin -->")
    print(f"Fresh processes, {runs} of each after one that writes the bytecode:\n")
    print("| command | median s | min s | max s |\n|---|---|---|---|")
    torch_before_paint = False
    for name, command in figures.items():
        seconds(command)  # a first start writes the bytecode; a user's every later start reuses it
        times = []
        for _ in range(runs):
            elapsed, out = seconds(command, "painted" if "painted" in name else None)
            times.append(elapsed)
            torch_before_paint |= "painted True" in out
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |")
    print(f"\ntorch imported before the first paint: {'yes' if torch_before_paint else 'no'}")
    if args.markdown:
        print("<!-- bench:startup:end -->")


if __name__ == "__main__":
    main()
