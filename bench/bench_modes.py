"""Forward vs reverse mode on f: Rⁿ → R, n = 1 … 4096: the cost of derivatives, measured.

Run:  python bench/bench_modes.py [--repeats 5]    (--quick: n = 1 and 4, once; --markdown: the table
between the markers `python -m bench --write-docs` reads)
For each n: one reverse pass relative to one forward evaluation (the "cheap gradient" ratio, which
stays a small constant), and the forward-mode gradient (n JVP passes) relative to the reverse-mode
gradient (one VJP pass), which grows with n. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import date

import torch

from graphcore.derivatives.api import jacobian
from graphcore.derivatives.autodiff import reverse_sweep, trace_forward
from graphcore.derivatives.paths import mlp_family_graph
from graphcore.files.fileformat import loads
from graphcore.interpreter import Evaluator
from graphcore.program import lower
from graphcore.registry import load_library
from graphcore.runtime import Runtime
from graphcore.schedule import backward_schedule

SIZES = (1, 4, 16, 64, 256, 1024, 4096)


def scalar_function(n: int) -> Runtime:
    graph = mlp_family_graph(n, 1, hidden=64)
    graph["nodes"].append({"id": "f", "type": "sum"})
    graph["edges"].append({"from": "fc2.out", "to": "f.x"})
    return Runtime(lower(loads(json.dumps(graph))), dtype="float64", device="cpu")


def median_time(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(n: int, repeats: int) -> tuple[int, float, float, float, float, float]:
    runtime = scalar_function(n)
    trace = trace_forward(runtime)
    steps = backward_schedule(runtime.program, "f.out", ["x"])
    seed = torch.ones((), dtype=torch.float64)

    def reverse_pass() -> None:
        reverse_sweep(runtime.program, trace, "f.out", seed, steps=steps)

    evaluation = median_time(lambda: Evaluator(runtime).run(), repeats)
    reverse = median_time(reverse_pass, repeats)
    reverse_gradient = median_time(lambda: jacobian(runtime, ["f.out"], ["x.out"], "reverse", trace), repeats)
    forward_gradient = median_time(
        lambda: jacobian(runtime, ["f.out"], ["x.out"], "forward", trace), max(1, repeats if n <= 256 else 1)
    )
    x = runtime.inputs["x"].clone().requires_grad_(True)
    module_forward = median_time(lambda: runtime.module(x), repeats * 10)
    module_backward = median_time(lambda: torch.autograd.grad(runtime.module(x), x), repeats * 10)
    return (
        n,
        reverse / evaluation,
        forward_gradient / reverse_gradient,
        forward_gradient * 1e3,
        reverse_gradient * 1e3,
        module_backward / module_forward,
    )


def table(sizes: tuple[int, ...], repeats: int) -> str:
    lines = [
        "| n | reverse pass / forward evaluation | forward-mode gradient / reverse-mode gradient "
        "| forward-mode gradient ms (n passes) | reverse-mode gradient ms (1 pass) "
        "| torch autograd: forward+backward / forward |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        n, ratio_pass, ratio_modes, forward_ms, reverse_ms, torch_ratio = row(size, repeats)
        lines.append(
            f"| {n} | {ratio_pass:.2f} | {ratio_modes:.1f} | {forward_ms:.2f} | {reverse_ms:.2f} "
            f"| {torch_ratio:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="n = 1 and 4, once: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print the table between bench:modes markers")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: must be at least 1")
    load_library()
    sizes, repeats = ((1, 4), 1) if args.quick else (SIZES, args.repeats)
    result = table(sizes, repeats)
    if args.markdown:
        print(f"<!-- bench:modes:begin -->\n{result}\n<!-- bench:modes:end -->")
        return
    print(
        f"### {date.today()} — {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, float64, CPU\n"
    )
    print(result)


if __name__ == "__main__":
    main()
