"""`python -m bench`: every benchmark runs (a smoke test on tiny sizes, not a timed test), --write-docs
rewrites only what lies between a benchmark's markers, and a bad --only is one line and exit 2."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run_all import BLOCK, Benchmark, command_for, replace_block

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "benchmarks.md"


def run_bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def outside_blocks(text: str) -> str:
    """The hand-written part of the docs: everything but the generated blocks' contents."""
    return BLOCK.sub(lambda m: f"<!-- bench:{m['name']} -->", text)


def blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One quick run of every benchmark, writing its tables into a copy of the docs."""
    docs = tmp_path_factory.mktemp("docs") / "benchmarks.md"
    shutil.copy(DOCS, docs)
    return run_bench("--quick", "--write-docs", "--docs", str(docs), "--timeout", "240", timeout=900), docs


@pytest.mark.slow
def test_quick_mode_runs_every_benchmark_and_each_is_ok(quick_run):
    done, _ = quick_run
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    expected = {path.stem.removeprefix("bench_") for path in (ROOT / "bench").glob("bench_*.py")}
    summary = re.findall(r"^(ok|FAILED)\s+(\S+)\s+[\d.]+ s", done.stdout, re.MULTILINE)
    assert {name: state for state, name in summary} == dict.fromkeys(expected, "ok"), done.stdout[-4000:]


@pytest.mark.slow
def test_write_docs_rewrites_only_between_the_markers(quick_run):
    done, docs = quick_run
    original, rewritten = DOCS.read_text(encoding="utf-8"), docs.read_text(encoding="utf-8")
    assert outside_blocks(rewritten).startswith(outside_blocks(original).rstrip("\n"))  # prose kept
    before, after = blocks(original), blocks(rewritten)
    for name in ("canvas", "load", "modes", "window"):
        assert name in before, f"docs/benchmarks.md has no bench:{name} markers"
        assert after[name] != before[name]
        assert "quick run: tiny sizes" in after[name]
        assert f"`python bench/bench_{name}.py --quick --markdown`" in after[name]
        assert "|---|" in after[name]
    assert "gpu" in before, "docs/benchmarks.md has no bench:gpu markers"
    assert (
        "quick run: tiny sizes" in after["gpu"]
        and "| MLP 32-64-64-32, batch 16 | eager fp32 |" in after["gpu"]
    )
    assert "`python bench/bench_gpu.py --quick --markdown --time-limit 180`" in after["gpu"]  # 0.75 × 240 s
    rewrote = next(line for line in done.stdout.splitlines() if ": rewrote " in line)
    assert all(name in rewrote for name in ("canvas", "load", "modes", "window", "gpu")), rewrote


def test_a_benchmark_with_a_time_limit_gets_three_quarters_of_the_timeout():
    benchmark = Benchmark("gpu", ROOT / "bench" / "bench_gpu.py")
    command, _ = command_for(benchmark, {"--quick", "--time-limit"}, True, False, None, 400)
    assert command[2:] == ["--quick", "--time-limit", "300"]
    assert "--time-limit" not in command_for(benchmark, {"--quick"}, True, False, None, 400)[0]
    assert "--time-limit" not in command_for(benchmark, {"--time-limit"}, True, False, None, None)[0]


def test_replace_block_keeps_the_text_around_it_and_adds_a_missing_one():
    text = "intro\n<!-- bench:a:begin -->\nold\n<!-- bench:a:end -->\noutro\n"
    assert (
        replace_block(text, "a", "new") == "intro\n<!-- bench:a:begin -->\nnew\n<!-- bench:a:end -->\noutro\n"
    )
    added = replace_block(text, "b", "fresh\n")
    assert added.startswith(text) and added.endswith("<!-- bench:b:begin -->\nfresh\n<!-- bench:b:end -->\n")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--only", "nosuch"], "no benchmark named 'nosuch'"),
        (["--only", ""], "give benchmark names"),
        (["--only", "canvas,,load"], "give benchmark names"),
        (["--write-docs", "--docs", "no/such/benchmarks.md"], "no such file to rewrite"),
        (["--timeout", "-1"], "give a number of seconds above 0"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(args, says):
    done = run_bench(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and says in done.stderr, done.stderr
