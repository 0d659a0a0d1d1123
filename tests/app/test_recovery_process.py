"""The real app in a subprocess: an edit survives kill -9 (the next start restores it), and SIGTERM
ends the app cleanly with the unsaved work kept in the platform's app-data folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.main import EXAMPLES

pytestmark = pytest.mark.slow  # each test starts the real app in a process (Qt, torch) and kills it

ROOT = Path(__file__).resolve().parents[2]
LABEL = "edited before the end"

# MODE FILE OUT: `edit` makes one edit and writes OUT; `report` answers the restore question with
# Restore and writes what the window shows to OUT, then closes it.
DRIVER = """
import json, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

qt_app = QApplication(sys.argv[:1])
import app.main, app.recovery
from app.window import MainWindow

mode, file, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if mode == "edit-no-autosave":
    app.recovery.DELAY_MS = 3_600_000  # only the signal handler can write the recovery file

def window():
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))

def edit():
    window().controller.set_label("t", LABEL)
    out.write_text("edited")

def report():
    w = window()
    node = w.document.graph.node("t") if "t" in w.document.graph else None
    out.write_text(json.dumps({"title": w.windowTitle(), "label": node and node.label, "path": str(w.document.path)}))
    w.ask_save_changes = lambda: "discard"
    w.close()

MainWindow.ask_restore = lambda self, recovered: "restore"
QTimer.singleShot(0, report if mode == "report" else edit)
sys.exit(app.main.main([file] if file else []))
""".replace("LABEL", repr(LABEL))


@pytest.fixture
def start(tmp_path: Path) -> Callable[..., subprocess.Popen[str]]:
    """Start the app with its own home, config, data and runtime folders under tmp_path."""
    homes = {name: tmp_path / name for name in ("home", "config", "data", "cache", "runtime")}
    for folder in homes.values():
        folder.mkdir(mode=0o700)
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "BACKPROP_"))}
    env.update(
        HOME=str(homes["home"]),
        XDG_CONFIG_HOME=str(homes["config"]),
        XDG_DATA_HOME=str(homes["data"]),
        XDG_CACHE_HOME=str(homes["cache"]),
        XDG_RUNTIME_DIR=str(homes["runtime"]),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=str(ROOT),
    )

    def run(mode: str, file: Path | None, out: Path, recovery: Path | None = None) -> subprocess.Popen[str]:
        extra = {"BACKPROP_RECOVERY_DIR": str(recovery)} if recovery else {}
        return subprocess.Popen(
            [sys.executable, str(tmp_path / "driver.py"), mode, str(file or ""), str(out)],
            env={**env, **extra},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    return run


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], seconds: float = 90) -> None:
    """Poll (no fixed sleeps): the app starts in a few seconds here, far longer on a busy machine."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the app ended early ({process.returncode}):\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"gave up waiting:\n{process.communicate()[0]}")
        time.sleep(0.05)


def holding_the_edit(folder: Path) -> list[Path]:
    found = []
    for file in folder.rglob("*.json") if folder.exists() else ():
        try:
            graph = json.loads(file.read_text(encoding="utf-8"))["graph"]
        except (OSError, ValueError, KeyError):
            continue  # being written
        if any(n.get("label") == LABEL for n in graph["nodes"]):
            found.append(file)
    return found


def test_kill_9_then_the_next_start_restores_the_edit(start, tmp_path: Path):
    document = tmp_path / "neuron.json"
    shutil.copy(EXAMPLES / "sigmoid_neuron.json", document)
    recovery, out = tmp_path / "recovery", tmp_path / "out.txt"
    app = start("edit", document, out, recovery)
    wait_for(lambda: bool(holding_the_edit(recovery)), app)
    app.send_signal(signal.SIGKILL)
    app.communicate(timeout=30)  # its output ends: the training process it started died with it
    assert app.returncode == -signal.SIGKILL
    assert len(holding_the_edit(recovery)) == 1

    again = start("report", None, out, recovery)
    output = again.communicate(timeout=120)[0]
    assert again.returncode == 0, output
    shown = json.loads(out.read_text())
    assert shown == {"title": "neuron.json* — Backprop Studio", "label": LABEL, "path": str(document)}
    assert list(recovery.glob("*.json")) == []  # restored, then discarded on purpose


def test_sigterm_keeps_the_work_and_exits_cleanly(start, tmp_path: Path):
    """SIGINT takes the same path (app.main.on_signals; test_recovery.py sends one in-process)."""
    signum, out = signal.SIGTERM, tmp_path / "out.txt"
    app = start("edit-no-autosave", EXAMPLES / "sigmoid_neuron.json", out)
    wait_for(out.exists, app)
    app.send_signal(signum)
    output = app.communicate(timeout=60)[0]
    assert app.returncode == 128 + signum, output
    assert "Traceback" not in output
    kept = holding_the_edit(tmp_path / "data")  # QStandardPaths' app-data folder under XDG_DATA_HOME
    assert len(kept) == 1 and kept[0].parent.name == "recovery"
