"""The text reader (graphcore.training.readers.text): (context, next character) windows from a UTF-8
file, and every bad file or key refused as one DatasetError line naming it."""

from pathlib import Path

import numpy as np
import pytest

from graphcore.training.datasets import DatasetError, build
from graphcore.training.readers.text import read_text


def write(tmp_path: Path, content: bytes, name: str = "story.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_windows_and_next_characters(tmp_path):
    data = read_text(write(tmp_path, "abcab ü".encode()), context=3)
    assert data.classes == (" ", "a", "b", "c", "ü")
    decoded = ["".join(data.classes[i] for i in row) for row in data.x]
    assert decoded == ["abc", "bca", "cab", "ab "]
    assert "".join(data.classes[i] for i in data.y) == "ab ü"
    assert data.x.dtype == np.int64 and data.y.dtype == np.int64
    assert read_text(write(tmp_path, b"abcdef"), context=2, limit=2).x.tolist() == [[0, 1], [1, 2]]


def test_a_training_section_reads_it_relative_to_the_graph(tmp_path):
    write(tmp_path, b"hello world")
    fields = build({"name": "text", "path": "story.txt", "context": 4}, tmp_path)
    assert fields["x"].shape == (7, 4) and fields["y"].shape == (7,)


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"", {}, "the text has 0 characters; context 16 needs at least 17"),
        (b"short", {"context": 5}, "the text has 5 characters; context 5 needs at least 6"),
        (b"ab\xff\xfecd", {}, "not UTF-8 text (byte 2 cannot be read)"),
        (b"abc", {"context": 0}, "context must be a number of characters from 1 to 4096, not 0"),
        (b"abc", {"context": -3}, "context must be"),
        (b"abc", {"context": 10**12}, "context must be"),
        (b"abc", {"context": "2"}, "context must be"),
        (b"abc", {"context": True}, "context must be"),
        (b"abc", {"context": float("nan")}, "context must be"),
        (b"abcdef", {"context": 2, "limit": 0}, "limit must be a positive number"),
        (b"abcdef", {"context": 2, "max_bytes": 3}, "up to 3e-09 GB is read"),
    ],
)
def test_bad_text_or_options_are_one_line(tmp_path, content, options, message):
    with pytest.raises(DatasetError) as error:
        read_text(write(tmp_path, content), **options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_paths_and_folders_are_named(tmp_path):
    with pytest.raises(DatasetError, match=r"nothere\\u202e.txt: no such file"):
        read_text(tmp_path / "nothere\u202e.txt")
    with pytest.raises(DatasetError, match="not a file"):
        read_text(tmp_path)
    with pytest.raises(DatasetError, match="expected a file or folder path"):
        read_text("")
    with pytest.raises(DatasetError, match="expected a file or folder path"):
        read_text([["deeply", ["nested"]]])
