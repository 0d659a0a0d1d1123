"""Run ▸ Preview Data…: the user opens an example and sees its training dataset's first samples —
digits as thumbnails with their digit under each, 2-D points and sequences as table rows — the same
samples, in the same order, that scikit-learn and graphcore's generators make."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.window import MainWindow
from graphcore.training.datasets import bars_and_stripes, sequence_sign


def preview(window: MainWindow):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Run")
    next(a for a in menu.actions() if a.text().replace("&", "") == "Preview Data…").trigger()
    return window.data_preview.view


def grey_pixels(label) -> np.ndarray:
    """The thumbnail the user sees, as grey levels 0 to 255, sampled back at 8×8."""
    image = label.pixmap().toImage()
    step = image.width() // 8
    return np.array([[image.pixelColor(c * step, r * step).red() for c in range(8)] for r in range(8)])


def test_digits_show_as_thumbnails_with_their_labels(window: MainWindow, examples: Path, qtbot):
    datasets = pytest.importorskip("sklearn.datasets")
    assert window.open_path(examples / "digits_mlp.json")
    view = preview(window)
    qtbot.waitUntil(lambda: window.data_preview.dock.isVisible())
    digits = datasets.load_digits()
    assert [label.text() for label in view.labels] == [str(d) for d in digits.target[:32]]
    assert len(view.thumbnails) == 32 and all(t.isVisible() for t in view.thumbnails)
    for i in (0, 1, 31):
        expected = np.round(digits.images[i] / 16 * 255)
        assert (grey_pixels(view.thumbnails[i]) == expected).all(), i
    assert view.status.text() == "The first 32 samples of the digits dataset."
    assert not view.table.isVisible()


def test_sequences_show_as_table_rows(window: MainWindow, examples: Path):
    assert window.open_path(examples / "lstm_sequence_sign.json")
    view = preview(window)
    first = sequence_sign(np.random.default_rng(0), n=512, length=20)
    assert view.table.isVisible() and view.table.rowCount() == 32 and not view.thumbnails
    headers = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert headers == ["x", "y"]
    assert view.table.item(0, 1).text() == str(first["y"][0])
    assert view.table.item(0, 0).text().startswith(", ".join(f"{v:.4g}" for v in first["x"][0, :12, 0]))
    assert view.status.text() == "The first 32 samples of the sequence_sign dataset."


def test_a_graph_without_a_dataset_says_so(window: MainWindow, examples: Path):
    assert window.open_path(examples / "sigmoid_neuron.json")
    view = preview(window)
    assert view.status.text().startswith("This graph has no training dataset")
    assert not view.thumbnails and not view.table.isVisible()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "the file is empty"),
        (b"a,b\n\xff\xfe,1\n", "not UTF-8 text"),
        (b"a,b\n1,inf\n", "holds inf"),
        ("a,b\n1,\u202e\n".encode(), "is not a number"),
    ],
)
def test_a_dataset_that_cannot_be_read_is_one_line(window: MainWindow, examples: Path, content, message):
    """Files load when their training section is well formed; reading the data itself can still fail."""
    if content is not None:
        (examples / "points.csv").write_bytes(content)
    graph = json.loads((examples / "two_moons.json").read_text())
    fields = {"x": {"columns": ["a", "b"]}, "y": {"columns": "a", "dtype": "long"}}
    graph["training"]["dataset"] = {"name": "file", "path": "points.csv", "fields": fields}
    path = examples / "bad_dataset.json"
    path.write_text(json.dumps(graph))
    assert window.open_path(path)
    view = preview(window)
    text = view.status.text()
    assert text.startswith("training.dataset: ") and message in text and "\n" not in text
    assert not view.thumbnails and not view.table.isVisible()


def test_a_text_shows_its_windows_as_characters(window: MainWindow, examples: Path):
    assert window.open_path(examples / "char_transformer.json")
    view = preview(window)
    text = (examples / "data" / "gradient_rhymes.txt").read_text(encoding="utf-8")
    assert view.table.rowCount() == 32 and not view.thumbnails
    for row in (0, 1, 31):
        assert view.table.item(row, 0).text() == text[row : row + 16].replace("\n", "⏎")
        assert view.table.item(row, 1).text() == text[row + 16].replace("\n", "⏎")


def test_bars_and_stripes_show_as_thumbnails(window: MainWindow, examples: Path):
    assert window.open_path(examples / "cnn_bars_stripes.json")
    view = preview(window)
    first = bars_and_stripes(np.random.default_rng(0), n=256, size=8, noise=0.1)
    assert [label.text() for label in view.labels] == [str(y) for y in first["y"][:32]]
    expected = np.round(np.clip(first["x"][5, 0], 0, 1) * 255)
    assert (grey_pixels(view.thumbnails[5]) == expected).all()
