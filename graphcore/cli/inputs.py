"""`--input NAME=FILE.npy` (or FILE.npz:KEY): arrays read from files to feed Input nodes of run, grad and steps.

Files are read without pickle and only up to MAX_BYTES; what the array must be to fit its Input
(shape, whole numbers, range) is graphcore.feeds' check, so the app and the CLI refuse the same things.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphcore.cli.common import UsageError
from graphcore.feeds import check_array, find_input
from graphcore.program import Program

MAX_BYTES = 256 * 2**20  # an input larger than this is not a batch to look at
NPY_MAGIC, NPZ_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def split_argument(text: str) -> tuple[str, str, str | None]:
    """NAME=FILE, NAME=FILE.npy or NAME=FILE.npz:KEY as (name, file, key or None)."""
    name, equals, file = text.partition("=")
    if not equals:
        raise ValueError("expected NAME=FILE.npy (an Input node's id or label, '=', a .npy file)")
    if not name:
        raise ValueError("the Input's name before '=' is empty")
    if not file:
        raise ValueError("the file name after '=' is empty")
    stem, colon, key = file.rpartition(":")
    if colon and stem.lower().endswith(".npz"):
        return name, stem, key
    return name, file, None


def read_array(file: str, key: str | None) -> np.ndarray:
    """The array in a .npy file (or one entry of a .npz), refused when it is large or needs pickle."""
    path = Path(file)
    if not path.is_file():
        raise ValueError(f"no file {file!r}" if not path.exists() else f"{file!r} is not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"the file has {size / 2**20:.1f} MB; inputs are limited to {MAX_BYTES // 2**20} MB")
    with path.open("rb") as handle:
        magic = handle.read(6)
    if magic.startswith(NPZ_MAGIC):
        return _read_npz(path, key)
    if magic != NPY_MAGIC:
        raise ValueError("not a NumPy .npy file (save the array with numpy.save)")
    if key is not None:
        raise ValueError(f"a .npy file holds one array: drop ':{key}'")
    return _load(path)


def _read_npz(path: Path, key: str | None) -> np.ndarray:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        if key is None:
            if len(members) != 1:
                raise ValueError(
                    f"the .npz holds {len(members)} arrays: pick one as FILE.npz:KEY ({_names(members)})"
                )
            key = next(iter(members))
        if key not in members:
            raise ValueError(f"the .npz has no array {key!r} (it has {_names(members)})")
        if members[key].file_size > MAX_BYTES:
            raise ValueError(f"array {key!r} unpacks to more than {MAX_BYTES // 2**20} MB")
        with archive.open(members[key]) as handle:
            return _load(handle)


def _names(members: dict[str, Any]) -> str:
    shown = ", ".join(list(members)[:8])
    return shown + (", …" if len(members) > 8 else "") if members else "none"


def _load(source: Any) -> np.ndarray:
    try:
        array = np.load(source, allow_pickle=False)
    except ValueError as error:  # object arrays need pickle; a truncated or garbled header
        reason = "it holds Python objects, which are not read" if "pickle" in str(error) else str(error)
        raise ValueError(f"cannot read the array: {reason}") from None
    except EOFError:
        raise ValueError("cannot read the array: the file ends early") from None
    if not isinstance(array, np.ndarray):
        raise ValueError("not a single array")
    return array


def read_inputs(program: Program, arguments: Sequence[str]) -> dict[str, np.ndarray]:
    """Each --input argument's array, keyed by the id of the Input it feeds, checked to fit it (symbolic
    dims bound alike across them). A bad argument is a UsageError quoting it and saying what is wrong."""
    arrays: dict[str, np.ndarray] = {}
    quoted: dict[str, str] = {}
    dims: dict[str, int] = {}
    for text in arguments:
        try:
            name, file, key = split_argument(text)
            instr = find_input(program, name)
            if instr.node in arrays:
                raise ValueError(f"Input {instr.node!r} is already given by --input {quoted[instr.node]!r}")
            arrays[instr.node] = read_array(file, key)
            check_array(program, instr, arrays[instr.node], dims)
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise UsageError(f"--input {text[:120]!r}: {_reason(error)}") from None
        quoted[instr.node] = text[:120]
    return arrays


def _reason(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError | IsADirectoryError | PermissionError):
        return f"cannot open the file: {error.strerror}"
    if isinstance(error, zipfile.BadZipFile):
        return "not a readable .npz archive"
    return str(error)
