"""Fast path vs hand-written PyTorch, the stepping engine's cost per node, and grad by mode.

Run:  python bench/bench_fastpath.py [--steps 200] [--device cpu|cuda] [--time-limit SECONDS]
Prints a Markdown table to paste into docs/benchmarks.md. A benchmark, not a test: numbers vary
with the machine, so they are recorded with date and machine rather than asserted.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from graphcore.derivatives.api import jacobian
from graphcore.derivatives.autodiff import trace_forward
from graphcore.files.fileformat import load
from graphcore.graph import Graph, Node, PortRef
from graphcore.program import lower
from graphcore.registry import load_library
from graphcore.runtime import Runtime
from graphcore.schedule import differentiable_nodes
from graphcore.stepping import Stepper

EXAMPLES = Path(__file__).parents[1] / "examples"


def mlp_graph(sizes: list[int]) -> Graph:
    load_library()
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", sizes[0]]}))
    previous = "x.out"
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), 1):
        graph.add_node(Node(f"fc{i}", "Linear", {"in_features": n_in, "out_features": n_out}))
        graph.connect(PortRef.parse(previous), PortRef(f"fc{i}", "x"))
        previous = f"fc{i}.out"
        if i < len(sizes) - 1:
            graph.add_node(Node(f"h{i}", "relu"))
            graph.connect(PortRef.parse(previous), PortRef(f"h{i}", "x"))
            previous = f"h{i}.out"
    graph.add_node(Node("target", "Input", {"shape": ["N", sizes[-1]]}))
    graph.add_node(Node("loss", "MSELoss"))
    graph.connect(PortRef.parse(previous), PortRef("loss", "input"))
    graph.connect(PortRef("target", "out"), PortRef("loss", "target"))
    return graph


class HandWritten(nn.Module):
    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return F.mse_loss(self.layers[-1](x), target)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, t, device) -> float:
    sync(device)
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = model(x, t)
    loss.backward()
    optimizer.step()
    sync(device)
    return time.perf_counter() - start


def fast_path_vs_hand_written(steps: int, device: str) -> tuple[float, float, float]:
    sizes = [784, 512, 512, 10]
    runtime = Runtime(lower(mlp_graph(sizes)), dtype="float32", device=device, batch=256)
    hand = HandWritten(sizes).to(runtime.device)
    x, t = runtime.inputs["x"], runtime.inputs["target"]
    generated = runtime.module
    opt_fast = torch.optim.SGD(generated.parameters(), lr=0.01)
    opt_hand = torch.optim.SGD(hand.parameters(), lr=0.01)
    for _ in range(20):  # warm-up
        timed_step(generated, opt_fast, x, t, runtime.device)
        timed_step(hand, opt_hand, x, t, runtime.device)
    fast, manual = [], []
    for _ in range(steps):  # interleaved, so drift in machine load hits both alike
        fast.append(timed_step(generated, opt_fast, x, t, runtime.device))
        manual.append(timed_step(hand, opt_hand, x, t, runtime.device))
    f, m = statistics.median(fast), statistics.median(manual)
    return f * 1e3, m * 1e3, f / m


def trainer_vs_loop(steps: int, device: str) -> tuple[float, float, float]:
    """graphcore's Trainer (batching, scheduler, deferred NaN watch) against a plain torch loop
    (bench_trainer.py compares it with a loop over the same module, batches and optimizer)."""
    from graphcore.training.train import Trainer

    graph = mlp_graph([784, 512, 512, 10])
    graph.training = {
        "dataset": {"name": "blobs", "n": 256 * 8, "centers": 10, "labels": "onehot"},
        "inputs": {"x": "x", "target": "y"},
        "loss": "loss.out",
        "batch_size": 256,
        "steps": steps + 20,
        "optimizer": {"name": "sgd", "lr": 0.01},
        "device": device,
    }
    graph.node("x").params["shape"] = ["N", 2]
    graph.node("fc1").params["in_features"] = 2
    trainer = Trainer(graph)
    hand = HandWritten([2, 512, 512, 10]).to(trainer.device)
    optimizer = torch.optim.SGD(hand.parameters(), lr=0.01)
    x, t = trainer.train_data["x"], trainer.train_data["target"]
    generator = torch.Generator().manual_seed(0)

    def hand_step() -> float:
        index = torch.randperm(len(x), generator=generator)[:256].to(trainer.device)
        sync(trainer.device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = hand(x[index], t[index])
        loss.backward()
        optimizer.step()
        loss.item()
        return time.perf_counter() - start

    def trainer_step() -> float:
        sync(trainer.device)
        start = time.perf_counter()
        trainer.step()
        return time.perf_counter() - start

    for _ in range(20):
        hand_step(), trainer_step()
    ours, theirs = [], []
    for _ in range(steps):
        ours.append(trainer_step())
        theirs.append(hand_step())
    a, b = statistics.median(ours), statistics.median(theirs)
    return a * 1e3, b * 1e3, a / b


def stepping_cost(repeats: int, device: str) -> tuple[float, float, int]:
    """Per-node time of a full stepper run (forward + backward) vs one fast-path step, small MLP."""
    runtime = Runtime(lower(mlp_graph([64, 64, 64, 10])), dtype="float32", device=device, batch=32)
    nodes = len(runtime.program.instrs)
    stepper_times, fast_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        Stepper(runtime).run()
        stepper_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        runtime.module.zero_grad()
        runtime.forward()["loss.out"].backward()
        fast_times.append(time.perf_counter() - start)
    return statistics.median(stepper_times) * 1e3 / nodes, statistics.median(fast_times) * 1e3, nodes


def _eager_step(instr: Any, module: Any, args: tuple[Any, ...]) -> None:
    """The node's own forward + backward in plain autograd: what a stepping step is measured against."""
    from graphcore.codegen import node_function
    from graphcore.derivatives.autodiff import as_tuple

    leaves = tuple(
        a.detach().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
        for a in args
    )
    outputs = [
        o for o in as_tuple(node_function(instr)(module, *leaves)) if o is not None and o.requires_grad
    ]
    wrt = [a for a in leaves if isinstance(a, torch.Tensor) and a.requires_grad]
    wrt += list(module.parameters()) if module is not None else []
    torch.autograd.grad(outputs, wrt, [torch.ones_like(o) for o in outputs], allow_unused=True)


def _stepping_step(instr: Any, module: Any, args: tuple[Any, ...]) -> None:
    """One node as the stepping engine takes it: the forward step (its VJP traced) and the backward step."""
    from graphcore.derivatives.autodiff import call_with_pullback

    call = call_with_pullback(instr, module, args)
    call.pullback(tuple(torch.ones_like(o) if o is not None else None for o in call.outputs))


def stepping_per_node(graph: Graph, repeats: int, device: str) -> list[tuple[str, float, float]]:
    """(node, stepping µs, eager µs) for each computing node: forward + backward of that node alone,
    timed interleaved, on the values a forward pass gives it."""
    from graphcore.derivatives.autodiff import trace_forward

    runtime = Runtime(lower(graph), dtype="float32", device=device, batch=32)
    values = trace_forward(runtime).values
    rows = []
    for instr in runtime.program:
        if instr.spec.is_source or not any(
            isinstance(values.get(a), torch.Tensor) and values[a].is_floating_point() for a in instr.args if a
        ):
            continue
        args = tuple(values[a] if a else None for a in instr.args)
        module = runtime.module_of(instr)
        times: list[list[float]] = [[], []]
        for index in range(repeats + 2):
            for which, step in enumerate((_stepping_step, _eager_step)):
                start = time.perf_counter()
                step(instr, module, args)
                if index >= 2:  # the first two warm up
                    times[which].append(time.perf_counter() - start)
        ours, eager = (statistics.median(t) * 1e6 for t in times)
        rows.append((f"{instr.node} ({instr.spec.type})", ours, eager))
    return rows


def grad_modes(
    repeats: int, only: tuple[str, ...] = (), deadline: float | None = None
) -> list[tuple[str, str, str, str, str]]:
    """Each example's (or those named in `only`) full Jacobian by reverse and by forward mode:
    (name, ms, ms, passes, passes), "n/a" where a node refuses forward mode (Dropout in training).
    Examples not begun by `deadline` (a time.monotonic() time) are left out."""
    rows = []
    for path in sorted(EXAMPLES.glob("*.json")):
        if only and path.stem not in only:
            continue
        if deadline is not None and time.monotonic() > deadline:
            break
        program = lower(load(path))
        runtime = Runtime(program, dtype="float64", device="cpu")
        of = program.sinks[0]
        trace = trace_forward(runtime)
        wrt = [
            f"{n}.out"
            for n in differentiable_nodes(program)
            if program.by_node[n].spec.is_source and trace.values[f"{n}.out"].is_floating_point()
        ]  # integer labels have no tangent: forward mode cannot seed them
        times = {}
        for name in ("reverse", "forward"):
            samples = []
            try:
                for _ in range(repeats):
                    start = time.perf_counter()
                    result = jacobian(runtime, [of], wrt, name, trace)
                    samples.append(time.perf_counter() - start)
            except NotImplementedError:  # the node's reason is the app's to show; here it has no time
                times[name] = ("n/a", "n/a")
                continue
            times[name] = (f"{statistics.median(samples) * 1e3:.2f}", str(result.passes))
        rows.append(
            (path.stem, times["reverse"][0], times["forward"][0], times["reverse"][1], times["forward"][1])
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="2 steps, 1 repeat, 2 examples: a smoke run")
    parser.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="leave out the examples not begun by then"
    )
    args = parser.parse_args()
    deadline = None if args.time_limit is None else time.monotonic() + args.time_limit
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    steps, repeats = (2, 1) if args.quick else (args.steps, 20)
    torch.manual_seed(0)
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    if args.device.startswith("cuda"):
        machine += f", {torch.cuda.get_device_name()}"
    print(f"### {date.today()} — {machine}, device {args.device}\n")
    fast, hand, ratio = fast_path_vs_hand_written(steps, args.device)
    print("| MLP 784-512-512-10, batch 256, float32, SGD step | median ms |")
    print("|---|---|")
    print(f"| fast path (generated module) | {fast:.3f} |")
    print(f"| hand-written PyTorch | {hand:.3f} |")
    print(f"| ratio fast / hand | **{ratio:.3f}** ({(ratio - 1) * 100:+.1f} %) |\n")
    ours, theirs, ratio = trainer_vs_loop(steps, args.device)
    print("| Trainer.step vs a plain loop (MLP 2-512-512-10, batch 256, float32) | median ms |")
    print("|---|---|")
    print(
        f"| graphcore Trainer.step (batch indexing, scheduler; losses and NaN watch read later) | {ours:.3f} |"
    )
    print(f"| plain PyTorch loop (zero_grad, forward, backward, step, loss.item) | {theirs:.3f} |")
    print(f"| ratio | **{ratio:.3f}** |\n")
    per_node, fast_step, nodes = stepping_cost(repeats, args.device)
    print(
        f"Stepping engine on an MLP 64-64-64-10 ({nodes} nodes, batch 32): {per_node:.3f} ms per node "
        f"(forward + backward step), against {fast_step:.3f} ms for a whole fast-path forward + backward "
        f"({per_node * nodes / fast_step:.1f}× for the whole graph).\n"
    )
    print("| example | reverse ms | forward ms | reverse passes | forward passes |")
    print("|---|---|---|---|---|")
    only = ("path_sum", "xor") if args.quick else ()
    rows = grad_modes(repeats, only, deadline)
    for name, rev, fwd, rp, fp in rows:
        print(f"| {name} | {rev} | {fwd} | {rp} | {fp} |")
    if len(rows) < len(only or list(EXAMPLES.glob("*.json"))):
        print(
            f"\n(The examples after these were left out: the --time-limit of {args.time_limit:g} s had passed.)"
        )


if __name__ == "__main__":
    main()
