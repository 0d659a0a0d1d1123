"""A graph's weights in a side file: safetensors beside the graph file, which names it (`"weights"`).

A graph file records how weights start (an init scheme and a seed); a trained or imported model
needs the values themselves. They live in a safetensors file (a JSON header and raw numbers, so
reading one never runs code, unlike a pickle). Its keys are the model's own state_dict names
(`layer1.0.conv1.weight` for an imported ResNet), and its metadata says where each belongs in the
graph (`graphcore.places`: key -> "node" or "node.weight") and which keys share one tensor
(`graphcore.ties`: `lm_head.weight` -> `transformer.wte.weight`, stored once). The runtime puts
the values into the generated module after it is built; a node the file does not mention keeps its
init. Every refusal is one WeightsError line naming the file and the key.
"""

from __future__ import annotations

import json
import math
import re
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphcore.files.atomic_write import write_bytes_atomic

if TYPE_CHECKING:
    from graphcore.graph import Graph

SUFFIX = ".safetensors"
MAX_HEADER_BYTES = 16 * 2**20  # a header lists names, dtypes, shapes and offsets: megabytes at most
MAX_FILE_BYTES = 16 * 2**30
# safetensors dtype -> (torch dtype name, bytes per value); a weight is a float, a counter an int64
DTYPES = {"F32": ("float32", 4), "F64": ("float64", 8), "I64": ("int64", 8)}
PLACES, TIES = "graphcore.places", "graphcore.ties"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,150}")


class WeightsError(ValueError):
    """A weights file that cannot be used; the message is one line naming the file and the key."""


@dataclass
class Weights:
    """The graph's weights: the file name the graph file writes, and (once read) the values."""

    reference: str  # the side file's name, beside the graph file
    tensors: dict[str, Any] | None = None  # own name -> tensor; None: named by the file, not read yet
    places: dict[str, str] = field(default_factory=dict)  # own name -> "node" or "node.key"
    ties: dict[str, str] = field(default_factory=dict)  # own name -> the own name it shares a tensor with
    origin: Path | None = None  # the file the values were read from or last written to


def check_reference(reference: Any, where: str = "weights") -> str:
    """A side file's name as the graph file gives it: a plain ASCII file name ending in .safetensors,
    so it can only name a file in the graph file's own folder (no folders, no `..`, no absolute path)."""
    if not isinstance(reference, str):
        raise WeightsError(f"{where}: expected the weights file's name, got {type(reference).__name__}")
    shown = ascii(reference[:80])
    if reference.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", reference):
        raise WeightsError(f"{where}: {shown} is an absolute path; name a file beside the graph file")
    if "/" in reference or "\\" in reference:
        raise WeightsError(f"{where}: {shown} names a folder; name a file beside the graph file")
    if not _NAME.fullmatch(reference) or not reference.endswith(SUFFIX) or ".." in reference:
        raise WeightsError(
            f"{where}: {shown}: a weights file name is ASCII letters, digits, '_', '-' and '.' "
            f"ending in {SUFFIX}"
        )
    return reference


def reference_for(graph_file: Path) -> str:
    """The side file's name for a graph file: its stem, made a safe name (`model.json` -> `model.safetensors`)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", graph_file.stem).strip("_") or "weights"
    return stem[:100] + SUFFIX


# --- reading -------------------------------------------------------------------------------------


def read(folder: Path, reference: str) -> Weights:
    """The weights file `reference` in `folder`, checked before any value is used."""
    path = folder / check_reference(reference)
    data = _read_bytes(path)
    header, body = _header(path, data)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise WeightsError(f"{path}: __metadata__: expected an object of strings")
    places, ties = _table(path, meta, PLACES), _table(path, meta, TIES)
    for key, entry in header.items():
        _check_entry(path, key, entry, len(body))
        if key not in places:
            raise WeightsError(f"{path}: key {key!r}: {PLACES} does not say which node it belongs to")
    for key, source in ties.items():
        if source not in header or key in header or key not in places:
            raise WeightsError(f"{path}: key {key!r}: tied to {source!r}, which the file does not hold")
    for key in places:
        if key not in header and key not in ties:
            raise WeightsError(f"{path}: key {key!r}: named in {PLACES} but the file holds no such tensor")
    import safetensors.torch

    from graphcore._torch import torch

    try:
        tensors = safetensors.torch.load(data)
    except Exception as error:  # the header passed our checks; the library may still refuse
        raise WeightsError(f"{path}: not a safetensors file ({_first_line(error)})") from None
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{path}: key {key!r}: holds NaN or infinite values")
    return Weights(reference, dict(tensors), places, ties, path.resolve())


def check_nodes(weights: Weights, graph: Graph) -> None:
    """Every key belongs to a node of the graph as it runs, its blocks inlined: a key of an inlined
    node names its flat id ("res1/2/fc.weight"). What the weights are, the runtime checks."""
    from graphcore.blocks import has_flat_node

    for key, place in weights.places.items():
        node = place.partition(".")[0]
        if not has_flat_node(graph, node):
            raise WeightsError(f"{weights.origin}: key {key!r}: the graph has no node {node!r}")


def _read_bytes(path: Path) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise WeightsError(f"{path}: is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise WeightsError(
                f"{path}: is {info.st_size / 2**30:.1f} GB; at most {MAX_FILE_BYTES // 2**30} GB are read"
            )
        with path.open("rb") as file:
            return file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file (the graph file names it as its weights)") from None
    except OSError as error:
        raise WeightsError(
            f"{path}: cannot read ({' '.join(str(error.strerror or error).split())})"
        ) from None


def _header(path: Path, data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the bytes after it: 8 bytes of header length, the header, the data."""
    if len(data) < 8:
        raise WeightsError(f"{path}: not a safetensors file (truncated: {len(data)} bytes)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_HEADER_BYTES:
        raise WeightsError(f"{path}: a header of {size:,} bytes; at most {MAX_HEADER_BYTES:,} are read")
    if 8 + size > len(data):
        raise WeightsError(f"{path}: truncated (its header needs {size:,} bytes, {len(data) - 8:,} follow)")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise WeightsError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: not a safetensors file (its header is not an object)")
    return header, data[8 + size :]


def _table(path: Path, meta: Mapping[str, str], name: str) -> dict[str, str]:
    try:
        table = json.loads(meta.get(name, "{}"))
    except json.JSONDecodeError:
        table = None
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise WeightsError(f"{path}: __metadata__.{name}: expected a JSON object of names")
    return table


def _check_entry(path: Path, key: str, entry: Any, body: int) -> None:
    where = f"{path}: key {key!r}"
    if not isinstance(entry, dict):
        raise WeightsError(f"{where}: expected an object with dtype, shape and data_offsets")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPES:
        raise WeightsError(f"{where}: dtype {str(dtype)[:20]}; weights are {', '.join(DTYPES)}")
    if not isinstance(shape, list) or not all(type(d) is int and 0 <= d < 2**40 for d in shape):
        raise WeightsError(f"{where}: shape is not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise WeightsError(f"{where}: data_offsets is not [start, end]")
    start, end = offsets
    if not 0 <= start <= end or end - start != math.prod(shape) * DTYPES[dtype][1]:
        raise WeightsError(f"{where}: data_offsets do not fit its shape {shape} of {dtype}")
    if end > body:
        raise WeightsError(f"{where}: truncated (its data ends at byte {end:,}, the file holds {body:,})")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


# --- writing -------------------------------------------------------------------------------------


def write(folder: Path, weights: Weights) -> Path:
    """Write `weights` as its reference in `folder` (atomically); returns the path written."""
    import safetensors.torch

    if weights.tensors is None:
        raise ValueError("weights that were never read cannot be written")
    path = folder / check_reference(weights.reference)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in weights.tensors.items()}
    meta = {PLACES: json.dumps(weights.places), TIES: json.dumps(weights.ties)}
    write_bytes_atomic(path, safetensors.torch.save(tensors, meta), keep_backup=False)
    weights.origin = path.resolve()
    return path


def write_beside(graph_file: Path, weights: Weights) -> None:
    """Write `weights` beside `graph_file` unless they are there already; weights never written
    take their name from the graph file (`model.json` -> `model.safetensors`)."""
    if weights.tensors is None:
        return
    if weights.origin is None:
        weights.reference = reference_for(graph_file)
    if weights.origin != (graph_file.parent / weights.reference).resolve():
        write(graph_file.parent, weights)


def collect(
    module: Any, attributes: Mapping[str, str], reference: str, previous: Weights | None = None
) -> Weights:
    """The generated module's current values as Weights: keys keep `previous`'s own names where it
    has one for the place (an imported model stays in its names), else the module's state_dict names.
    A Parameter reached under two names is stored once and tied."""
    node_of = {attr: node for node, attr in attributes.items()}
    own = {place: key for key, place in (previous.places if previous else {}).items()}
    tensors: dict[str, Any] = {}
    weights = Weights(reference, tensors)
    seen: dict[int, str] = {}
    for name, value in module.state_dict(keep_vars=True).items():
        attr, dot, local = name.partition(".")
        place = f"{node_of[attr]}{dot}{local}"
        key = own.get(place, name)
        weights.places[key] = place
        if id(value) in seen:
            weights.ties[key] = seen[id(value)]
        else:
            seen[id(value)] = key
            tensors[key] = value
    return weights


# --- into a generated module ---------------------------------------------------------------------


def apply(weights: Weights, module: Any, attributes: Mapping[str, str]) -> None:
    """Put the values into `module` (the generated one, its attributes per node) and tie what is tied.

    Every key must name a weight of the module with the same shape and kind of dtype, and a node the
    file mentions must get all its weights from it; floats are converted to the module's dtype."""
    from graphcore._torch import torch

    where = str(weights.origin or weights.reference)
    if weights.tensors is None:
        raise WeightsError(f"{where}: the graph's weights were not read (open the graph from its file)")
    state = module.state_dict(keep_vars=True)
    targets = {key: _target(where, key, place, attributes, state) for key, place in weights.places.items()}
    covered = set(targets.values())
    for key, place in weights.places.items():
        attr = targets[key].partition(".")[0]
        for name in state:
            if name.partition(".")[0] == attr and name not in covered:
                node = place.partition(".")[0]
                raise WeightsError(
                    f"{where}: missing key for node {node!r}'s weight {name.partition('.')[2]!r}"
                )
    for key, tensor in weights.tensors.items():
        current = state[targets[key]]
        _check_fit(where, key, tensor, current)
        with torch.no_grad():
            current.copy_(tensor)
    for key, source in weights.ties.items():
        tied, shared = targets[key], state[targets[source]]
        _check_fit(where, key, shared, state[tied])
        parent, _, leaf = tied.rpartition(".")
        setattr(module.get_submodule(parent), leaf, shared)


def _target(where: str, key: str, place: str, attributes: Mapping[str, str], state: Mapping[str, Any]) -> str:
    """The generated module's state_dict name for the weight at `place`."""
    node, dot, local = place.partition(".")
    if node not in attributes:
        raise WeightsError(f"{where}: key {key!r}: the graph has no node {node!r} with weights")
    name = f"{attributes[node]}{dot}{local}"
    if name not in state:
        raise WeightsError(f"{where}: key {key!r}: node {node!r} has no weight {local or node!r}")
    return name


def _check_fit(where: str, key: str, tensor: Any, current: Any) -> None:
    if tuple(tensor.shape) != tuple(current.shape):
        raise WeightsError(
            f"{where}: key {key!r}: shape {list(tensor.shape)}, but the graph's weight is {list(current.shape)}"
        )
    if tensor.is_floating_point() != current.is_floating_point():
        raise WeightsError(
            f"{where}: key {key!r}: dtype {str(tensor.dtype).removeprefix('torch.')}, but the graph's "
            f"weight is {str(current.dtype).removeprefix('torch.')}"
        )
