"""Readers of real image data: IDX, CIFAR-10 binary batches, folders of images and scikit-learn's digits.
Fixtures are written here, in tmp_path; values round-trip exactly, and every damaged input is refused
with one line that names the file."""

import gzip
import os
import struct
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from graphcore.training.datasets import DatasetError
from graphcore.training.readers import (
    READERS,
    LabelledImages,
    read_cifar10,
    read_dataset,
    read_digits,
    read_idx,
    read_idx_array,
    read_image_folder,
    reader_options,
)
from graphcore.training.readers.common import shown

CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    code = CODES[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes, compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def refused(call, *files, match: str) -> str:
    """The one-line DatasetError a call raises; it names every file given."""
    with pytest.raises(DatasetError, match=match) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    for file in files:
        assert shown(file) in message, message
    return message


@pytest.fixture
def mnist(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    return pixels, labels


# --- IDX ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_idx_images_and_labels_round_trip(tmp_path, mnist, compress):
    pixels, labels = mnist
    images = write(tmp_path / "images", idx_bytes(pixels), compress)
    label_file = write(tmp_path / "labels", idx_bytes(labels), compress)
    data = read_idx(images, label_file)
    assert isinstance(data, LabelledImages)
    assert data.x.dtype == np.float32 and data.x.shape == (7, 1, 5, 4)
    np.testing.assert_array_equal(data.x[:, 0], pixels.astype(np.float32) / np.float32(255))
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, labels)
    assert data.classes == tuple(str(i) for i in range(int(labels.max()) + 1))
    assert set(data.fields) == {"x", "y"} and data.fields["x"] is data.x
    np.testing.assert_array_equal(np.round(data.x * 255).astype(np.uint8)[:, 0], pixels)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_limit_and_flatten(tmp_path, mnist, compress):
    pixels, labels = mnist
    images = write(tmp_path / "i", idx_bytes(pixels), compress)
    label_file = write(tmp_path / "l", idx_bytes(labels), compress)
    data = read_idx(images, label_file, limit=3, flatten=True)
    assert data.x.shape == (3, 20)
    np.testing.assert_array_equal(data.x, pixels[:3].reshape(3, 20) / np.float32(255))
    np.testing.assert_array_equal(data.y, labels[:3])
    assert len(read_idx(images, label_file, limit=100).y) == 7


def test_gzip_is_told_by_its_bytes_not_its_name(tmp_path, mnist):
    pixels, _ = mnist
    named_gz = write(tmp_path / "plain.gz", idx_bytes(pixels))
    named_plain = write(tmp_path / "packed-idx3-ubyte", idx_bytes(pixels), compress=True)
    np.testing.assert_array_equal(read_idx_array(named_gz), pixels)
    np.testing.assert_array_equal(read_idx_array(named_plain), pixels)


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("shape", [(6,), (3, 2), (2, 3, 4), (2, 1, 3, 2)])
def test_idx_array_round_trips_every_type(tmp_path, dtype, shape):
    rng = np.random.default_rng(1)
    array = (rng.normal(0, 100, shape) if dtype[0] == "f" else rng.integers(-100, 100, shape)).astype(dtype)
    if dtype == "u1":
        array = rng.integers(0, 256, shape).astype(np.uint8)
    got = read_idx_array(write(tmp_path / "a.idx", idx_bytes(array)))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "0 bytes, too short for an IDX header"),
        (b"\0\0\x08", "3 bytes, too short"),
        (b"PK\x03\x04" + bytes(20), "not an IDX file: it starts with bytes 50 4b 03 04"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"x", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "declares no dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated inside the IDX header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 0), "holds no samples"),
        (b"\x00\x00\x08\x02" + struct.pack(">II", 3, 0), "holds no samples"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 4) + b"abc", "truncated: the header declares uint8 \\[4\\]"),
        (b"\x00\x00\x0b\x01" + struct.pack(">I", 2) + b"abc", "truncated: the header declares int16 \\[2\\]"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"abc", "longer than its header says"),
    ],
)
def test_damaged_idx_files_are_refused_in_one_line(tmp_path, data, match, compress):
    file = write(tmp_path / "bad-idx", data, compress)
    message = refused(lambda: read_idx_array(file), file, match=match)
    assert ("gzip" in message) == compress


def test_header_dims_against_file_size_name_both(tmp_path, mnist):
    pixels, _ = mnist
    file = write(tmp_path / "images", idx_bytes(pixels)[:-1])
    refused(lambda: read_idx_array(file), file, match=r"uint8 \[7, 5, 4\], 140 bytes, but 139 bytes follow")


def test_a_damaged_gzip_stream_is_one_line(tmp_path, mnist):
    pixels, _ = mnist
    packed = gzip.compress(idx_bytes(pixels))
    cut = write(tmp_path / "cut.gz", packed[:-12])
    refused(lambda: read_idx_array(cut), cut, match="damaged gzip data")
    flipped = bytearray(packed)
    flipped[-6] ^= 0xFF  # the CRC
    bad_crc = write(tmp_path / "crc.gz", bytes(flipped))
    refused(lambda: read_idx_array(bad_crc), bad_crc, match="damaged gzip data")
    garbage = write(tmp_path / "garbage.gz", b"\x1f\x8b" + bytes(range(256)))
    refused(lambda: read_idx_array(garbage), garbage, match="damaged gzip data")


def test_a_huge_declared_size_is_refused_before_anything_is_allocated(tmp_path):
    huge = b"\x00\x00\x0e\x03" + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(64)
    for compress in (False, True):
        file = write(tmp_path / f"huge{compress}", huge, compress)
        tracemalloc.start()
        try:
            message = refused(
                lambda f=file: read_idx_array(f), file, match=r"the header declares float64 .* GB"
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2**20
        assert "limit" not in message  # a sample limit would not lift this one


def test_a_declared_size_within_the_limit_but_missing_is_never_allocated(tmp_path):
    """A small gzip that declares 900 MB: reading stops when the data runs out, memory stays small."""
    file = write(
        tmp_path / "liar.gz", b"\x00\x00\x08\x03" + struct.pack(">III", 900_000, 1000, 1) + bytes(99), True
    )
    tracemalloc.start()
    try:
        refused(lambda: read_idx_array(file), file, match="truncated: the header declares .* only 99 follow")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**25


def test_a_gzip_bomb_is_stopped_at_the_declared_size(tmp_path):
    """1 KB declared, 64 MB of zeros packed into a small file: decompression stops past 1 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    parts = [packer.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 1024))]
    zeros = bytes(2**20)
    parts += [packer.compress(zeros) for _ in range(64)]
    file = write(tmp_path / "bomb.idx", b"".join(parts) + packer.flush())
    assert file.stat().st_size < 2**20
    tracemalloc.start()
    try:
        refused(lambda: read_idx_array(file), file, match="longer than its header says")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**25


def test_the_size_limit_is_the_callers(tmp_path, mnist):
    pixels, labels = mnist
    images = write(tmp_path / "images.gz", idx_bytes(pixels), compress=True)
    refused(lambda: read_idx_array(images, max_bytes=100), images, match="up to 1e-07 GB is read")


def test_idx_files_that_do_not_pair_are_refused(tmp_path, mnist):
    pixels, labels = mnist
    images = write(tmp_path / "train-images", idx_bytes(pixels))
    label_file = write(tmp_path / "train-labels", idx_bytes(labels))
    refused(lambda: read_idx(label_file, images), label_file, match="is this the labels file")
    refused(lambda: read_idx(images, images), images, match="labels are integers .*is this the images file")
    floats = write(tmp_path / "float-labels", idx_bytes(labels.astype(np.float32)))
    refused(lambda: read_idx(images, floats), floats, match=r"holds float32 \[7\]; labels are integers")
    fewer = write(tmp_path / "fewer-labels", idx_bytes(labels[:5]))
    refused(
        lambda: read_idx(images, fewer, limit=2), fewer, images, match="holds 5 labels but .* holds 7 images"
    )
    negative = write(tmp_path / "negative", idx_bytes(np.array([0, 1, -3, 0, 0, 0, 0], np.int8)))
    refused(lambda: read_idx(images, negative), negative, match="label 2 is -3")
    int_images = write(tmp_path / "int-images", idx_bytes(pixels.astype(np.int16)))
    refused(
        lambda: read_idx(int_images, label_file),
        int_images,
        match=r"holds int16 \[7, 5, 4\]; images are uint8",
    )


def test_idx_paths_that_are_not_files(tmp_path):
    missing = tmp_path / "nothing"
    refused(lambda: read_idx_array(missing), missing, match="no such file or folder")
    refused(lambda: read_idx_array(tmp_path), tmp_path, match="a folder, not an IDX file")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    refused(lambda: read_idx_array(loop), loop, match="a symbolic link loop")
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "gone")
    refused(lambda: read_idx_array(broken), broken, match="a broken symbolic link")
    for bad in (None, "", 3):
        refused(lambda b=bad: read_idx_array(b), match="expected a file or folder path")


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "3"])
def test_a_bad_limit_is_refused(tmp_path, limit):
    refused(lambda: read_idx_array(tmp_path / "x", limit=limit), match="limit must be a positive number")


def test_unicode_and_control_characters_in_names_stay_on_one_line(tmp_path):
    file = write(tmp_path / "ünï cødé 数据\nsecond line\x1b.idx", b"nope")
    message = refused(lambda: read_idx_array(file), match="not an IDX file")
    assert "ünï cødé 数据\\nsecond line\\x1b.idx" in message
    if sys.platform != "darwin":  # macOS refuses names that are not UTF-8
        raw = os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff\xfe.idx")
        write(Path(raw), b"nope")
        message = refused(lambda: read_idx_array(raw), match="not an IDX file")
        message.encode("utf-8")  # a lone surrogate would fail here
        assert "bad\\udcff\\udcfe.idx" in message


# --- CIFAR-10 ----------------------------------------------------------------------------------------


def cifar_batch(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([labels[:, None], pixels.reshape(n, -1)], 1)
    return records.tobytes(), labels, pixels


@pytest.fixture
def cifar(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    batches = {}
    for name, n in [
        ("data_batch_1.bin", 3),
        ("data_batch_2.bin", 2),
        ("data_batch_10.bin", 4),
        ("test_batch.bin", 2),
    ]:
        data, labels, pixels = cifar_batch(rng, n)
        write(folder / name, data)
        batches[name] = labels, pixels
    (folder / "readme.html").write_text("not a batch")
    return folder, batches


def test_cifar_folder_round_trips_in_batch_order(cifar):
    folder, batches = cifar
    data = read_cifar10(folder)
    order = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_10.bin"]  # by number, not by text
    labels = np.concatenate([batches[name][0] for name in order])
    pixels = np.concatenate([batches[name][1] for name in order])
    assert data.x.dtype == np.float32 and data.x.shape == (9, 3, 32, 32)
    np.testing.assert_array_equal(data.x, pixels.astype(np.float32) / np.float32(255))
    assert data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, labels)
    assert data.classes[:3] == ("airplane", "automobile", "bird") and len(data.classes) == 10
    red_corner = pixels[0, 0, 0, 0]  # the first pixel byte after the label is the top-left red value
    assert (folder / "data_batch_1.bin").read_bytes()[1] == red_corner


def test_cifar_test_split_one_file_limit_flatten_and_names(cifar):
    folder, batches = cifar
    test = read_cifar10(folder, split="test")
    np.testing.assert_array_equal(test.y, batches["test_batch.bin"][0])
    one = read_cifar10(folder / "data_batch_2.bin", flatten=True)
    assert one.x.shape == (2, 3072)
    np.testing.assert_array_equal(one.x, batches["data_batch_2.bin"][1].reshape(2, -1) / np.float32(255))
    limited = read_cifar10(folder, limit=4)
    np.testing.assert_array_equal(
        limited.y, np.concatenate([batches["data_batch_1.bin"][0], batches["data_batch_2.bin"][0][:1]])
    )
    names = [f"klasse_{i}" for i in range(10)]
    (folder / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    assert read_cifar10(folder / "test_batch.bin").classes == tuple(names)
    (folder / "batches.meta.txt").write_text("a\nb\n")
    refused(
        lambda: read_cifar10(folder), folder / "batches.meta.txt", match="names 2 classes; CIFAR-10 has 10"
    )


def test_damaged_cifar_batches_are_refused(tmp_path):
    rng = np.random.default_rng(3)
    data, _, _ = cifar_batch(rng, 2)
    cut = write(tmp_path / "cut.bin", data[:-1])
    refused(lambda: read_cifar10(cut), cut, match="6145 bytes is not a whole number of CIFAR-10 records")
    empty = write(tmp_path / "empty.bin", b"")
    refused(lambda: read_cifar10(empty), empty, match="0 bytes is not a whole number")
    wrong = bytearray(data)
    wrong[3073] = 10
    label = write(tmp_path / "label.bin", bytes(wrong))
    refused(lambda: read_cifar10(label), label, match="record 1 has label 10; CIFAR-10 labels are 0 to 9")
    packed = write(tmp_path / "packed.bin", data, compress=True)
    refused(lambda: read_cifar10(packed), packed, match="gzip-compressed; extract")
    pickled = write(tmp_path / "data_batch_1", b"\x80\x02}q\x00." + bytes(3073))
    refused(lambda: read_cifar10(pickled), pickled, match="pickled .* never loaded")
    refused(
        lambda: read_cifar10(tmp_path), tmp_path, match="its data_batch_1 without .bin is the Python version"
    )
    refused(lambda: read_cifar10(tmp_path, split="test"), tmp_path, match="no test_batch.bin in this folder")
    refused(lambda: read_cifar10(tmp_path, split="valid"), match="split must be train or test")
    good = write(tmp_path / "good.bin", data)
    refused(lambda: read_cifar10(good, max_bytes=10, limit=1), good, match="as float32 the images take")


def test_cifar_paths_that_are_not_batches(tmp_path):
    (tmp_path / "data_batch_1.bin").symlink_to(tmp_path / "gone")
    refused(lambda: read_cifar10(tmp_path), tmp_path / "data_batch_1.bin", match="a broken symbolic link")
    (tmp_path / "data_batch_1.bin").unlink()
    (tmp_path / "data_batch_1.bin").mkdir()
    refused(lambda: read_cifar10(tmp_path), tmp_path / "data_batch_1.bin", match="a folder, not a batch file")
    refused(lambda: read_cifar10(tmp_path / "none"), tmp_path / "none", match="no such file or folder")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    refused(lambda: read_cifar10(loop), loop, match="a symbolic link loop")


# --- folders of images -------------------------------------------------------------------------------


def save(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def pets(tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(4)
    root = tmp_path / "pets"
    saved = {}
    for name, files in [
        ("dog", ["b.png", "a.png"]),
        ("cat", ["z.png"]),
        ("čaj 日本", ["x.bmp", "deep/er/y.png"]),
    ]:
        for file in files:
            pixels = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
            saved[name, file] = save(root / name / file, pixels), pixels
    (root / "README.txt").write_text("files at the top are not classes")
    (root / ".cache").mkdir()
    (root / "dog" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root, saved


def test_image_folder_round_trips_rgb(pets):
    root, saved = pets
    data = read_image_folder(root, size=(3, 4))
    assert data.classes == ("cat", "dog", "čaj 日本")  # sorted; hidden folders and top-level files skipped
    expected = [saved["cat", "z.png"], saved["dog", "a.png"], saved["dog", "b.png"]]
    expected += [saved["čaj 日本", "deep/er/y.png"], saved["čaj 日本", "x.bmp"]]  # sorted by path
    assert data.x.dtype == np.float32 and data.x.shape == (5, 3, 3, 4)
    for x, (_, pixels) in zip(data.x, expected):
        np.testing.assert_array_equal(x, pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(data.y, [0, 1, 1, 2, 2])
    assert data.y.dtype == np.int64


def test_image_folder_grayscale_resize_and_flatten(pets):
    from PIL import Image

    root, saved = pets
    gray = read_image_folder(root, size=(3, 4), mode="grayscale")
    assert gray.x.shape == (5, 1, 3, 4)
    file, _ = saved["cat", "z.png"]
    expected = np.asarray(Image.open(file).convert("L"))
    np.testing.assert_array_equal(gray.x[0, 0], expected / np.float32(255))
    small = read_image_folder(root, size=2, flatten=True)
    assert small.x.shape == (5, 12) and 0 <= small.x.min() and small.x.max() <= 1
    wide = read_image_folder(root, size=[6, 9], mode="grayscale")
    assert wide.x.shape == (5, 1, 6, 9)


def test_image_folder_limit_keeps_the_classes_even(tmp_path):
    pytest.importorskip("PIL")
    for name, n in [("a", 5), ("b", 1), ("c", 3)]:
        for i in range(n):
            save(tmp_path / name / f"{i}.png", np.full((2, 2), i * 10 + ord(name), np.uint8))
    data = read_image_folder(tmp_path, size=2, mode="grayscale", limit=5)
    np.testing.assert_array_equal(data.y, [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(data.x[:, 0, 0, 0] * 255, [97, 107, 98, 99, 109])
    assert len(read_image_folder(tmp_path, size=2, limit=8).y) == 8
    assert len(read_image_folder(tmp_path, size=2, limit=100).y) == 9


def test_image_folders_without_images_are_refused(tmp_path):
    pytest.importorskip("PIL")
    refused(
        lambda: read_image_folder(tmp_path, size=2),
        tmp_path,
        match="no class sub-folders .the folder is empty",
    )
    save(tmp_path / "loose.png", np.zeros((2, 2), np.uint8))
    refused(lambda: read_image_folder(tmp_path, size=2), tmp_path, match="it holds 1 files: put each class")
    save(tmp_path / "full" / "a.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden.png").write_bytes(b"")
    refused(lambda: read_image_folder(tmp_path, size=2), tmp_path / "empty", match="'empty' holds no images")
    refused(lambda: read_image_folder(tmp_path / "loose.png", size=2), match="a file, not a folder")
    refused(lambda: read_image_folder(tmp_path / "nope", size=2), match="no such file or folder")


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("notes.txt", b"a cat, probably", r"not an image \(PNG, JPEG"),
        ("cat.png", b"\x89PNG\r\n\x1a\n" + bytes(40), "a damaged image|not an image"),
        ("empty.jpg", b"", "not an image"),
        ("drawing.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),
    ],
)
def test_files_that_are_not_images_are_refused(tmp_path, name, data, match):
    pytest.importorskip("PIL")
    save(tmp_path / "a" / "fine.png", np.zeros((2, 2), np.uint8))
    bad = write(tmp_path / "a" / name, data)
    refused(lambda: read_image_folder(tmp_path, size=2), bad, match=match)


def test_a_truncated_image_is_refused(tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(5)
    file = save(tmp_path / "a" / "noise.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    file.write_bytes(file.read_bytes()[:-2000])
    refused(lambda: read_image_folder(tmp_path, size=8), file, match="a damaged image")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size and holds no pixels: opening it costs nothing, decoding would."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    )


@pytest.mark.parametrize("side", [6_000, 60_000])  # over our limit; over Pillow's own too
def test_a_decompression_bomb_is_refused_by_its_declared_size(tmp_path, side):
    pytest.importorskip("PIL")
    bomb = write(tmp_path / "a" / "bomb.png", png_header_only(side, side))
    tracemalloc.start()
    try:
        refused(
            lambda: read_image_folder(tmp_path, size=8), bomb, match="too large an image .*; images of up to"
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**25


def test_links_in_image_folders(tmp_path):
    pytest.importorskip("PIL")
    save(tmp_path / "a" / "1.png", np.zeros((2, 2), np.uint8))
    outside = save(tmp_path.parent / f"{tmp_path.name}-outside" / "2.png", np.full((2, 2), 7, np.uint8))
    (tmp_path / "a" / "linked").symlink_to(outside.parent)
    (tmp_path / "b").symlink_to(tmp_path / "a")  # a class folder may be a link
    data = read_image_folder(tmp_path, size=2, mode="grayscale")
    np.testing.assert_array_equal(data.y, [0, 0, 1, 1])
    np.testing.assert_array_equal(data.x[:, 0, 0, 0] * 255, [0, 7, 0, 7])
    loop = tmp_path / "a" / "again"
    loop.symlink_to(tmp_path / "a")
    refused(lambda: read_image_folder(tmp_path, size=2), loop, match="a symbolic link loop .it leads back to")
    loop.unlink()
    up = tmp_path / "a" / "up"
    up.symlink_to(tmp_path)
    refused(lambda: read_image_folder(tmp_path, size=2), up, match="a symbolic link loop")
    up.unlink()
    itself = tmp_path / "a" / "itself.png"
    itself.symlink_to(itself)
    refused(lambda: read_image_folder(tmp_path, size=2), itself, match="a symbolic link loop")
    itself.unlink()
    broken = tmp_path / "a" / "broken.png"
    broken.symlink_to(tmp_path / "gone.png")
    refused(lambda: read_image_folder(tmp_path, size=2), broken, match="a broken symbolic link")
    broken.unlink()
    (tmp_path / "c").symlink_to(tmp_path / "c")
    refused(lambda: read_image_folder(tmp_path, size=2), tmp_path / "c", match="a symbolic link loop")
    (tmp_path / "c").unlink()
    os.mkfifo(tmp_path / "a" / "pipe.png")  # opening it would wait forever
    refused(
        lambda: read_image_folder(tmp_path, size=2), tmp_path / "a" / "pipe.png", match="not a plain file"
    )


def test_unicode_class_and_file_names(tmp_path):
    pytest.importorskip("PIL")
    save(tmp_path / "Ünïcødé" / "фото 1.png", np.full((2, 2), 9, np.uint8))
    save(tmp_path / "日本" / "写真.png", np.full((2, 2), 5, np.uint8))
    bad = write(tmp_path / "日本" / "説明\n.txt", b"words")
    message = refused(lambda: read_image_folder(tmp_path, size=2), match="not an image")
    assert "説明\\n.txt" in message
    bad.unlink()
    data = read_image_folder(tmp_path, size=2, mode="grayscale")
    assert data.classes == ("Ünïcødé", "日本")
    np.testing.assert_array_equal(data.x[:, 0, 0, 0] * 255, [9, 5])
    if sys.platform != "darwin":
        raw = Path(os.fsdecode(os.fsencode(tmp_path) + b"/cls\xff"))
        save(raw / "a.png", np.zeros((2, 2), np.uint8))
        refused(lambda: read_image_folder(tmp_path, size=2), match="name is not valid UTF-8")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"size": 0}, "image size must be"),
        ({"size": (2, 5000)}, "image size must be"),
        ({"size": (2, 2, 2)}, "image size must be"),
        ({"size": True}, "image size must be"),
        ({"size": "32"}, "image size must be"),
        ({"size": 2, "mode": "RGBA"}, "image mode must be grayscale or rgb"),
        ({"size": 2, "limit": 0}, "limit must be a positive number"),
    ],
)
def test_bad_image_folder_options(tmp_path, options, match):
    refused(lambda: read_image_folder(tmp_path, **options), match=match)


def test_without_pillow_the_message_says_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    message = refused(lambda: read_image_folder(tmp_path, size=2), tmp_path, match="needs Pillow")
    assert "pip install 'backprop-studio[images]'" in message and "pip install pillow" in message


# --- scikit-learn's digits ---------------------------------------------------------------------------


def test_digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    data = read_digits()
    assert data.x.dtype == np.float32 and data.x.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(data.x[:, 0] * 16, load_digits().images)
    assert data.x.min() == 0 and data.x.max() == 1
    assert data.y.dtype == np.int64 and set(data.y) == set(range(10))
    assert data.classes == tuple("0123456789")
    few = read_digits(limit=10, flatten=True)
    assert few.x.shape == (10, 64)
    np.testing.assert_array_equal(few.y, load_digits().target[:10])


def test_without_scikit_learn_the_message_says_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    message = refused(read_digits, match="the digits dataset needs scikit-learn")
    assert "pip install 'backprop-studio[digits]'" in message and "scikit-learn" in message
    refused(lambda: read_digits(limit=-2), match="limit must be a positive number")


# --- the readers as dataset sections -----------------------------------------------------------------


def test_sections_read_paths_relative_to_the_graph_file(tmp_path, mnist, cifar):
    pixels, labels = mnist
    write(tmp_path / "data" / "images.gz", idx_bytes(pixels), compress=True)
    write(tmp_path / "data" / "labels", idx_bytes(labels))
    section = {
        "name": "idx",
        "images": "data/images.gz",
        "labels": "data/labels",
        "seed": 1,
        "validation": 0.2,
    }
    data = read_dataset("idx", {**section, "limit": 4, "flatten": True}, tmp_path)
    assert data.x.shape == (4, 20)
    np.testing.assert_array_equal(data.y, labels[:4])
    folder, batches = cifar
    data = read_dataset(
        "cifar10", {"name": "cifar10", "path": str(folder), "split": "test"}, tmp_path / "elsewhere"
    )
    np.testing.assert_array_equal(data.y, batches["test_batch.bin"][0])


def test_sections_are_refused_in_one_line(tmp_path):
    refused(lambda: read_dataset("idx", {"images": "a"}, tmp_path), match="dataset 'idx': give 'labels'")
    refused(lambda: read_dataset("image_folder", {"path": "a"}, tmp_path), match="give 'size'")
    refused(
        lambda: read_dataset("idx", {"images": 3, "labels": "b"}, tmp_path), match="'images' must be a path"
    )
    refused(
        lambda: read_dataset("digits", {"max_bytes": 1}, tmp_path),
        match="unknown key 'max_bytes' .known: limit, flatten",
    )
    missing = tmp_path / "gone"
    refused(lambda: read_dataset("cifar10", {"path": "gone"}, tmp_path), missing, match="no such file")
    assert reader_options("image_folder") == ("path", "size", "mode", "limit", "flatten")
    assert reader_options("idx") == ("images", "labels", "limit", "flatten")


def test_the_hooks_in_datasets_and_dataset_config_keep_in_step(tmp_path, mnist):
    """Runs once graphcore.training.datasets and dataset_config call the readers."""
    from graphcore.training import dataset_config, datasets
    from graphcore.training.checks import TrainingConfigError

    if not hasattr(datasets, "READER_NAMES") or not hasattr(dataset_config, "READER_KEYS"):
        pytest.skip("datasets.build and dataset_config do not call the readers yet")
    assert list(datasets.READER_NAMES) == list(READERS) == list(dataset_config.READER_KEYS)
    for name, keys in dataset_config.READER_KEYS.items():
        assert list(keys) == list(reader_options(name)), name
    pixels, labels = mnist
    write(tmp_path / "i", idx_bytes(pixels))
    write(tmp_path / "l", idx_bytes(labels))
    section = {"name": "idx", "images": "i", "labels": "l", "validation": 0.25}
    assert dataset_config.check_dataset(section)[1] == ("x", "y")
    fields = datasets.build(section, tmp_path)
    np.testing.assert_array_equal(fields["y"], labels)
    assert fields["x"].shape == (7, 1, 5, 4)
    for bad, match in [
        ({"name": "idx", "images": "i"}, r"training.dataset.labels: is required"),
        (
            {"name": "idx", "images": "i", "labels": "l", "limit": 0},
            "training.dataset.limit: must be a positive",
        ),
        (
            {"name": "image_folder", "path": "p", "size": [2, 2, 2]},
            r"training.dataset.size: must be \[height",
        ),
        (
            {"name": "image_folder", "path": "p", "size": [2, 0]},
            r"training.dataset.size\[1\]: must be a positive",
        ),
        ({"name": "cifar10", "path": "p", "split": "dev"}, "unknown split 'dev'"),
        ({"name": "digits", "flatten": 1}, "training.dataset.flatten: must be true or false"),
        ({"name": "digits", "path": "p"}, "training.dataset.path: unknown key"),
        ({"name": "mnist"}, "unknown dataset 'mnist' .* idx, cifar10, image_folder, digits, text, file"),
    ]:
        with pytest.raises(TrainingConfigError, match=match):
            dataset_config.check_dataset(bad)
    assert dataset_config.check_dataset(
        {"name": "image_folder", "path": "p", "size": 28, "mode": "grayscale"}
    )


def test_a_trainer_learns_from_idx_files(tmp_path):
    """The CNN example trained on its bars and stripes written out as MNIST-style files (uint8, gzip)."""
    from graphcore.training import datasets

    if not hasattr(datasets, "READER_NAMES"):
        pytest.skip("datasets.build does not call the readers yet")
    pytest.importorskip("torch")
    from graphcore.files.fileformat import load
    from graphcore.training.train import Trainer

    toy = datasets.bars_and_stripes(np.random.default_rng(0), n=256, noise=0.0)
    pixels = (toy["x"][:, 0] * 255).round().astype(np.uint8)
    write(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(pixels), compress=True)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(toy["y"].astype(np.uint8)), compress=True)
    section = {"name": "idx", "images": "train-images-idx3-ubyte.gz", "labels": "train-labels-idx1-ubyte.gz"}
    graph = load(Path(__file__).parents[2] / "examples" / "cnn_bars_stripes.json")
    result = Trainer(graph, base_dir=tmp_path, overrides={"dataset": section}).run()
    assert result.validation["accuracy"] >= 0.9
