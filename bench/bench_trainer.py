"""Trainer.step against a plain PyTorch loop doing the same work, and stepping against eager torch.

Run:  python bench/bench_trainer.py [--rounds 15] [--steps 20] [--device cpu|cuda] [--threads N] [--quick]
The plain loop trains a copy of the Trainer's own generated module on the same batches (the same
shuffle, drawn from the same seed), with the same optimizer and schedule, clipping when the section
asks, and reads its losses once at the end of each block, as a tight hand-written loop would. The
two run in interleaved blocks in one process (the order alternating), and the ratio is the median
of the per-block ratios: on a shared, loaded machine only such paired ratios mean anything. On the
CPU with `--threads 1` the blocks are timed in the process's CPU time, which other processes' load
barely moves (the steadiest figure on a loaded machine); otherwise in wall-clock time.
The second table times the stepping engine's backward step of each node (its local VJP) against
that node's own eager forward + backward. `--quick` runs everything once on tiny sizes (a smoke
test for CI: it checks the benchmark runs, not how fast).
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_fastpath, run as a script or from a test
from bench_fastpath import mlp_graph, stepping_per_node  # noqa: E402

from graphcore.files.fileformat import load  # noqa: E402
from graphcore.graph import Graph  # noqa: E402
from graphcore.training.optimizers import make_optimizer, make_schedule  # noqa: E402
from graphcore.training.train import Trainer  # noqa: E402

EXAMPLES = Path(__file__).parents[1] / "examples"


def mlp(quick: bool) -> Graph:
    """The MLP 2-512-512-10 of issue 16 at batch 256 (2-16-16-10 at batch 16 when quick)."""
    width, batch = (16, 16) if quick else (512, 256)
    graph = mlp_graph([2, width, width, 10])
    graph.training = {
        "dataset": {"name": "blobs", "n": batch * 8, "centers": 10, "labels": "onehot"},
        "inputs": {"x": "x", "target": "y"},
        "loss": "loss.out",
        "batch_size": batch,
        "optimizer": {"name": "sgd", "lr": 0.01},
    }
    return graph


def models(quick: bool) -> list[tuple[str, Graph, dict[str, Any]]]:
    small = {"batch_size": 4} if quick else {}
    return [
        ("MLP 2-512-512-10, batch 256, SGD" if not quick else "MLP (quick)", mlp(quick), {}),
        ("cnn_bars_stripes, batch 32, Adam", load(EXAMPLES / "cnn_bars_stripes.json"), small),
        ("gru_sequence_sign, batch 32, Adam", load(EXAMPLES / "gru_sequence_sign.json"), small),
    ]


class ShuffledBatches:
    """Batch indices as the Trainer draws them: a fresh permutation from a seeded generator each
    epoch, cut into batches in order (a short last batch included)."""

    def __init__(self, n: int, batch_size: int, device: torch.device, seed: int) -> None:
        self.n, self.batch_size, self.device = n, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.cursor = torch.empty(0), n

    def next(self) -> torch.Tensor:
        if self.cursor >= self.n:
            self.order = torch.randperm(self.n, generator=self.generator).to(self.device)
            self.cursor = 0
        index = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return index


class PlainLoop:
    """A hand-written loop over a copy of the trainer's module, fed the trainer's batches."""

    def __init__(self, trainer: Trainer) -> None:
        config, objective = trainer.config, trainer.config.lead
        self.module = copy.deepcopy(trainer.module)
        self.parameters = list(self.module.parameters())
        self.optimizer = make_optimizer(objective.optimizer, self.parameters)
        self.scheduler = make_schedule(objective.schedule, self.optimizer, trainer.total_steps)
        self.clip = config.clip_grad_norm
        generated = trainer.runtime.generated
        self.constants = dict(trainer.runtime.inputs)
        self.order_of_inputs = list(generated.inputs)
        self.loss_index = list(generated.outputs).index(config.loss)
        self.data = trainer.train_data
        n = len(next(iter(self.data.values())))
        self.batches = ShuffledBatches(n, config.batch_size, trainer.device, config.seed)
        self.several_outputs = len(generated.outputs) > 1

    def steps(self, count: int) -> list[float]:
        losses = []
        for _ in range(count):
            index = self.batches.next()
            feed = {**self.constants, **{node: tensor[index] for node, tensor in self.data.items()}}
            self.optimizer.zero_grad(set_to_none=True)
            out = self.module(*(feed[node] for node in self.order_of_inputs))
            loss = out[self.loss_index] if self.several_outputs else out
            loss.backward()
            if self.clip:
                torch.nn.utils.clip_grad_norm_(self.parameters, self.clip)
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            losses.append(loss.detach())
        return torch.stack(losses).tolist()


def trainer_steps(trainer: Trainer, count: int) -> list[float]:
    for _ in range(count):
        trainer.step()
    records, _ = trainer.settle()
    return [record.losses[trainer.config.lead.name] for record in records]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def paired(
    first: Callable[[], Any], second: Callable[[], Any], rounds: int, device: Any
) -> tuple[list[float], list[list[float]]]:
    """first/second time ratio of each round, and each one's seconds per round, run alternately
    first then second, then second then first."""
    # CPU time only with one thread: more threads spin while they wait, and that CPU time swamps the step
    one_thread = device.type == "cpu" and torch.get_num_threads() == 1
    clock = time.process_time if one_thread else time.perf_counter
    times: list[list[float]] = [[], []]
    for round_index in range(rounds):
        order = [(0, first), (1, second)] if round_index % 2 == 0 else [(1, second), (0, first)]
        for which, run in order:
            sync(device)
            start = clock()
            run()
            sync(device)
            times[which].append(clock() - start)
    return [a / b for a, b in zip(*times, strict=True)], times


def trainer_row(name: str, graph: Graph, overrides: dict[str, Any], args: argparse.Namespace) -> str:
    trainer = Trainer(graph, EXAMPLES, {**overrides, "device": args.device, "steps": 10**6})
    plain = PlainLoop(trainer)
    same = trainer_steps(trainer, 3) == plain.steps(3)  # same module, batches and optimizer: same losses
    warm = 1 if args.quick else max(2, args.rounds // 5)
    paired(lambda: trainer_steps(trainer, args.steps), lambda: plain.steps(args.steps), warm, trainer.device)
    ratios, (ours, theirs) = paired(
        lambda: trainer_steps(trainer, args.steps),
        lambda: plain.steps(args.steps),
        args.rounds,
        trainer.device,
    )
    per_step = [statistics.median(t) * 1e3 / args.steps for t in (ours, theirs)]
    ratio = statistics.median(ratios)
    low, high = (statistics.quantiles(ratios, n=4)[i] for i in (0, 2)) if len(ratios) > 1 else (ratio, ratio)
    return (
        f"| {name} | {per_step[0]:.3f} | {per_step[1]:.3f} | **{ratio:.3f}** | {low:.3f}–{high:.3f} "
        f"| {'yes' if same else 'NO'} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="paired blocks per model")
    parser.add_argument("--steps", type=int, default=20, help="training steps per block")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="each once, tiny sizes: a smoke test")
    parser.add_argument(
        "--markdown", action="store_true", help="print the tables between bench:trainer markers"
    )
    parser.add_argument(
        "--threads", type=int, help="torch's CPU threads (1 steadies the ratios on a loaded machine)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.rounds, args.steps = 1, 2
    torch.manual_seed(0)
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    if args.device.startswith("cuda"):
        machine += f", {torch.cuda.get_device_name(args.device)}"
    if args.markdown:
        print("<!-- bench:trainer:begin -->")
    print(f"### {date.today()} — {machine}, device {args.device}\n")
    print(f"Trainer.step against a plain loop, {args.rounds} paired blocks of {args.steps} steps:\n")
    print("| model | Trainer ms/step | plain loop ms/step | ratio (median) | ratio IQR | same losses |")
    print("|---|---|---|---|---|---|")
    for name, graph, overrides in models(args.quick):
        print(trainer_row(name, graph, overrides, args), flush=True)
    print("\nStepping, per node: the forward step (its VJP traced) + the backward step, against the")
    print("node's own eager forward + backward (medians of interleaved runs, batch 32):\n")
    print("| graph | node | stepping µs | eager µs | ratio |")
    print("|---|---|---|---|---|")
    for name, graph, _ in models(args.quick):
        if name.startswith("MLP"):
            graph = mlp_graph([2, 16, 16, 10] if args.quick else [64, 64, 64, 10])
            name = "MLP 64-64-64-10"
        for node, ours, eager in stepping_per_node(graph, 1 if args.quick else 20, args.device):
            print(f"| {name.split(',')[0]} | {node} | {ours:.0f} | {eager:.0f} | {ours / eager:.1f}× |")
    if args.markdown:
        print("<!-- bench:trainer:end -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
