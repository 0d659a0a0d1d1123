"""Run every benchmark in bench/ with one command, and rewrite their tables in docs/benchmarks.md.

    python -m bench                         # every bench/bench_*.py at its own sizes
    python -m bench --quick                 # each once on tiny sizes: a smoke test for CI
    python -m bench --only canvas,load      # some of them (names without "bench_")
    python -m bench --write-docs            # and replace their generated tables in the docs
    python -m bench --only gpu --device cuda --timeout 300   # on a GPU machine, within 5 minutes

Each benchmark runs as its own subprocess (a fresh interpreter, so one crash or leak does not reach
the next), and is reported as ok or failed with the last line of its stderr, and its wall time; the
exit status is 1 when any failed. A benchmark takes part in --quick and --write-docs through its own
`--quick` and `--markdown` flags, found in its --help when it runs, so a benchmark without them still
runs (at its own sizes, its tables left alone) and the report says so. With --markdown a benchmark
prints its tables between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` lines; the same
lines in the docs mark what is replaced, with a stamp of date and machine, and the prose around them
stays as written. A benchmark with a `--time-limit` flag is given three quarters of --timeout in it,
and leaves out (saying so in its table) what it has not begun by then.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOCS = ROOT / "docs" / "benchmarks.md"
BLOCK = re.compile(
    r"^<!-- bench:(?P<name>[\w-]+):begin -->\n(?P<body>.*?)^<!-- bench:(?P=name):end -->$",
    re.MULTILINE | re.DOTALL,
)


class UsageError(Exception):
    """A bad command line: one line for the user, exit status 2."""


@dataclass(frozen=True)
class Benchmark:
    name: str  # "canvas" for bench/bench_canvas.py
    script: Path


@dataclass
class Outcome:
    benchmark: Benchmark
    command: list[str]
    ok: bool
    seconds: float
    error: str = ""  # why it failed: the last line of its stderr
    notes: list[str] = field(default_factory=list)  # flags it lacks, tables not written
    stdout: str = ""


def discover(folder: Path = BENCH) -> list[Benchmark]:
    """Every bench_*.py in the folder, by name: a new benchmark takes part without being listed."""
    return [Benchmark(path.stem.removeprefix("bench_"), path) for path in sorted(folder.glob("bench_*.py"))]


def select(benchmarks: list[Benchmark], only: str | None) -> list[Benchmark]:
    """The benchmarks `--only a,b` names, in the order given; every name must be one of them."""
    if only is None:
        return benchmarks
    names = [name.strip() for name in only.split(",")]
    by_name = {b.name: b for b in benchmarks}
    known = ", ".join(by_name)
    if not any(names) or not all(names):
        raise UsageError(f"--only {only!r}: give benchmark names separated by commas (one of: {known})")
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(f"--only: no benchmark named {', '.join(map(repr, unknown))} (there are: {known})")
    return [by_name[name] for name in dict.fromkeys(names)]


def child_env() -> dict[str, str]:
    """The benchmarks import the project from the checkout, and paint offscreen when no display is set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def flags_of(benchmark: Benchmark) -> set[str]:
    """The long options the benchmark's --help lists (empty when --help itself fails)."""
    done = subprocess.run(
        [sys.executable, str(benchmark.script), "--help"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return set(re.findall(r"(?<![\w-])--[a-z][\w-]*", done.stdout)) if done.returncode == 0 else set()


TIME_LIMIT_SHARE = 0.75  # of --timeout, given to a benchmark's --time-limit: it ends its table in time


def command_for(
    benchmark: Benchmark,
    flags: set[str],
    quick: bool,
    markdown: bool,
    device: str | None,
    timeout: float | None = None,
) -> tuple[list[str], list[str]]:
    """The benchmark's command line, and notes on what it could not be asked for. A benchmark that
    takes --time-limit (skipping, with a note in its table, the parts it has not begun by then) gets
    a share of --timeout, so that a slow machine gives a shorter table rather than none."""
    command, notes = [sys.executable, str(benchmark.script)], []
    wanted = [("--quick", quick, "no --quick flag: ran at its own sizes")]
    wanted.append(("--markdown", markdown, "no --markdown flag: its tables in the docs are not rewritten"))
    for flag, asked, missing in wanted:
        if asked and flag in flags:
            command.append(flag)
        elif asked:
            notes.append(missing)
    if device is not None and "--device" in flags:
        command += ["--device", device]
    elif device is not None:
        notes.append(f"no --device flag: ran on its own device, not {device}")
    if timeout is not None and "--time-limit" in flags:
        command += ["--time-limit", f"{timeout * TIME_LIMIT_SHARE:g}"]
    return command, notes


def run_one(command: list[str], timeout: float | None) -> tuple[int | None, str, str, float]:
    """Run one benchmark, echoing its stdout as it comes. (exit status or None on timeout, stdout,
    stderr, wall seconds). stderr goes to a file so that neither pipe can fill and stall the child."""
    lines: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        child = subprocess.Popen(
            command, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=errors, text=True
        )
        watchdog = threading.Timer(timeout, child.kill) if timeout else None
        try:
            if watchdog:
                watchdog.start()
            assert child.stdout is not None
            for line in child.stdout:
                print(f"    {line}", end="", flush=True)
                lines.append(line)
            status = child.wait()
        finally:  # interrupted (Ctrl+C, a closed pipe): the benchmark does not outlive us
            if child.poll() is None:
                child.kill()
                child.wait()
        timed_out = watchdog is not None and not watchdog.is_alive() and status < 0
        if watchdog:
            watchdog.cancel()
        errors.seek(0)
        stderr = errors.read()
    return (None if timed_out else status), "".join(lines), stderr, time.perf_counter() - start


def shown(command: list[str]) -> str:
    """The command as a user in the checkout types it."""
    return " ".join(["python", str(Path(command[1]).relative_to(ROOT)), *command[2:]])


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def all_flags(benchmarks: list[Benchmark]) -> dict[Benchmark, set[str]]:
    """Every benchmark's flags, asked for all at once: each --help starts an interpreter that imports
    what its benchmark imports (seconds for torch or Qt), and they need not wait for each other."""
    with ThreadPoolExecutor(max_workers=max(1, len(benchmarks))) as pool:
        return dict(zip(benchmarks, pool.map(flags_of, benchmarks)))


def run_benchmark(
    benchmark: Benchmark,
    flags: set[str],
    quick: bool,
    markdown: bool,
    device: str | None,
    timeout: float | None,
) -> Outcome:
    command, notes = command_for(benchmark, flags, quick, markdown, device, timeout)
    print(f"{benchmark.name}: {shown(command)}", flush=True)
    status, stdout, stderr, seconds = run_one(command, timeout)
    if status is None:
        error = f"did not finish within {timeout:g} s"
    elif status != 0:
        error = last_line(stderr) or f"exit status {status}"
    else:
        error = ""
    return Outcome(benchmark, command, not error, seconds, error, notes, stdout)


def machine_stamp(device: str | None, quick: bool) -> str:
    """Date, machine and versions, for each table written into the docs."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    where = device or "cpu"
    if where.startswith("cuda"):
        import torch  # only here: the card's name needs it, and importing torch takes seconds

        where += f" ({torch.cuda.get_device_name()})"
    stamp = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), Python {platform.python_version()}, "
        f"torch {torch_version}, device {where}"
    )
    return stamp + (" — quick run: tiny sizes, a smoke test, not figures to compare" if quick else "")


def blocks_in(stdout: str) -> dict[str, str]:
    """The marked blocks a benchmark printed, by name (a benchmark may print several)."""
    return {match["name"]: match["body"] for match in BLOCK.finditer(stdout)}


def replace_block(document: str, name: str, body: str) -> str:
    """The document with the block `name` replaced by `body`; a document without that block gets a new
    section at its end, so that nothing printed is lost."""
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    body = body if body.endswith("\n") else body + "\n"
    for match in BLOCK.finditer(document):
        if match["name"] == name:
            return document[: match.start()] + f"{begin}\n{body}{end}" + document[match.end() :]
    section = f"\n## {name} (generated by `python -m bench --write-docs`)\n\n{begin}\n{body}{end}\n"
    return document.rstrip("\n") + "\n" + section


def write_docs(outcomes: list[Outcome], docs: Path, stamp: str) -> list[str]:
    """Replace the blocks the benchmarks that succeeded printed; the names of the blocks written."""
    document = docs.read_text(encoding="utf-8")
    written = []
    for outcome in outcomes:
        if not outcome.ok:
            continue
        command = shown(outcome.command)
        for name, body in blocks_in(outcome.stdout).items():
            document = replace_block(document, name, f"_{stamp}; `{command}`_\n\n{body}")
            written.append(name)
    docs.write_text(document, encoding="utf-8")
    return written


def summary(outcomes: list[Outcome]) -> str:
    """One line per benchmark (state, name, wall time, why it failed, what it lacks), then the total."""
    width = max(len(o.benchmark.name) for o in outcomes)
    lines = []
    for outcome in outcomes:
        state = "ok" if outcome.ok else "FAILED"
        line = f"{state:<6}  {outcome.benchmark.name:<{width}}  {outcome.seconds:7.1f} s"
        details = ([outcome.error] if outcome.error else []) + outcome.notes
        lines.append(line + ("  " + "; ".join(details) if details else ""))
    failed = sum(not o.ok for o in outcomes)
    total = sum(o.seconds for o in outcomes)
    lines.append(f"{len(outcomes)} benchmarks, {failed} failed, {total:.0f} s")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    parser.add_argument("--quick", action="store_true", help="each benchmark once on tiny sizes")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these benchmarks")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the generated tables in the docs")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the file --write-docs rewrites")
    parser.add_argument("--device", help="passed to the benchmarks that take --device (cpu, cuda)")
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="stop a benchmark that runs longer (default: none)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        benchmarks = select(discover(), args.only)
        if args.write_docs and not args.docs.is_file():
            raise UsageError(f"--docs {args.docs}: no such file to rewrite")
        if args.timeout is not None and not args.timeout > 0:
            raise UsageError(f"--timeout {args.timeout}: give a number of seconds above 0")
    except UsageError as error:
        print(f"python -m bench: {error}", file=sys.stderr)
        return 2
    flags = all_flags(benchmarks)
    outcomes = [
        run_benchmark(b, flags[b], args.quick, args.write_docs, args.device, args.timeout) for b in benchmarks
    ]
    print("\n" + summary(outcomes))
    if args.write_docs:
        written = write_docs(outcomes, args.docs, machine_stamp(args.device, args.quick))
        print(f"{args.docs}: rewrote {', '.join(written) if written else 'no tables'}")
    return 1 if any(not o.ok for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
