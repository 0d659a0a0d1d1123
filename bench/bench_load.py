"""Loading benchmark: read, check and validate generated graphs of 1,000, 10,000 and 50,000 nodes.
Numbers go to docs/benchmarks.md, section "Loading".

    python bench/bench_load.py                # 1k, 10k, 50k nodes
    python bench/bench_load.py --nodes 8000 16000 32000
    python bench/bench_load.py --quick        # 200 nodes once: a smoke run
    python bench/bench_load.py --markdown     # the table between the markers python -m bench --write-docs reads

Target from issue 12: a 50,000-node file loads and validates in under 2 s, and the time grows
linearly with the size (it was quadratic: 8,000 nodes 0.94 s, 16,000 3.0 s, 32,000 10.6 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphcore.files.fileformat import load, save  # noqa: E402
from graphcore.graph import Graph, Node, PortRef  # noqa: E402
from graphcore.registry import load_library  # noqa: E402
from graphcore.validate import validate  # noqa: E402


def chain_of_layers(nodes: int) -> Graph:
    """An Input, then Linear/Tanh pairs with a skip connection (add) every few nodes: a deep MLP."""
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": ["N", 8]}, pos=(0.0, 0.0)))
    last, skip = "x", "x"
    for i in range(1, nodes):
        kind = ("Linear", "tanh", "add")[i % 3]
        node_id = f"n{i}"
        params = {"in_features": 8, "out_features": 8} if kind == "Linear" else {}
        graph.add_node(Node(node_id, kind, params, pos=(float(i % 200) * 200, float(i // 200) * 120)))
        if kind == "add":
            graph.connect(PortRef(last, "out"), PortRef(node_id, "a"))
            graph.connect(PortRef(skip, "out"), PortRef(node_id, "b"))
            skip = node_id
        else:
            graph.connect(PortRef(last, "out"), PortRef(node_id, "x"))
        last = node_id
    return graph


def measure(nodes: int, repeats: int) -> tuple[float, float, float, int]:
    """Median CPU seconds of load() and of load() + validate(), the median wall seconds of both, and
    the file's size in bytes. CPU time is the figure to read: on a shared machine the wall time
    mostly measures the other work."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.json"
        save(chain_of_layers(nodes), path)
        loads, totals, walls = [], [], []
        for _ in range(repeats):
            wall, start = time.perf_counter(), time.process_time()
            graph = load(path)
            loaded = time.process_time()
            report = validate(graph)
            totals.append(time.process_time() - start)
            walls.append(time.perf_counter() - wall)
            loads.append(loaded - start)
            assert report.ok, report.diagnostics[:3]
            del graph, report  # freed here, not inside the next measurement
        return (
            statistics.median(loads),
            statistics.median(totals),
            statistics.median(walls),
            path.stat().st_size,
        )


def machine_speed() -> str:
    """The load average and the CPU time of an empty 10-million-step loop (about 0.2 s on a quiet
    core): on a shared machine CPU seconds stretch with the other work, and this says by how much."""
    start = time.process_time()
    for _ in range(10_000_000):
        pass
    loop = time.process_time() - start
    return f"load average {os.getloadavg()[0]:.1f}; an empty 10M-step loop took {loop:.2f} CPU s"


def table(nodes: list[int], repeats: int) -> str:
    """The figures as a markdown table, with how fast the machine was before and after."""
    lines = [
        f"Machine speed before: {machine_speed()}.\n",
        "| nodes | file MB | load CPU s | load + validate CPU s | load + validate wall s | CPU µs per node |",
        "|---|---|---|---|---|---|",
    ]
    for count in nodes:
        loaded, total, wall, size = measure(count, repeats)
        lines.append(
            f"| {count:,} | {size / 2**20:.1f} | {loaded:.3f} | {total:.3f} | {wall:.3f} "
            f"| {total / count * 1e6:.0f} |"
        )
    lines.append(f"\nMachine speed after: {machine_speed()}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 nodes, once: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print the table between bench:load markers")
    args = parser.parse_args()
    if min(args.nodes) < 1 or args.repeats < 1:
        parser.error("--nodes and --repeats must be at least 1")
    load_library()
    nodes, repeats = ([200], 1) if args.quick else (args.nodes, args.repeats)
    result = table(nodes, repeats)
    print(f"<!-- bench:load:begin -->\n{result}\n<!-- bench:load:end -->" if args.markdown else result)


if __name__ == "__main__":
    main()
