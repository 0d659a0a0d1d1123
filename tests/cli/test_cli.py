"""The graphcore command: exit codes, text output and exactly one JSON object with --json."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graphcore.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples"
PATH_SUM = str(EXAMPLES / "path_sum.json")
NEURON = str(EXAMPLES / "sigmoid_neuron.json")
XOR = str(EXAMPLES / "xor.json")


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


BIN = Path(sys.executable).parent  # the environment's own scripts, whatever PATH says


@pytest.mark.parametrize("launcher", [[sys.executable, "-m", "graphcore"], [str(BIN / "graphcore")]])
def test_installed_entry_points(launcher):
    if not Path(launcher[0]).exists():
        pytest.skip(f"{launcher[0]} is not installed (pip install -e . writes it)")
    result = subprocess.run(
        [*launcher, "check", PATH_SUM, "--json"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nodes"] == 6


def test_bad_input_in_a_real_process_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "backprop-studio-graph", "version": 1, "nodes": [{"id": ', encoding="utf-8")
    for argv, code in (
        (["check", str(bad)], 2),
        (["run", PATH_SUM, "--batch", "-5"], 2),
        (["check", NEURON], 0),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "graphcore", *argv], capture_output=True, text=True, check=False
        )
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == (code != 0)


def test_a_closed_pipe_ends_quietly():
    """As `graphcore steps examples/xor.json | head -1` does: the reader has gone when output comes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "graphcore", "check", PATH_SUM], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # before the command can write: every write finds the pipe closed
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) in (0, 141)
    assert err == "", err


@pytest.mark.parametrize("mode", ["forward", "reverse", "both"])
def test_integer_values_have_no_derivative(capsys, mode):
    cnn = str(EXAMPLES / "cnn_bars_stripes.json")
    code, out, err = run(capsys, "grad", cnn, "--of", "loss.out", "--wrt", "y", "--mode", mode)
    assert (code, out) == (2, "")
    assert err == (
        "graphcore: --wrt y.out: the value holds integers (int64), which have no derivative; "
        "pick a floating-point value\n"
    )


def test_integer_values_are_refused_by_jacobian_and_steps(capsys):
    cnn = str(EXAMPLES / "cnn_bars_stripes.json")
    code, data = run_json(capsys, "jacobian", cnn, "--of", "loss.out", "--wrt", "y", "--mode", "fd")
    assert code == 2 and data["error"].startswith("--wrt y.out: the value holds integers (int64)")
    code, _, err = run(capsys, "steps", cnn, "--of", "y")
    assert code == 2 and err.startswith("graphcore: --of y.out: the value holds integers (int64)")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", PATH_SUM, "--batch", "0"], "run: argument --batch: must be from 1 to 1000000, got 0"),
        (
            ["run", PATH_SUM, "--batch", "1" + "0" * 30],
            "run: argument --batch: must be from 1 to 1000000, got 1000",
        ),
        (["run", PATH_SUM, "--seed", "-1"], "run: argument --seed: must be from 0 to 4294967295, got -1"),
        (["run", PATH_SUM, "--seed", "9" * 5000], "run: argument --seed: expected a whole number, got '9999"),
        (
            ["train", PATH_SUM, "--steps", "-3"],
            "train: argument --steps: must be from 1 to 1000000000, got -3",
        ),
        (["train", PATH_SUM, "--epochs", "x"], "train: argument --epochs: expected a whole number, got 'x'"),
        (
            ["jacobian", PATH_SUM, "--of", "e", "--wrt", "a", "--eps", "inf"],
            "jacobian: argument --eps: must be a number in (0,",
        ),
        (
            ["jacobian", PATH_SUM, "--of", "e", "--wrt", "a", "--eps=-1e-3"],
            "jacobian: argument --eps: must be a number in",
        ),
        (["grad", PATH_SUM, "--of", "e"], "grad: give --wrt NODE[,NODE...] (or --per-step NODE.PORT)"),
        (
            ["run", PATH_SUM, "--memory-budget", "lots"],
            "run: argument --memory-budget: a memory budget is a size",
        ),
        (["check", ""], "check: argument file: expected a file name, got ''"),
        (["frobnicate"], "argument command: invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_are_one_line_with_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "") and err.startswith(f"graphcore: {message}") and err.count("\n") == 1, err
    code, data = run_json(capsys, *argv)
    assert code == 2 and data["error"].startswith(message)


def test_memory_budget_refusal_is_exit_2_and_the_budget_is_put_back(capsys, monkeypatch):
    from graphcore.memory import ENV

    monkeypatch.delenv(ENV, raising=False)
    code, out, err = run(capsys, "run", NEURON, "--memory-budget", "16")
    assert code == 2 and out == "" and "the budget is" in err and err.count("\n") == 1, err
    assert ENV not in os.environ
    assert run(capsys, "run", NEURON)[0] == 0


def test_an_error_inside_a_node_is_exit_1_naming_it(capsys, tmp_path):
    doc = json.loads((EXAMPLES / "xor.json").read_text(encoding="utf-8"))
    x = next(n for n in doc["nodes"] if n["id"] == "x")
    x["params"]["shape"] = ["N", "M"]  # a second symbol: both become --batch at run time
    path = tmp_path / "two_symbols.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(capsys, "run", str(path), "--batch", "3")
    if out:  # should the validator catch it first, it is a diagnostic on stdout: exit 1 still
        assert code == 1 and out.startswith(("x", "fc1")) and err == "", (out, err)
    else:
        assert code == 1 and err.startswith("graphcore: fc1 (Linear): RuntimeError: mat1"), err


def test_training_problems_are_one_line(capsys, tmp_path):
    doc = json.loads((EXAMPLES / "xor.json").read_text(encoding="utf-8"))
    doc["training"]["dataset"] = {"name": "file", "path": "d.csv", "fields": {"x": {"columns": ["a", "b"]}}}
    doc["training"]["inputs"] = {"x": "x"}
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,\n", encoding="utf-8")
    path = tmp_path / "csv.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(capsys, "train", str(path), "--steps", "1")
    assert code == 2 and err == (
        f"graphcore: {tmp_path / 'd.csv'}: field 'x': row 3, column 'b': the cell is empty "
        '(give the field a "fill" value to use instead)\n'
    )
    doc["training"]["dataset"]["fields"]["x"]["fill"] = 0
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(capsys, "train", str(path), "--steps", "1")
    assert (
        code == 2
        and err
        == "graphcore: training.inputs: Input 'y' is fed by nothing: bind it to a dataset field (fields: x)\n"
    )
    doc["training"]["dataset"]["fields"]["y"] = {"columns": ["b"], "fill": 1}
    doc["training"]["inputs"]["y"] = "y"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert run(capsys, "train", str(path), "--steps", "1")[0] == 0


def without_timing(lines):
    return [re.sub(r", [0-9.]+ ms\)", ", … ms)", line) for line in lines]


def test_jacobian_text_is_a_labelled_matrix(capsys):
    code, out, _ = run(capsys, "jacobian", PATH_SUM, "--of", "e", "--wrt", "a,b", "--mode", "reverse")
    assert code == 0 and without_timing(out.splitlines()) == [
        "reverse (1 pass, … ms), d row / d column:",
        "         a.out  b.out",
        "  e.out      2      5",
    ]
    code, out, _ = run(capsys, "jacobian", XOR, "--of", "fc2", "--wrt", "x", "--mode", "fd", "--batch", "1")
    assert code == 0 and without_timing(out.splitlines()) == [
        "fd (4 passes, … ms), d row / d column:",
        "                x.out[0]   x.out[1]",
        "  fc2.out[0]  -0.0727967  0.0275447",
    ]


def test_counts_agree_with_their_nouns(capsys, tmp_path):
    one = tmp_path / "one.json"
    one.write_text(
        json.dumps(
            {
                "format": "backprop-studio-graph",
                "version": 1,
                "nodes": [{"id": "a", "type": "Parameter", "params": {"value": 1.0}}],
                "edges": [],
            }
        ),
        encoding="utf-8",
    )
    assert run(capsys, "check", str(one)) == (0, "ok: 1 node, 0 edges\n", "")
    code, out, _ = run(capsys, "train", XOR, "--steps", "1")
    assert code == 0 and out.startswith("finished after 1 step in ")


GRAPH_COMMANDS = {
    "check": [],
    "run": [],
    "grad": ["--of", "e", "--wrt", "a"],
    "steps": [],
    "jacobian": ["--of", "e", "--wrt", "a", "--mode", "reverse"],
    "train": ["--steps", "1"],
}


@pytest.mark.parametrize("command", GRAPH_COMMANDS)
def test_every_graph_command_takes_dtype_device_and_json(capsys, command):
    file = XOR if command == "train" else PATH_SUM
    argv = [command, file, *GRAPH_COMMANDS[command], "--dtype", "float32", "--device", "cpu"]
    assert run_json(capsys, *argv)[0] == 0
    code, out, err = run(capsys, *argv[:2], "--device", "tpu")
    assert (code, out) == (2, "") and f"{command}: argument --device: expected auto, cpu" in err


INSPECTION_COMMANDS = {
    "landscape": [NEURON, "--params", "w,b", "--steps", "1", "--resolution", "2"],
    "saliency": ["examples/digits_mlp.json", "--of", "fc2.out[3]", "--input", "x"],
    "maximize": ["examples/digits_mlp.json", "--of", "fc2.out[3]", "--input", "x", "--steps", "1"],
    "adversarial": ["examples/digits_mlp.json", "--input", "x", "--eps", "0.1"],
}
DEVICE_SYNTAX = "argument --device: expected auto, cpu, cuda or cuda:N, got"


@pytest.mark.parametrize("command", INSPECTION_COMMANDS)
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--dtype",
            "float16",
            "argument --dtype: invalid choice: 'float16' (choose from 'float32', 'float64')",
        ),
        ("--dtype", "", "argument --dtype: invalid choice: ''"),
        ("--dtype", "flöat32", "argument --dtype: invalid choice: 'flöat32'"),
        ("--dtype", "FLOAT32", "argument --dtype: invalid choice: 'FLOAT32'"),
        ("--device", "tpu", f"{DEVICE_SYNTAX} 'tpu'"),
        ("--device", "", f"{DEVICE_SYNTAX} ''"),
        ("--device", "cüda", f"{DEVICE_SYNTAX} 'cüda'"),
        ("--device", "☃", f"{DEVICE_SYNTAX} '☃'"),
        ("--device", "cuda:", f"{DEVICE_SYNTAX} 'cuda:'"),
        ("--device", "cuda:1000", f"{DEVICE_SYNTAX} 'cuda:1000'"),
        ("--device", "cuda:99", "device 'cuda:99' was asked for but torch sees"),  # none, or fewer GPUs
        ("--memory-budget", "lots", "argument --memory-budget: "),
    ],
)
def test_inspection_commands_refuse_a_bad_dtype_or_device_in_one_line(
    capsys, command, option, value, message
):
    """landscape, saliency, maximize and adversarial take COMMON as the other graph commands do."""
    argv = [command, *INSPECTION_COMMANDS[command], option, value]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1 and message in err and "Traceback" not in err
    code, data = run_json(capsys, *argv)
    assert code == 2 and message in data["error"]


@pytest.mark.parametrize("command", INSPECTION_COMMANDS)
def test_inspection_commands_refuse_cuda_without_a_gpu(capsys, monkeypatch, command):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = run(capsys, command, *INSPECTION_COMMANDS[command], "--device", "cuda")
    assert (code, out) == (2, "")
    assert err == "graphcore: device 'cuda' was asked for but torch sees no CUDA GPU here\n"


@pytest.mark.parametrize("command", ["check", "run", *INSPECTION_COMMANDS])
def test_a_gpu_past_the_last_one_is_refused_before_anything_moves_there(capsys, monkeypatch, command):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    argv = INSPECTION_COMMANDS.get(command, [PATH_SUM])
    code, out, err = run(capsys, command, *argv, "--device", "cuda:2")
    assert (code, out) == (2, "")
    assert err == (
        "graphcore: device 'cuda:2' was asked for but torch sees 2 CUDA GPU(s) here (cuda:0 to cuda:1)\n"
    )


def test_check_refuses_a_device_this_machine_lacks(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = run(capsys, "check", PATH_SUM, "--device", "cuda")
    assert (code, out) == (2, "")
    assert err == "graphcore: device 'cuda' was asked for but torch sees no CUDA GPU here\n"


@pytest.mark.parametrize("argv", [["export", PATH_SUM], ["import-torch", "net.py:Net"]])
def test_export_and_import_take_no_device(capsys, argv):
    code, out, err = run(capsys, *argv, "--device", "cpu")
    assert (code, out) == (2, "") and "unrecognized arguments: --device cpu" in err


def test_train_keeps_to_the_memory_budget_it_is_given(capsys):
    """xor needs 744 bytes in float32 (weights with gradients and Adam's state, one batch of 4 with
    gradients, the data set): a budget one byte short refuses it, and 1k holds it."""
    code, out, err = run(capsys, "train", XOR, "--steps", "1", "--memory-budget", "743")
    assert (code, out) == (2, "") and err.startswith("graphcore: fc1: the graph needs 0.727 KB for one batch")
    assert run(capsys, "train", XOR, "--steps", "1", "--memory-budget", "744")[0] == 0
    assert run(capsys, "train", XOR, "--steps", "1", "--memory-budget", "1k")[0] == 0
    code, _, err = run(capsys, "train", str(EXAMPLES / "two_moons.json"), "--memory-budget", "1k")
    assert code == 2 and err.startswith("graphcore: fc1: needs 4 KB for its output [32, 16] (float32)"), err


def readme_examples():
    """(argv, expected lines) for each `$ graphcore ...` in the README's console block."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("## The `graphcore` command", 1)[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    examples = []
    for chunk in block.split("$ graphcore ")[1:]:
        command, *lines = chunk.rstrip("\n").split("\n")
        examples.append(pytest.param(command.split(), lines, id=command.split()[0]))
    return examples


@pytest.mark.parametrize(("argv", "expected"), readme_examples())
def test_the_readme_examples_print_what_the_readme_shows(capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(EXAMPLES.parent)
    code, out, err = run(capsys, *argv)
    lines = without_timing(out.splitlines())
    expected = without_timing(expected)
    assert (code, err) == (0, "")
    if "  ..." in expected:  # the README leaves out the middle
        cut = expected.index("  ...")
        head, tail = expected[:cut], expected[cut + 1 :]
        lines = lines[: len(head)] + ["  ..."] + lines[len(lines) - len(tail) :]
    assert lines == expected
