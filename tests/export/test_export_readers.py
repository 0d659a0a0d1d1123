"""`graphcore export --train` on reader datasets (IDX, CIFAR-10, folders of images, scikit-learn's
digits): the exported script reads the same data with the readers' own text, so its losses are
`graphcore train`'s step for step, and a missing file is one line."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from export_cases import graph_from, load_file, losses_printed, ruff, run_python, write_export
from test_export_training import TOLERANCE, exported_train, graphcore_train

from graphcore.files.fileformat import dumps, load


def idx_file(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def write_idx(folder: Path, rng: np.random.Generator) -> dict:
    idx_file(folder / "images.gz", rng.integers(0, 256, (40, 4, 4), dtype=np.uint8))
    idx_file(folder / "labels.gz", rng.integers(0, 3, 40).astype(np.uint8))
    return {"name": "idx", "images": "data/images.gz", "labels": "data/labels.gz", "flatten": True}


def write_cifar(folder: Path, rng: np.random.Generator) -> dict:
    batches = folder / "cifar-10-batches-bin"
    batches.mkdir()
    for name, n in [("data_batch_1.bin", 12), ("data_batch_2.bin", 9)]:
        labels = rng.integers(0, 10, (n, 1), dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        (batches / name).write_bytes(np.concatenate([labels, pixels], 1).tobytes())
    return {"name": "cifar10", "path": "data/cifar-10-batches-bin", "limit": 18, "flatten": True}


def write_folder(folder: Path, rng: np.random.Generator) -> dict:
    image = pytest.importorskip("PIL.Image")
    for label in ("cat", "dog", "owl"):
        for i in range(7):
            (folder / "pets" / label).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (5 + i, 6, 3), dtype=np.uint8)
            image.fromarray(pixels).save(folder / "pets" / label / f"{i}.png")
    return {"name": "image_folder", "path": "data/pets", "size": [4, 4], "mode": "grayscale", "flatten": True}


WRITERS = {
    "idx": (write_idx, 16, 3),
    "cifar10": (write_cifar, 3072, 10),
    "image_folder": (write_folder, 16, 3),
}


def classifier(dataset: dict, features: int, classes: int) -> dict:
    """A linear classifier of flattened images, trained for a few steps."""
    return {
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": ["N", features]}},
            {"id": "fc", "type": "Linear", "params": {"in_features": features, "out_features": classes}},
            {"id": "y", "type": "Input", "params": {"shape": ["N"], "dtype": "long"}},
            {"id": "loss", "type": "CrossEntropyLoss"},
        ],
        "edges": [
            {"from": "x.out", "to": "fc.x"},
            {"from": "fc.out", "to": "loss.input"},
            {"from": "y.out", "to": "loss.target"},
        ],
        "training": {
            "dataset": dataset,
            "inputs": {"x": "x", "y": "y"},
            "loss": "loss.out",
            "predict": "fc.out",
            "validation": 0.25,
            "batch_size": 4,
            "epochs": 3,
            "optimizer": {"name": "adam", "lr": 0.01},
            "seed": 1,
        },
    }


@pytest.fixture(params=sorted(WRITERS))
def exported(request, tmp_path):
    """(graph file, exported script, the dataset's files) for each reader, written into tmp_path."""
    write, features, classes = WRITERS[request.param]
    (tmp_path / "data").mkdir()
    dataset = write(tmp_path / "data", np.random.default_rng(0))
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(dumps(graph_from(classifier(dataset, features, classes))))
    (tmp_path / "out").mkdir()
    path, _ = write_export(load(graph_file), tmp_path / "out", train=True, base_dir=tmp_path)
    return graph_file, path, tmp_path / "data"


def test_reader_datasets_export_with_the_same_losses(exported, capsys):
    graph_file, path, _ = exported
    expected = graphcore_train(graph_file, capsys)
    code, printed = exported_train(path, capsys)
    assert code == 0
    assert len(expected["losses"]) > 5
    assert losses_printed(printed) == pytest.approx(expected["losses"], abs=TOLERANCE, rel=0)
    assert "graphcore" not in "".join(line for line in path.read_text().splitlines() if "import" in line)
    checked = ruff("check", str(path))
    if checked is not None:
        assert checked.returncode == 0, checked.stdout


def test_a_missing_dataset_file_is_one_line(exported, tmp_path):
    _, path, data = exported
    for file in sorted(data.rglob("*"), reverse=True):
        file.rmdir() if file.is_dir() else file.unlink()
    done = run_python(path.name, "--device", "cpu", cwd=path.parent)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no such file" in lines[0], done.stderr
    assert str(data) in lines[0]


def test_digits_export_reads_scikit_learn_with_the_same_losses(tmp_path, capsys):
    pytest.importorskip("sklearn")
    data = classifier({"name": "digits", "limit": 300, "flatten": True}, 64, 10)
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(dumps(graph_from(data)))
    path, _ = write_export(load(graph_file), tmp_path, train=True, base_dir=tmp_path)
    assert "from sklearn.datasets import load_digits" in path.read_text()
    expected = graphcore_train(graph_file, capsys)["losses"]
    assert losses_printed(exported_train(path, capsys)[1]) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    module = load_file(path)
    fields = module.load_data(0)
    assert fields["x"].shape == (300, 64) and fields["y"].dtype == np.int64
