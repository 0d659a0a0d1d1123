"""`--input NAME=FILE.npy` for run, grad and steps: the values given are the values used, and every
bad argument is one line naming it, exit code 2."""

import json
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from graphcore.cli.inputs import MAX_BYTES
from graphcore.files.fileformat import load
from graphcore.program import lower
from graphcore.runtime import Runtime
from tests.cli.test_cli import run, run_json

GRAPH = {
    "format": "backprop-studio-graph",
    "version": 1,
    "nodes": [
        {"id": "x", "type": "Input", "label": "features", "params": {"shape": ["N", 3]}},
        {"id": "fc", "type": "Linear", "params": {"in_features": 3, "out_features": 2}},
        {"id": "label", "type": "Input", "params": {"shape": ["N"], "dtype": "long"}},
        {"id": "loss", "type": "CrossEntropyLoss"},
        {"id": "tok", "type": "Input", "params": {"shape": ["N", 4], "dtype": "long"}},
        {"id": "emb", "type": "Embedding", "params": {"num_embeddings": 5, "embedding_dim": 2}},
        {"id": "count", "type": "Input", "params": {"shape": [2], "dtype": "long"}},
        {"id": "twin", "type": "Input", "label": "same", "params": {"shape": [1]}},
        {"id": "twin2", "type": "Input", "label": "same", "params": {"shape": [1]}},
    ],
    "edges": [
        {"from": "x.out", "to": "fc.x"},
        {"from": "fc.out", "to": "loss.input"},
        {"from": "label.out", "to": "loss.target"},
        {"from": "tok.out", "to": "emb.x"},
    ],
}
X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [0.0, 3.0, 1.0]])
LABEL = np.array([1, 0, 1])
TOK = np.array([[0, 4, 2, 2], [1, 1, 3, 0], [4, 3, 2, 1]])


@pytest.fixture
def files(tmp_path):
    """The graph and one .npy per Input, in a folder with a non-ASCII name."""
    folder = tmp_path / "données ü"
    folder.mkdir()
    (folder / "graph.json").write_text(json.dumps(GRAPH))
    for name, array in {"x": X, "label": LABEL, "tok": TOK}.items():
        np.save(folder / f"{name}.npy", array)
    return folder


def feed(files, *names):
    return [arg for name in names for arg in ("--input", f"{name}={files / (name + '.npy')}")]


def test_run_uses_the_given_values(capsys, files):
    graph = str(files / "graph.json")
    code, data = run_json(capsys, "run", graph, "--seed", "3", *feed(files, "x", "label", "tok"))
    assert code == 0, data
    weights = Runtime(lower(load(graph)), seed=3)  # the same seed: the same weights
    fc, emb = (
        weights.module_of(weights.program.by_node["fc"]),
        weights.module_of(weights.program.by_node["emb"]),
    )
    with torch.no_grad():
        logits = torch.from_numpy(X) @ fc.weight.T + fc.bias
        expected_loss = F.cross_entropy(logits, torch.from_numpy(LABEL))
        expected_emb = F.embedding(torch.from_numpy(TOK), emb.weight)
    assert data["outputs"]["loss.out"] == pytest.approx(float(expected_loss), rel=1e-12)
    assert torch.allclose(torch.tensor(data["outputs"]["emb.out"], dtype=torch.float64), expected_emb)


def test_a_label_names_the_input_and_sizes_bind_n(capsys, files):
    """'features' is x's label; N = 3 from the arrays given, so the generated Inputs take 3 rows."""
    graph = str(files / "graph.json")
    args = ["--input", f"features={files / 'x.npy'}"]
    code, data = run_json(capsys, "run", graph, *args)
    assert code == 0, data
    assert np.array(data["outputs"]["emb.out"]).shape == (3, 4, 2)


def test_grad_and_steps_take_inputs(capsys, files):
    graph = str(files / "graph.json")
    given = feed(files, "x", "label")
    code, data = run_json(capsys, "grad", graph, "--of", "loss.out", "--wrt", "x", *given)
    assert code == 0, data
    x = torch.from_numpy(X).requires_grad_()
    runtime = Runtime(lower(load(graph)))
    fc = runtime.module_of(runtime.program.by_node["fc"])
    F.cross_entropy(fc(x), torch.from_numpy(LABEL)).backward()
    assert np.allclose(data["grads"]["x"], x.grad.numpy())
    code, data = run_json(capsys, "steps", graph, "--of", "loss.out", *given)
    assert code == 0, data
    first = next(s for s in data["steps"] if s["node"] == "x")
    assert np.allclose(first["outputs"]["x.out"], X)


def test_npz_with_a_key(capsys, files):
    np.savez(files / "batch.npz", features=X, labels=LABEL)
    graph = str(files / "graph.json")
    argv = ["--input", f"x={files / 'batch.npz'}:features", "--input", f"label={files / 'batch.npz'}:labels"]
    code, data = run_json(capsys, "run", graph, *argv)
    assert code == 0, data


def hostile(files):
    """(argument, what the one error line must say) for each way an --input can be wrong."""
    np.save(files / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(files / "nan.npy", np.array([[np.nan, 0, 0], [0, 0, 0], [1, 1, 1]]))
    np.save(files / "inf.npy", np.full((3, 3), np.inf))
    np.save(files / "rank.npy", np.zeros(3))
    np.save(files / "wide.npy", np.zeros((3, 4)))
    np.save(files / "halves.npy", np.array([0.5, 1.0, 0.0]))
    np.save(files / "negative.npy", np.array([[0, -1, 2, 2], [0, 0, 0, 0], [1, 1, 1, 1]]))
    np.save(files / "toolarge.npy", np.array([[0, 5, 2, 2], [0, 0, 0, 0], [1, 1, 1, 1]]))
    np.save(files / "class.npy", np.array([0, 2, 1]))
    np.save(files / "strings.npy", np.array(["a", "b", "c"]))
    np.save(files / "empty.npy", np.zeros((0, 3)))
    np.save(files / "four.npy", np.zeros((4, 3)))
    (files / "text.npy").write_text("not an array")
    (files / "npy.npz").write_bytes((files / "x.npy").read_bytes())
    (files / "short.npy").write_bytes((files / "x.npy").read_bytes()[:-8])
    with zipfile.ZipFile(files / "bad.npz", "w") as archive:
        archive.writestr("a.npy", (files / "x.npy").read_bytes())
        archive.writestr("b.npy", (files / "x.npy").read_bytes())
    huge = files / "huge.npy"
    with huge.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    f = str(files)
    return [
        ("x", "expected NAME=FILE.npy"),
        ("=" + f + "/x.npy", "name before '=' is empty"),
        ("x=", "file name after '=' is empty"),
        (f"nope={f}/x.npy", "no node 'nope'"),
        (f"fc={f}/x.npy", "is a Linear node, not an Input"),
        (f"same={f}/x.npy", "2 nodes are labelled 'same'"),
        (f"x={f}/missing.npy", "no file"),
        (f"x={f}", "is not a file"),
        (f"x={f}/text.npy", "not a NumPy .npy file"),
        (f"x={f}/short.npy", "cannot read the array"),
        (f"x={f}/objects.npy", "Python objects"),
        (f"x={f}/strings.npy", "dtype is str32; give integers or floating-point numbers"),
        (f"x={f}/nan.npy", "NaN or infinite"),
        (f"x={f}/inf.npy", "NaN or infinite"),
        (f"x={f}/rank.npy", "has 1 dimension [3] but the Input takes 2 dimensions [N, 3]"),
        (f"x={f}/wide.npy", "dimension 1 differs"),
        (f"x={f}/empty.npy", "dimension 0 (N) is empty"),
        (f"label={f}/halves.npy", "holds fractions"),
        (f"tok={f}/negative.npy", "index -1 is out of range: emb (Embedding, num_embeddings 5)"),
        (f"tok={f}/toolarge.npy", "index 5 is out of range"),
        (f"label={f}/class.npy", "index 2 is out of range: loss (CrossEntropyLoss, 2 classes)"),
        (f"x={f}/bad.npz", "holds 2 arrays: pick one as FILE.npz:KEY (a, b)"),
        (f"x={f}/bad.npz:c", "has no array 'c'"),
        (f"x={f}/x.npy:c", "no file"),  # a colon is part of a .npy file's name
        (f"x={f}/npy.npz:c", "a .npy file holds one array"),
        (f"x={f}/huge.npy", "inputs are limited to 256 MB"),
        (f"x={f}/x.npy\ud800", "no file"),
        (f"\ud800={f}/x.npy", "no node"),
    ]


@pytest.mark.parametrize("command", ["run", "grad", "steps"])
def test_each_bad_input_is_one_line_with_exit_2(capsys, files, command):
    graph = str(files / "graph.json")
    extra = {"grad": ["--of", "loss.out", "--wrt", "x"], "steps": ["--of", "loss.out"]}.get(command, [])
    for argument, message in hostile(files):
        code, out, err = run(capsys, command, graph, *extra, "--input", argument)
        assert code == 2 and out == "", (argument, out)
        assert err.startswith("graphcore: --input ") and err.count("\n") == 1, err
        assert message in err, (argument, err)


def test_sizes_must_agree_and_a_name_is_given_once(capsys, files):
    graph = str(files / "graph.json")
    np.save(files / "four.npy", np.zeros((4, 3)))
    code, _, err = run(capsys, "run", graph, *feed(files, "label"), "--input", f"x={files / 'four.npy'}")
    assert code == 2 and "makes N 4, but another input makes it 3" in err, err
    code, _, err = run(capsys, "run", graph, *feed(files, "x"), "--input", f"features={files / 'x.npy'}")
    assert code == 2 and "Input 'x' is already given" in err, err


def test_integer_arrays_feed_float_inputs_and_whole_floats_feed_integer_ones(capsys, files):
    graph = str(files / "graph.json")
    np.save(files / "ints.npy", np.array([[1, 2, 3], [0, 0, 0], [4, 5, 6]], dtype=np.int32))
    np.save(files / "whole.npy", np.array([1.0, 0.0, 1.0], dtype=np.float32))
    argv = ["--input", f"x={files / 'ints.npy'}", "--input", f"label={files / 'whole.npy'}"]
    code, data = run_json(capsys, "run", graph, *argv, "--dtype", "float32")
    assert code == 0, data
