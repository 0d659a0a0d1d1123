"""The Trainer benchmark runs end to end (tiny sizes, once each): a smoke test, not a timing."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_bench_trainer_quick_prints_its_tables():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_trainer.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert (
        "| model | Trainer ms/step | plain loop ms/step | ratio (median) | ratio IQR | same losses |" in lines
    )
    rows = [line for line in lines if line.startswith(("| MLP", "| cnn_bars_stripes", "| gru_sequence_sign"))]
    assert len(rows) == 3 and all(row.endswith("| yes |") for row in rows)
