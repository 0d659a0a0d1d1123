"""Datasets: generated sets are deterministic and well-formed; user files are read or refused clearly."""

import io
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphcore.training.datasets import GENERATED, DatasetError, build, split


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
            "d.csv: field 'x': row 2, column 'b': 'x' is not a number",
        ),
        (
            "a,b\n1,2\n3,4\n5,six\n",
            {"path": "d.csv", "fields": {"y": {"columns": "b", "dtype": "long"}}},
            "d.csv: field 'y': row 4, column 'b': 'six' is not a number",
        ),
        (
            "a,b\n1,2\n3,\n",
            {"path": "d.csv", "fields": {"y": {"columns": "b", "dtype": "long"}}},
            "d.csv: field 'y': row 3, column 'b': the cell is empty (give the field a \"fill\" value",
        ),
        (
            "a,b\n1,nan\n",
            {"path": "d.csv", "fields": {"x": {"columns": ["b"]}}},
            "d.csv: field 'x': row 2, column 'b' holds a missing value (NaN)",
        ),
        (
            "a,b\n1,inf\n",
            {"path": "d.csv", "fields": {"x": {"columns": ["a", "b"]}}},
            "d.csv: field 'x': row 2, column 'b' holds inf",
        ),
        (
            "a,b\n1,2.5\n",
            {"path": "d.csv", "fields": {"y": {"columns": "b", "dtype": "long"}}},
            "row 2, column 'b' holds 2.5, not a whole number (the field's dtype is long)",
        ),
        ("", {"path": "d.csv", "fields": {"x": {"columns": "a"}}}, "d.csv: the file is empty"),
        (
            "a,b\n",
            {"path": "d.csv", "fields": {"x": {"columns": "a"}}},
            "d.csv: the file has a header but no",
        ),
        ("a,b\n1,2\n3\n", {"path": "d.csv", "fields": {"x": {"columns": "a"}}}, "row 3 has 1 cells but the"),
        ("a,a\n1,2\n", {"path": "d.csv", "fields": {"x": {"columns": "a"}}}, "header names column 'a' twice"),
        (b"a,b\n1,\xff\n", {"path": "d.csv", "fields": {"x": {"columns": "a"}}}, "d.csv: not UTF-8 text"),
        ("", {"path": "d.npy", "fields": {"x": {}}}, "d.npy: not an .npy file"),
        ("PK\x03\x04 truncated", {"path": "d.npz", "fields": {"x": {"array": "a"}}}, "d.npz: cannot read"),
        ("a\n1\n", {"path": "d.csv", "fields": {}}, "say which fields to read"),
        ("a\n1\n", {"path": "d.txt", "fields": {"x": {}}}, "unsupported file type '.txt'"),
        ("not numpy", {"path": "d.npy", "fields": {"x": {}}}, "d.npy: not an .npy file"),
    ],
)
def test_bad_user_files_name_what_and_where(tmp_path, setup, config, message):
    if isinstance(setup, bytes):
        (tmp_path / config["path"]).write_bytes(setup)
    elif setup is not None:
        (tmp_path / config["path"]).write_text(setup, encoding="utf-8")
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


def read(tmp_path, name, fields):
    return build({"name": "file", "path": name, "fields": fields}, tmp_path)


def test_fill_replaces_missing_cells_only_where_asked(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,,0\n3,NaN,1\n5,6,\n")
    data = read(
        tmp_path,
        "d.csv",
        {"x": {"columns": ["a", "b"], "fill": -7}, "y": {"columns": "label", "fill": 2, "dtype": "long"}},
    )
    np.testing.assert_array_equal(data["x"], [[1, -7], [3, -7], [5, 6]])
    assert data["y"].tolist() == [0, 1, 2]
    with pytest.raises(DatasetError, match="row 4, column 'label': the cell is empty"):
        read(tmp_path, "d.csv", {"y": {"columns": "label", "dtype": "long"}})


def test_unicode_headers_and_quoted_cells(tmp_path):
    (tmp_path / "d.csv").write_text('"λ, Größe",😀\n"1.5",2\n', encoding="utf-8")
    assert read(tmp_path, "d.csv", {"x": {"columns": ["λ, Größe", "😀"]}})["x"].tolist() == [[1.5, 2.0]]


def test_npy_files_that_are_not_plain_number_arrays(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="objects.npy: holds Python objects, which are never loaded"):
        read(tmp_path, "objects.npy", {"x": {}})
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(DatasetError, match="field 'x': the array holds <U1 values, not numbers"):
        read(tmp_path, "words.npy", {"x": {}})
    np.save(tmp_path / "scalar.npy", np.float64(3.0))
    with pytest.raises(DatasetError, match=r"the array of shape \[\] holds no samples"):
        read(tmp_path, "scalar.npy", {"x": {}})
    np.save(tmp_path / "m.npy", np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(DatasetError, match=r"index \[0, 1\] holds a missing value \(NaN\)"):
        read(tmp_path, "m.npy", {"x": {}})
    assert read(tmp_path, "m.npy", {"x": {"fill": 0}})["x"].tolist() == [[1, 0], [2, 3]]
    np.save(tmp_path / "big.npy", np.array([[1.0], [1e300]]))
    with pytest.raises(
        DatasetError, match=r"big.npy: field 'x': index \[1, 0\] holds 1e\+300, too large for float32"
    ):
        read(tmp_path, "big.npy", {"x": {}})
    with pytest.raises(DatasetError, match=r"columns \[5\] do not fit an array of shape \[2, 2\]"):
        read(tmp_path, "m.npy", {"x": {"columns": [5]}})
    np.savez(tmp_path / "a.npz", a=np.zeros(2))
    (tmp_path / "a.npz").rename(tmp_path / "z.npy")
    with pytest.raises(DatasetError, match="z.npy: not an .npy file"):
        read(tmp_path, "z.npy", {"x": {}})


def test_folders_and_huge_files_are_refused(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(DatasetError, match="folder.csv: is a folder, not a data file"):
        read(tmp_path, "folder.csv", {"x": {"columns": "a"}})
    from graphcore.training.datasets import _read_file

    (tmp_path / "big.csv").write_text("a\n" + "1\n" * 600)
    with pytest.raises(DatasetError, match="big.csv: the file holds 1.2e-06 GB; data files of up to 1 GB"):
        _read_file(tmp_path / "big.csv", "csv", max_bytes=1000)


CELLS = st.sampled_from(
    ["", " ", "0", "1", "-2.5", "1e3", "nan", "NaN", "inf", "-inf", "x", "λ", '"1,2"', "3.0"]
)
LINES = st.lists(st.lists(CELLS, min_size=0, max_size=4).map(",".join), max_size=6).map("\n".join)
FIELD_SPECS = st.fixed_dictionaries(
    {"columns": st.sampled_from(["a", ["a", "b"], ["c"], "λ", ["a", "a"]])},
    optional={"dtype": st.sampled_from(["float", "long"]), "fill": st.sampled_from([0, -1, 2.5])},
)


def check_refusal(tmp_path, name, fields):
    try:
        data = read(tmp_path, name, fields)
    except DatasetError as error:
        assert "\n" not in str(error) and len(str(error)) < 500, str(error)
        return
    for array in data.values():
        assert np.isfinite(array).all() and array.dtype in (np.float32, np.int64)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(header=st.sampled_from(["a,b", "a,b,c", "λ,a", "a", "", "a,a"]), body=LINES, spec=FIELD_SPECS)
def test_any_csv_is_read_or_refused_in_one_line(tmp_path, header, body, spec):
    (tmp_path / "f.csv").write_text(f"{header}\n{body}", encoding="utf-8")
    check_refusal(tmp_path, "f.csv", {"x": spec})


def damaged_numpy_file(rng: random.Random) -> tuple[str, bytes]:
    """An .npy or .npz (plain or compressed) of a small array, with bytes changed, cut off or added."""
    kind = rng.choice(["npy", "npz"])
    array = rng.choice(
        [np.arange(6.0).reshape(3, 2), np.arange(6).reshape(3, 2), np.ones((2, 2), np.float16)]
    )
    buffer = io.BytesIO()
    if kind == "npy":
        np.save(buffer, array)
    else:
        rng.choice([np.savez, np.savez_compressed])(buffer, x=array)
    data = bytearray(buffer.getvalue())
    for _ in range(rng.randint(1, 4)):
        change = rng.random()
        if change < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif change < 0.7:
            data = data[: rng.randrange(len(data) + 1)]
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return kind, bytes(data)


def test_damaged_numpy_files_are_read_or_refused_in_one_line(tmp_path):
    rng = random.Random(5)
    for _ in range(600):
        kind, data = damaged_numpy_file(rng)
        (tmp_path / f"f.{kind}").write_bytes(data)
        check_refusal(tmp_path, f"f.{kind}", {"x": {"array": "x"} if kind == "npz" else {}})
    print("600 damaged .npy/.npz files read or refused")
