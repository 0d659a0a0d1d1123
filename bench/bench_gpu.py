"""The fast path and the Trainer against hand-written torch on a GPU: eager and compiled, fp32 and autocast.

Run:  python bench/bench_gpu.py [--device cuda|cpu] [--models mlp,cnn,transformer] [--rounds 7]
      [--steps 10] [--autocast bf16|fp16] [--time-limit SECONDS] [--quick] [--markdown]
Three models sized to load a card (bench/gpu_models.py) are trained three ways on the same data with
the same Adam settings: (a) the fast path, a hand-written loop over a copy of the Trainer's generated
module; (b) Trainer.step, with its batch indexing, checkpoints and deferred NaN watch; (c) the same
hand-written loop over the module an engineer would write. Each in four variants: eager fp32, eager
autocast, torch.compile fp32, torch.compile + autocast (the Trainer through its `precision` and
`compile` keys). Warm-up steps (where torch.compile compiles) run before the timed region; then the
three run in blocks of `--steps` steps, in an order that rotates each round, with the device
synchronized around each block and the losses read once per block. ms/step are medians of blocks;
ratios are medians of each round's ratio to (c). fp32 is torch's default: TF32 matmuls off.
On the CPU, torch.compile builds C++: without a compiler, or under --quick (minutes of compiling
for a smoke test), its rows say why they are skipped. The eager rows run first, so that a
--time-limit (a short lease of a GPU) cuts compiled rows, each saying so. A variant that fails says
so in its row, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import copy
import gc
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # siblings, run as a script or from a test
from bench_trainer import ShuffledBatches, sync, trainer_steps  # noqa: E402
from gpu_models import CASES, LEARNING_RATE, Case  # noqa: E402

from graphcore.training.checks import TrainingConfigError  # noqa: E402
from graphcore.training.performance import autocast, check_compiler, check_precision  # noqa: E402
from graphcore.training.train import Trainer  # noqa: E402


@dataclass(frozen=True)
class Variant:
    name: str
    precision: str  # fp32, bf16 or fp16
    compile: bool


class Loop:
    """A hand-written training loop: shuffled batches drawn on the device, zero_grad, forward under
    autocast, backward (scaled for fp16), Adam step, losses kept on the device until `steps` ends."""

    def __init__(
        self,
        module: torch.nn.Module,
        inputs: Sequence[str],
        data: Mapping[str, torch.Tensor],
        batch_size: int,
        variant: Variant,
        device: torch.device,
    ) -> None:
        self.module, self.inputs, self.data = module, list(inputs), data
        self.forward: Callable[..., Any] = torch.compile(module) if variant.compile else module
        self.optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE)
        self.scaler = torch.amp.GradScaler(device.type) if variant.precision == "fp16" else None
        self.precision, self.device = variant.precision, device
        self.batches = ShuffledBatches(len(next(iter(data.values()))), batch_size, device, seed=0)

    def steps(self, count: int) -> list[float]:
        losses = []
        for _ in range(count):
            index = self.batches.next()
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(self.precision, self.device):
                loss = self.forward(*(self.data[name][index] for name in self.inputs))
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            losses.append(loss.detach())
        return torch.stack(losses).float().tolist()


def rotated(runs: Sequence[Callable[[], Any]], rounds: int, device: torch.device) -> list[list[float]]:
    """Seconds of each run in each round; the order rotates each round, so that drift in the
    machine's state (clocks, other load) falls on every run alike."""
    seconds: list[list[float]] = [[] for _ in runs]
    for round_index in range(rounds):
        for offset in range(len(runs)):
            which = (round_index + offset) % len(runs)
            sync(device)
            start = time.perf_counter()
            runs[which]()
            sync(device)
            seconds[which].append(time.perf_counter() - start)
    return seconds


def skip_reason(variant: Variant, device: torch.device, quick: bool) -> str | None:
    """Why this variant cannot run here (None when it can)."""
    try:
        check_precision(variant.precision, device, torch.float32)
        if variant.compile:
            check_compiler(device)
    except TrainingConfigError as error:
        return str(error)
    if variant.compile and device.type == "cpu" and quick:
        return "torch.compile on the CPU builds C++ for minutes, too long for a --quick smoke run"
    return None


def dataset_section(case: Case, folder: Path) -> dict[str, Any]:
    """The case's data as a .npz file the Trainer reads, and the section that points at it."""
    np.savez(folder / "data.npz", **case.data)  # type: ignore[arg-type]  # (a field named allow_pickle)
    fields = {
        name: {"array": name, "dtype": "long" if array.dtype.kind in "iu" else "float"}
        for name, array in case.data.items()
    }
    return {"name": "file", "path": "data.npz", "fields": fields}


class TrainerRun:
    """Trainer.step `count` times, then its losses read (one settle, as the app reads them)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def steps(self, count: int) -> list[float]:
        return trainer_steps(self.trainer, count)


@dataclass
class Measured:
    ms_per_step: list[float]  # fast path, Trainer, hand-written
    ratios: list[float]  # fast / hand, Trainer / hand (medians of the rounds' ratios)
    warm_up_s: list[float]  # the warm-up steps' wall time (torch.compile compiles in them)


def measure(case: Case, variant: Variant, args: argparse.Namespace, folder: Path) -> Measured:
    device = torch.device(args.device)
    if variant.compile:
        torch._dynamo.reset()  # each variant compiles afresh (the on-disk caches stay, as for any user)
    graph = copy.deepcopy(case.graph)
    graph.training = {**graph.training, "dataset": dataset_section(case, folder)}
    overrides = {
        "device": args.device,
        "batch_size": case.batch_size,
        "steps": 10**6,
        "precision": variant.precision,
        "compile": variant.compile,
    }
    trainer = Trainer(graph, folder, overrides)
    torch.manual_seed(0)
    data, batch = trainer.train_data, case.batch_size
    inputs = trainer.runtime.generated.inputs
    runs: list[Loop | TrainerRun] = [
        Loop(copy.deepcopy(trainer.module), inputs, data, batch, variant, device),
        TrainerRun(trainer),
        Loop(case.hand_written().to(device), ("x", "y"), data, batch, variant, device),
    ]
    warm_up = [seconds[0] for seconds in rotated([partial(r.steps, args.warmup) for r in runs], 1, device)]
    seconds = rotated([partial(r.steps, args.steps) for r in runs], args.rounds, device)
    per_step = [statistics.median(s) * 1e3 / args.steps for s in seconds]
    ratios = [statistics.median(a / c for a, c in zip(seconds[i], seconds[2], strict=True)) for i in (0, 1)]
    return Measured(per_step, ratios, warm_up)


def row(case: Case, variant: Variant, args: argparse.Namespace, late: bool) -> tuple[str, bool]:
    """The variant's table row, and whether it went as planned (a skipped one did; a failed one did
    not). `late`: the --time-limit has passed, and the variant is skipped."""
    device = torch.device(args.device)
    reason = skip_reason(variant, device, args.quick)
    if late:
        reason = f"the --time-limit of {args.time_limit:g} s had passed"
    if reason is not None:
        return f"| {case.name} | {variant.name} | skipped: {reason} | | | | | |", True
    try:
        with tempfile.TemporaryDirectory() as folder:
            measured = measure(case, variant, args, Path(folder))
    except Exception as error:  # noqa: BLE001 - one variant's failure is reported in its row
        first = (str(error).strip().splitlines() or [""])[0][:300]
        return f"| {case.name} | {variant.name} | failed: {type(error).__name__}: {first} | | | | | |", False
    finally:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    fast, trainer, hand = (f"{ms:.3f}" for ms in measured.ms_per_step)
    ratios = " | ".join(f"**{ratio:.3f}**" for ratio in measured.ratios)
    warm = " / ".join(f"{s:.1f}" for s in measured.warm_up_s)
    return f"| {case.name} | {variant.name} | {fast} | {trainer} | {hand} | {ratios} | {warm} |", True


def variants(autocast_type: str) -> list[Variant]:
    return [
        Variant("eager fp32", "fp32", False),
        Variant(f"eager {autocast_type} autocast", autocast_type, False),
        Variant("compile fp32", "fp32", True),
        Variant(f"compile + {autocast_type} autocast", autocast_type, True),
    ]


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}"
    else:
        where = f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads"
    return f"{where}, torch {torch.__version__}, device {device}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default=",".join(CASES), help=f"some of {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds of blocks per variant")
    parser.add_argument("--steps", type=int, default=10, help="training steps per block")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps each first (compiling)")
    parser.add_argument("--autocast", choices=("bf16", "fp16"), default="bf16", help="fp16 scales losses")
    parser.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="skip the variants not begun by then (a lease)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one block of one step: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print the table between bench:gpu markers")
    args = parser.parse_args(argv)
    names = args.models.split(",")
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"--models: no model {', '.join(unknown)} (there are {', '.join(CASES)})")
    args.models = names
    if min(args.rounds, args.steps, args.warmup) < 1:
        parser.error("--rounds, --steps and --warmup must be at least 1")
    if args.quick:
        args.rounds, args.steps, args.warmup = 1, 1, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    device = torch.device(args.device)
    if args.markdown:
        print("<!-- bench:gpu:begin -->")
    print(f"### {date.today()} — {machine(device)}\n")
    print(
        f"Adam, {args.rounds} rotated rounds of {args.steps}-step blocks after {args.warmup} warm-up steps; "
        "ratios are to the hand-written module (below 1: faster than it):\n"
    )
    print(
        "| model | variant | fast path ms/step | Trainer ms/step | hand-written ms/step | fast / hand "
        "| Trainer / hand | warm-up s (fast / Trainer / hand) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    all_ran, start = True, time.monotonic()
    cases = [CASES[name](args.quick) for name in args.models]
    for variant in variants(args.autocast):  # the eager rows first: a --time-limit cuts compiled ones
        for case in cases:
            late = args.time_limit is not None and time.monotonic() - start > args.time_limit
            line, ran = row(case, variant, args, late)
            print(line, flush=True)
            all_ran &= ran
    if args.markdown:
        print("<!-- bench:gpu:end -->")
    return 0 if all_ran else 1


if __name__ == "__main__":
    sys.exit(main())
