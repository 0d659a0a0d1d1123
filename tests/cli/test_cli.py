"""The graphcore command: exit codes, text output and exactly one JSON object with --json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graphcore.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"
PATH_SUM = str(EXAMPLES / "path_sum.json")
NEURON = str(EXAMPLES / "sigmoid_neuron.json")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert out.count("\n") == 1, out
    return code, json.loads(out)


def test_check_ok(capsys):
    assert run(capsys, "check", PATH_SUM) == (0, "ok: 6 nodes, 6 edges\n", "")
    code, data = run_json(capsys, "check", PATH_SUM)
    assert code == 0 and data["ok"] and data["shapes"]["e.out"] == []


def test_check_reports_diagnostics_with_exit_1(capsys, tmp_path):
    bad = json.loads(Path(NEURON).read_text())
    bad["edges"] = [e for e in bad["edges"] if e["to"] != "t.x"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, out, _ = run(capsys, "check", str(path))
    assert (code, out) == (1, "t.x: input is not connected\n")
    code, data = run_json(capsys, "check", str(path))
    assert code == 1 and data["diagnostics"] == [
        {"node": "t", "port": "x", "message": "input is not connected"}
    ]
    assert run(capsys, "run", str(path))[0] == 1


@pytest.mark.parametrize("command", ["check", "run", "grad", "steps"])
def test_unreadable_file_exits_2_with_one_line(capsys, tmp_path, command):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "backprop-studio-graph", "version": 1, "nodes": [')
    extra = ["--of", "e.out", "--wrt", "a"] if command == "grad" else []
    code, out, err = run(capsys, command, str(path), *extra)
    assert code == 2 and out == ""
    assert err.startswith(f"graphcore: {path}") and err.count("\n") == 1, err


def test_run(capsys):
    assert run(capsys, "run", PATH_SUM) == (0, "e.out = 6\n", "")
    code, data = run_json(capsys, "run", NEURON)
    assert code == 0 and data["outputs"]["L.out"] == pytest.approx(0.0758009030698243, abs=1e-15)


def test_grad_each_mode(capsys):
    code, data = run_json(capsys, "grad", PATH_SUM, "--of", "e.out", "--wrt", "a,b")
    assert code == 0 and data == {"mode": "reverse", "value": 6.0, "passes": 1, "grads": {"a": 2.0, "b": 5.0}}
    code, data = run_json(capsys, "grad", PATH_SUM, "--of", "e", "--wrt", "a,b", "--mode", "forward")
    assert data == {"mode": "forward", "value": 6.0, "passes": 2, "grads": {"a": 2.0, "b": 5.0}}
    code, data = run_json(capsys, "grad", NEURON, "--of", "L.out", "--wrt", "w,b", "--mode", "both")
    assert set(data) == {"forward", "reverse", "max_abs_diff"} and data["max_abs_diff"] < 1e-15
    assert data["forward"]["grads"]["w"] == pytest.approx(data["reverse"]["grads"]["w"], abs=1e-15)


def test_grad_text(capsys):
    code, out, _ = run(capsys, "grad", PATH_SUM, "--of", "e.out", "--wrt", "a,b", "--mode", "both")
    assert out.splitlines() == [
        "e.out = 6  (forward mode, 2 passes)",
        "  de.out/da = 2",
        "  de.out/db = 5",
        "e.out = 6  (reverse mode, 1 pass)",
        "  de.out/da = 2",
        "  de.out/db = 5",
        "max |forward − reverse| = 0",
    ]


def test_grad_rejects_unknown_names_with_exit_2(capsys):
    code, out, err = run(capsys, "grad", PATH_SUM, "--of", "e.out", "--wrt", "zz")
    assert code == 2 and "there is no node 'zz'" in err
    code, data = run_json(capsys, "grad", PATH_SUM, "--of", "e.nope", "--wrt", "a")
    assert code == 2 and "e has no output 'nope'" in data["error"]


def test_float32(capsys):
    code, data = run_json(capsys, "grad", NEURON, "--of", "L.out", "--wrt", "w", "--dtype", "float32")
    assert code == 0 and data["grads"]["w"] == pytest.approx(-0.13886101614965027, rel=1e-6)


def test_steps(capsys):
    code, data = run_json(capsys, "steps", PATH_SUM)
    assert code == 0 and data["of"] == "e.out"
    phases = [(s["phase"], s["node"]) for s in data["steps"]]
    assert phases[-4:] == [("backward", "e"), ("backward", "d"), ("backward", "c"), ("accumulate", "b")]
    assert data["steps"][-1]["accumulated"] == {"b.out": 5.0}
    assert data["steps"][-1]["upstream"] == {"c.b": 2.0, "d.a": 3.0}
    code, out, _ = run(capsys, "steps", PATH_SUM)
    assert out.splitlines()[-1].split() == ["9", "accumulate", "b", "b.out", "=", "5", "←", "c.b=2,", "d.a=3"]


def test_unknown_device_is_a_usage_error(capsys):
    code, out, err = run(capsys, "run", PATH_SUM, "--device", "tpu")
    assert code == 2 and err == (
        "graphcore: run: argument --device: expected auto, cpu, cuda or cuda:N, got 'tpu' "
        "(see graphcore run --help)\n"
    )


@pytest.mark.parametrize("launcher", [[sys.executable, "-m", "graphcore"], ["graphcore"]])
def test_installed_entry_points(launcher):
    result = subprocess.run(
        [*launcher, "grad", PATH_SUM, "--of", "e.out", "--wrt", "b", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["grads"] == {"b": 5.0}
