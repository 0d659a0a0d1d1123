"""Datasets: generated sets are deterministic and well-formed; user files are read or refused clearly."""

from pathlib import Path

import numpy as np
import pytest

from graphcore.datasets import GENERATED, DatasetError, build, split


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_sets_are_deterministic_and_well_formed(name):
    first = build({"name": name}, Path("."), seed=3)
    again = build({"name": name}, Path("."), seed=3)
    other = build({"name": name}, Path("."), seed=4)
    assert set(first) == {"x", "y"}
    assert len(first["x"]) == len(first["y"]) > 0
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
        assert np.isfinite(first[key]).all()
    assert first["x"].dtype == np.float32
    if name != "xor":  # the four XOR corners carry no noise by default
        assert not np.array_equal(first["x"], other["x"])


@pytest.mark.parametrize("name", ["two_moons", "circles", "spirals", "bars_and_stripes", "sequence_sign"])
def test_classification_sets_are_balanced(name):
    y = build({"name": name, "n": 200}, Path("."))["y"]
    assert y.dtype == np.int64 and sorted(np.unique(y)) == [0, 1]
    assert abs((y == 1).mean() - 0.5) < 0.05


def test_label_encodings():
    assert build({"name": "blobs", "n": 9, "centers": 3, "labels": "onehot"}, Path("."))["y"].shape == (9, 3)
    assert build({"name": "two_moons", "n": 8, "labels": "float"}, Path("."))["y"].shape == (8, 1)
    with pytest.raises(DatasetError, match="labels must be index, float or onehot"):
        build({"name": "two_moons", "labels": "words"}, Path("."))


def test_bars_and_stripes_images_have_the_right_orientation():
    data = build({"name": "bars_and_stripes", "n": 10, "size": 6, "noise": 0.0}, Path("."))
    assert data["x"].shape == (10, 1, 6, 6)
    for image, label in zip(data["x"][:, 0], data["y"]):
        constant_columns = (image == image[0:1, :]).all()
        assert constant_columns == (label == 0) or (image == image.T).all()


def test_sequence_labels_are_the_sign_of_the_sum():
    data = build({"name": "sequence_sign", "n": 50, "length": 7}, Path("."))
    np.testing.assert_array_equal(data["y"], (data["x"].sum((1, 2)) > 0).astype(np.int64))


def test_bad_generator_arguments_name_the_dataset():
    with pytest.raises(DatasetError, match="dataset 'xor': .*unexpected keyword argument 'colour'"):
        build({"name": "xor", "colour": 1}, Path("."))


def test_csv_with_column_mapping(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,1\n")
    data = build(
        {
            "name": "file",
            "path": "d.csv",
            "fields": {"x": {"columns": ["a", "b"]}, "y": {"columns": "label", "dtype": "long"}},
        },
        tmp_path,
    )
    np.testing.assert_array_equal(data["x"], [[1, 2], [3, 4], [5, 6]])
    assert data["y"].tolist() == [0, 1, 1] and data["y"].dtype == np.int64


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "d.npy", np.arange(12.0).reshape(4, 3))
    data = build(
        {"name": "file", "path": "d.npy", "fields": {"x": {"columns": [0, 1]}, "y": {"columns": 2}}}, tmp_path
    )
    assert data["x"].shape == (4, 2) and data["y"].tolist() == [2, 5, 8, 11]
    np.savez(tmp_path / "d.npz", images=np.zeros((5, 1, 2, 2)), labels=np.arange(5))
    data = build(
        {
            "name": "file",
            "path": str(tmp_path / "d.npz"),
            "fields": {"x": {"array": "images"}, "y": {"array": "labels", "dtype": "long"}},
        },
        Path("/"),
    )
    assert data["x"].shape == (5, 1, 2, 2) and data["y"].dtype == np.int64


@pytest.mark.parametrize(
    ("setup", "config", "message"),
    [
        (None, {"path": "absent.csv", "fields": {"x": {"columns": "a"}}}, "absent.csv: no such file"),
        (
            "a,b\n1,2\n",
            {"path": "d.csv", "fields": {"x": {"columns": ["a", "zz"]}}},
            "d.csv: field 'x': no column 'zz' (columns: a, b)",
        ),
        (
            "a,b\n1,x\n",
            {"path": "d.csv", "fields": {"x": {"columns": ["b"]}}},
            "d.csv: field 'x': columns ['b'] must hold numbers",
        ),
        (
            "a,b\n1,nan\n",
            {"path": "d.csv", "fields": {"x": {"columns": ["b"]}}},
            "d.csv: field 'x' holds NaN",
        ),
        ("a\n1\n", {"path": "d.csv", "fields": {}}, "say which fields to read"),
        ("a\n1\n", {"path": "d.txt", "fields": {"x": {}}}, "unsupported file type '.txt'"),
        ("not numpy", {"path": "d.npy", "fields": {"x": {}}}, "d.npy: cannot read as npy"),
    ],
)
def test_bad_user_files_name_what_and_where(tmp_path, setup, config, message):
    if setup is not None:
        (tmp_path / config["path"]).write_text(setup)
    with pytest.raises(DatasetError) as caught:
        build({"name": "file", **config}, tmp_path)
    assert message in str(caught.value)


def test_split_is_seeded_and_disjoint():
    data = {"x": np.arange(20.0)[:, None], "y": np.arange(20)}
    train, validation = split(data, 0.25, seed=1)
    assert len(train["y"]) == 15 and len(validation["y"]) == 5
    assert sorted([*train["y"], *validation["y"]]) == list(range(20))
    np.testing.assert_array_equal(split(data, 0.25, seed=1)[1]["y"], validation["y"])
    with pytest.raises(DatasetError, match="validation must be a fraction"):
        split(data, 1.5, seed=0)
