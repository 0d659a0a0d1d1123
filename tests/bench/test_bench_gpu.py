"""The GPU benchmark runs end to end on the CPU at tiny sizes: a smoke test, not a timing. Its
torch.compile rows are skipped there with their reason, and every other row has its numbers."""

import re
import sys
from pathlib import Path

from bench_script import run_script

ROOT = Path(__file__).parents[2]
NUMBER = r"\*{0,2}\d+\.\d+\*{0,2}"


def test_bench_gpu_quick_on_the_cpu_prints_every_row_between_its_markers():
    done = run_script("bench_gpu.py", "--quick", "--device", "cpu", "--markdown")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "<!-- bench:gpu:begin -->" and lines[-1] == "<!-- bench:gpu:end -->"
    assert "torch " in lines[1] and "device cpu" in lines[1]
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and " | " in line][1:]
    assert [(cells[0].split()[1], cells[1]) for cells in rows] == [
        (model, variant)
        for variant in ("eager fp32", "eager bf16 autocast", "compile fp32", "compile + bf16 autocast")
        for model in ("MLP", "CNN", "transformer")
    ]
    for cells in rows:
        if cells[1].startswith("compile"):
            assert cells[2].startswith("skipped: torch.compile on the CPU"), cells
        else:
            assert all(re.fullmatch(NUMBER, cell) for cell in cells[2:7]), cells


def test_an_unknown_model_is_a_usage_error():
    done = run_script("bench_gpu.py", "--models", "mlp,rnn", timeout=120)
    assert done.returncode == 2 and "--models: no model rnn" in done.stderr


def test_each_hand_written_module_has_the_generated_modules_parameters():
    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_models import CASES

    from graphcore.program import lower
    from graphcore.runtime import Runtime

    for make in CASES.values():
        case = make(True)
        generated = Runtime(lower(case.graph), dtype="float32", outputs=["loss.out"]).module
        shapes = [sorted(tuple(p.shape) for p in m.parameters()) for m in (generated, case.hand_written())]
        assert shapes[0] == shapes[1], case.name
