"""The `graphcore` command on hostile input: mutated example files through check, run and train,
random training sections through train, random argument values through every command. Each case
must end with exit code 0, 1 or 2 and, when it fails, one line on stderr: never a traceback, never
the CLI's "internal error" guard. The commands run in-process (a subprocess per case would pay
torch's import every time); tests/cli has the subprocess checks.
"""

import copy
import json
import random

import pytest

from graphcore.cli.main import main
from tests.fuzz.counts import report
from tests.fuzz.mutations import EXAMPLE_DOCS, EXAMPLES, HOSTILE_VALUES, mutated_texts
from tests.fuzz.training_sections import random_sections, write_data_files


def outcome(capsys, argv):
    """(problem or None, exit code) of one in-process run of `graphcore argv`."""
    try:
        code = main(argv)
    except BaseException as error:  # noqa: BLE001 - what the test looks for
        capsys.readouterr()
        return f"raised {type(error).__name__}: {str(error)[:200]}", None
    out, err = capsys.readouterr()
    if code not in (0, 1, 2):
        return f"exit code {code}", code
    if "Traceback" in err or "internal error" in err:
        return f"stderr: {err[-300:]}", code
    if err.count("\n") > 1:
        return f"{err.count(chr(10))} lines on stderr: {err[:300]}", code
    if code == 0 and err:
        return f"stderr on success: {err[:300]}", code
    if "--json" in argv and (out.count("\n") != 1 or not isinstance(json.loads(out), dict)):
        return f"not one JSON object on stdout: {out[:200]}", code
    return None, code


def run_cases(capsys, cases):
    """Runs (description, argv) cases; fails listing the first problems, prints how many ran."""
    problems, codes = [], {0: 0, 1: 0, 2: 0}
    for what, argv in cases:
        problem, code = outcome(capsys, argv)
        if code in codes:
            codes[code] += 1
        if problem:
            problems.append(f"{what} ({' '.join(argv[:1])}): {problem}")
    with capsys.disabled():
        report(f"\n{sum(codes.values())} CLI cases, exit codes {codes}, {len(problems)} problems")
    assert not problems, "\n".join(problems[:10])


def test_mutated_files_through_check_run_and_train(capsys, tmp_path):
    commands = [["check"]] * 3 + [["run"], ["run", "--json"], ["train", "--steps", "2"]]
    cases = []
    for index, (what, text) in enumerate(mutated_texts(seed=2024, count=330)):
        path = tmp_path / f"case{index}.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        command = commands[index % len(commands)]
        cases.append((f"#{index} {what[:120]}", [command[0], str(path), *command[1:]]))
    run_cases(capsys, cases)


def test_random_training_sections_through_train(capsys, tmp_path):
    write_data_files(tmp_path)
    cases = []
    for index, (what, name, section) in enumerate(random_sections(seed=7, count=120)):
        doc = copy.deepcopy(EXAMPLE_DOCS[name])
        doc["training"] = section
        path = tmp_path / f"section{index}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        extra = ["--json"] if index % 2 else []
        cases.append((f"#{index} {what[:160]}", ["train", str(path), "--steps", "2", *extra]))
    run_cases(capsys, cases)


NUMBERS = (
    "0",
    "-1",
    "1",
    "3",
    "1e3",
    "2.5",
    "nan",
    "inf",
    "-inf",
    "",
    "abc",
    "٣",
    "9" * 5000,
    "1" + "0" * 30,
)
NAMES = (
    "x",
    "y",
    "w",
    "b",
    "loss",
    "loss.out",
    "fc.out",
    "e.out",
    "a,b",
    ",",
    "",
    "a.b.c",
    "\ud800",
    "zz.out",
)
FILES = ("path_sum.json", "sigmoid_neuron.json", "xor.json", "cnn_bars_stripes.json")
INPUTS = (  # --input arguments no file here satisfies: each must be refused in one line
    "x",
    "=",
    "x=",
    "=x.npy",
    "x=missing.npy",
    "x=missing.npz:a",
    f"x={EXAMPLES / 'xor.json'}",
    f"x={EXAMPLES}",
    f"fc1={EXAMPLES / 'xor.json'}",
    f"\ud800={EXAMPLES / 'xor.json'}",
    "x=\ud800.npy",
    "x=ü.npy",
)


def random_argv(rng: random.Random) -> list[str]:
    file = str(EXAMPLES / rng.choice(FILES))
    command = rng.choice(["run", "grad", "steps", "jacobian", "train", "export", "check"])
    argv = [command, file]
    options = {
        "run": ["--batch", "--seed", "--device", "--dtype", "--input"],
        "grad": ["--batch", "--seed", "--mode", "--device", "--input"],
        "steps": ["--of", "--batch", "--seed", "--input"],
        "jacobian": ["--eps", "--batch", "--mode", "--seed"],
        "train": ["--steps", "--epochs", "--seed", "--device"],
        "export": ["--seed"],
        "check": ["--dtype"],
    }[command]
    if command in ("grad", "jacobian"):
        argv += ["--of", rng.choice(NAMES), "--wrt", rng.choice(NAMES)]
    for option in rng.sample(options, rng.randint(1, len(options))):
        value = {
            "--of": NAMES,
            "--mode": ("forward", "reverse", "both", "fd", "all", "sideways"),
            "--device": ("cpu", "auto", "cuda", "cuda:7", "tpu", "", "cpu\n"),
            "--dtype": ("float32", "float64", "int8"),
            "--input": INPUTS,
        }.get(option, NUMBERS)
        argv += [option, rng.choice(value)]
    if command == "train" and "--steps" not in argv:
        argv += ["--steps", "2"]
    return argv + (["--json"] if rng.random() < 0.5 else [])


def test_random_arguments(capsys):
    rng = random.Random(99)
    cases = [(f"argv {i}", random_argv(rng)) for i in range(150)]
    cases.append(("no command", []))
    cases.append(("unknown command", ["frobnicate", "x"]))
    cases += [
        (f"file {value!r:.30}", ["check", value]) for value in ("", "/", "\0", "missing.json", "x" * 5000)
    ]
    run_cases(capsys, cases)


@pytest.mark.parametrize(
    "argv",
    [
        ["import-torch", "missing.py:Net"],
        ["import-torch", "no_colon"],
        ["import-torch", "\0.py:Net"],
        ["import-torch", "{tmp}:Net"],
        ["import-torch", "{module}:Net", "--args", "x"],
        ["import-torch", "{module}:Net", "--args", "x=[N,3]:int9"],
        ["import-torch", "{module}:Net", "--args", "y=[2]"],
        ["import-torch", "{module}:Net", "-o", "{tmp}/missing/folder/net.json"],
        ["import-torch", "{module}:Net", "--kwargs", "[1]"],
        ["import-torch", "{module}:Nope"],
        ["import-torch", "{raises}:Net"],
        ["import-torch", "{module}:Net", "--batch", "-2"],
        ["export", str(EXAMPLES / "xor.json"), "-o", "{tmp}/missing/folder/x.py"],
        ["export", str(EXAMPLES / "xor.json"), "-o", "{tmp}"],
        ["export", str(EXAMPLES / "xor.json"), "--seed", "-1"],
    ],
)
def test_exchange_commands_refuse_bad_arguments_in_one_line(capsys, tmp_path, argv):
    module = tmp_path / "net.py"
    module.write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def forward(self, x):\n        return x\n"
    )
    raises = tmp_path / "raises.py"
    raises.write_text("raise RuntimeError('this module fails when it is imported')\n")
    argv = [a.format(module=module, raises=raises, tmp=tmp_path) for a in argv]
    problem, code = outcome(capsys, argv)
    assert problem is None and code == 2, (problem, code)


def test_hostile_values_are_shown_short(capsys, tmp_path):
    """A 100,000-character value in a training section comes back as a short line."""
    doc = copy.deepcopy(EXAMPLE_DOCS["xor.json"])
    doc["training"]["optimizer"]["name"] = next(
        v for v in HOSTILE_VALUES if isinstance(v, str) and len(v) > 1000
    )
    path = tmp_path / "long.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, (_, err) = main(["train", str(path)]), capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and len(err) < 400, err
    assert "training.optimizer.name" in err
