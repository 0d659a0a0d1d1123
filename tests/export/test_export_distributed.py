"""The exported training script under torchrun: DistributedDataParallel over 2 CPU processes (gloo).

XOR has 4 samples and a batch of 4: each of 2 processes takes 2 per step, so the averaged gradient is
the full batch's, and the run must match the single-process one up to float rounding.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch.distributed
from export_cases import TRAINED, load_file, losses_printed, write_export

from graphcore.files.fileformat import load

STEPS = 20
# a rank's C++ std::terminate inside gloo (SIGABRT, "terminate called without an active exception"),
# seen once in a CI run on a loaded 2-core machine and never in 15 runs since; any other failure fails
GLOO_ABORT = "terminate called without an active exception"


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no torch.distributed with the gloo backend",
)
def test_two_cpu_processes_train_like_one(tmp_path, capsys):
    xor = TRAINED[[p.stem for p in TRAINED].index("xor")]
    path, _ = write_export(load(xor), tmp_path, "xor", train=True)
    flags = ["--steps", str(STEPS), "--device", "cpu"]
    module = load_file(path)  # launched plainly: one process (test_export_training runs it as a script)
    assert module.train(module.parse_args(flags)) == 0
    plain = capsys.readouterr().out
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # --standalone: torchrun finds a free port for the rendezvous itself
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]

    def launch() -> subprocess.CompletedProcess[str]:
        command = [*launcher, path.name, *flags]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)

    distributed = launch()
    if distributed.returncode != 0 and GLOO_ABORT in distributed.stderr:
        distributed = launch()  # gloo's own abort on a loaded machine (seen once in ~20 runs): once more
    assert distributed.returncode == 0, distributed.stderr[-3000:]
    losses = losses_printed(distributed.stdout)
    assert len(losses) == STEPS  # process 0 prints; process 1 is silent
    assert distributed.stdout.count("finished after") == 1
    assert losses == pytest.approx(losses_printed(plain), abs=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xor.py"]
