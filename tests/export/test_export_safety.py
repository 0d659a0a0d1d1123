"""Nothing a user types reaches an exported file as code: ids, labels, titles, dataset paths and fields.

A graph full of hostile text is exported next to the same graph with plain names. The two files must
be the same program once names and literals are blanked (hostile text only ever lands in a name or
a literal), call nothing the plain one does not, compile, pass ruff, and run without creating a file.
"""

from __future__ import annotations

import ast
import json
import re

import numpy as np
import pytest
from export_cases import graph_from, ruff, run_python, write_export

from graphcore.files.fileformat import FileFormatError

HOSTILE = [
    "__import__('os').system('touch pwned')",
    'x"); open("pwned", "w"); ("',
    "line\nbreak\r\n\x00",
    "ünïcødé λ 😀",
    "class",
    "self",
    "torch",
    "__init__",
    "1st",
    '"""',
    "\\",
    "INPUTS",
]


def graph(names: list[str], title: str, data_file: str, field: str) -> dict:
    """x → Linear → sigmoid → MSE against y, a Parameter and a Constant, all named from `names`."""
    x, fc, p, y, loss, w, c, wx, out = names[:9]
    nodes = [
        {"id": x, "type": "Input", "params": {"shape": ["N", 2]}, "label": names[9]},
        {"id": fc, "type": "Linear", "params": {"in_features": 2, "out_features": 1}, "label": names[10]},
        {"id": p, "type": "sigmoid", "label": names[11]},
        {"id": y, "type": "Input", "params": {"shape": ["N", 1]}, "label": names[0]},
        {
            "id": w,
            "type": "Parameter",
            "params": {"shape": [], "init": "value", "value": 0.5},
            "label": names[1],
        },
        {"id": c, "type": "Constant", "params": {"value": 2.0}, "label": names[2]},
        {"id": wx, "type": "mul", "label": names[3]},
        {"id": out, "type": "mul", "label": names[4]},
        {"id": loss, "type": "MSELoss", "label": names[5]},
    ]
    edges = [
        (f"{x}.out", f"{fc}.x"),
        (f"{fc}.out", f"{p}.x"),
        (f"{w}.out", f"{wx}.a"),
        (f"{p}.out", f"{wx}.b"),
        (f"{c}.out", f"{out}.a"),
        (f"{wx}.out", f"{out}.b"),
        (f"{out}.out", f"{loss}.input"),
        (f"{y}.out", f"{loss}.target"),
    ]
    training = {
        "dataset": {
            "name": "file",
            "path": data_file,
            "fields": {field: {"array": "x"}, "y": {"array": "y"}},
        },
        "inputs": {x: field, y: "y"},
        "loss": f"{loss}.out",
        "predict": f"{p}.out",
        "batch_size": 4,
        "steps": 2,
    }
    return {
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
        "training": training,
        "meta": {"title": title, "name": title},
    }


def blank(tree: ast.AST) -> str:
    """The program with every name and literal blanked: what is left is the code's shape."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            node.attr = "_"
        if isinstance(node, ast.Name):
            node.id = "_"
        elif isinstance(node, ast.arg):
            node.arg = "_"
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            node.name = "_"
        elif isinstance(node, ast.Constant):
            node.value = type(node.value).__name__
    return ast.dump(tree)


def calls(tree: ast.Module) -> set[str]:
    """What the file calls, the model class and its layers (names made from the graph) as placeholders."""
    model = next(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            text = re.sub(r"\bself\.\w+\(", "self.<layer>(", ast.unparse(node.func) + "(")
            found.add(re.sub(rf"\b{model}\b", "<Model>", text))
    return found


def test_hostile_text_never_becomes_code(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    hostile_file = "d'a\"ta\n$(touch pwned).npz"
    arrays = {"x": np.ones((6, 2), np.float32), "y": np.zeros((6, 1), np.float32)}
    np.savez(data / hostile_file, **arrays)
    np.savez(data / "plain.npz", **arrays)
    # an id with control characters is refused when the file loads; it stands as a label instead
    hostile_ids = [h.replace(".", "_") if h.isprintable() else "ctrl" for h in HOSTILE[:9]]
    plain_ids = ["x", "fc", "p", "y", "loss", "w", "c", "wx", "out", "a", "b", "q"]
    evil_data = graph(hostile_ids + HOSTILE[9:], 'Evil"""\n\'; import os #', hostile_file, HOSTILE[1])
    evil_data["nodes"][5]["label"] = HOSTILE[2]  # control characters are allowed in a label
    evil = graph_from(evil_data)
    plain = graph_from(graph(plain_ids, "Plain", "plain.npz", "x"))

    run = tmp_path / "run"
    run.mkdir()
    files = {}
    for name, g in (("evil", evil), ("plain", plain)):
        for train in (False, True):
            path, _ = write_export(g, run, f"{name}{'_train' if train else ''}", train=train, base_dir=data)
            files[name, train] = path

    for train in (False, True):
        trees = [ast.parse(files[name, train].read_text(encoding="utf-8")) for name in ("evil", "plain")]
        assert calls(trees[0]) <= calls(trees[1])
        assert blank(trees[0]) == blank(trees[1])
        imports = {alias.name for n in ast.walk(trees[0]) if isinstance(n, ast.Import) for alias in n.names}
        assert "os" not in imports or train  # only the training script reads WORLD_SIZE from os.environ

    checked = ruff("check", *(str(p) for p in files.values()))
    assert checked is None or checked.returncode == 0, checked.stdout

    runner = (
        "import runpy, sys\n"
        "sys.argv = ['evil.py']\n"
        "runpy.run_path('evil.py', run_name='__main__')\n"
        "sys.argv = ['evil_train.py', '--steps', '2', '--device', 'cpu']\n"
        "runpy.run_path('evil_train.py', run_name='__main__')\n"
    )
    before = sorted(p.name for p in [*run.iterdir(), *data.iterdir()])
    done = run_python("-c", runner, cwd=run)
    assert done.returncode == 0, done.stderr
    assert "step 2 loss" in done.stdout
    assert sorted(p.name for p in [*run.iterdir(), *data.iterdir()]) == before
    assert not list(tmp_path.rglob("pwned*"))


def test_hostile_training_values_are_refused_or_written_as_literals(tmp_path):
    from graphcore.exchange.export import ExportError, export_python

    data = graph("x fc p y loss w c wx out a b q".split(), "t", "d.npz", "x")
    data["training"]["dataset"] = {"name": "xor", "n=4); __import__('os').system('touch pwned'); (": 1}
    with pytest.raises((FileFormatError, ExportError), match="unknown key|xor has no parameter"):
        export_python(graph_from(data), train=True)  # refused when the file loads, before any export
    data["training"]["dataset"] = {"name": "xor", "n": 4}
    data["training"]["optimizer"] = {"name": "adam", "lr": 0.1, "betas": ["0.9'); import os; ('", 0.99]}
    try:
        source = export_python(graph_from(json.loads(json.dumps(data))), train=True).source
    except FileFormatError as error:
        assert "training.optimizer.betas" in str(error)  # refused at load: never reaches the code
    else:
        assert "betas=(\"0.9'); import os; ('\", 0.99)" in source
        compile(source, "model.py", "exec")
