"""The traced module's parameters and buffers as the imported graph's weights (graphcore.files.weights).

Keys are the module's own state_dict names, so the numbers are the module's and an export loads
`original.state_dict()`. A tensor the graph reaches twice (nanoGPT's `lm_head.weight = wte.weight`,
or one layer called twice) is stored once and tied, so training moves both uses together.
"""

from __future__ import annotations

from typing import Any

from graphcore._torch import torch
from graphcore.exchange.import_builder import ImportResult
from graphcore.files.weights import Weights, WeightsError

PROVISIONAL = "weights.safetensors"  # renamed after the graph file when it is first saved


def module_weights(result: ImportResult, module: Any) -> Weights:
    """The weights the graph's layer, Parameter and Constant nodes take from `module`."""
    weights = Weights(PROVISIONAL, {})
    assert weights.tensors is not None
    first: dict[int, str] = {}  # id of a tensor -> the key it is stored under
    for node in result.graph.nodes:
        if node.id in result.layers:
            name = result.layers[node.id]
            entries = [
                (f"{name}.{local}", f"{node.id}.{local}", value)
                for local, value in module.get_submodule(name).state_dict(keep_vars=True).items()
            ]
        elif node.id in result.attributes:
            name = result.attributes[node.id]
            entries = [(name, node.id, _tensor(module, name))]
        else:
            continue
        for key, place, value in entries:
            if key in weights.places:  # the same layer called again: its own node, tied to the first
                key = place
            weights.places[key] = place
            if id(value) in first:
                weights.ties[key] = first[id(value)]
                continue
            first[id(value)] = key
            weights.tensors[key] = _stored(value, node.type == "Constant")
    return weights


def _tensor(module: Any, name: str) -> Any:
    """The parameter or buffer `name` of `module` (the object itself: ties are found by identity)."""
    owner, _, leaf = name.rpartition(".")
    found = module.get_submodule(owner)
    return found._parameters[leaf] if leaf in found._parameters else found.get_buffer(leaf)


def _stored(value: Any, constant: bool) -> Any:
    """A float32 or float64 copy (an integer counter stays int64; a Constant node holds floats)."""
    tensor = value.detach().to("cpu").clone()
    if tensor.dtype in (torch.float32, torch.float64):
        return tensor
    if tensor.dtype == torch.int64 and not constant:
        return tensor
    return tensor.to(torch.float32)


def keep_weights(result: ImportResult, module: Any) -> None:
    """Give the graph the module's weights, checked by building the graph's module with them; when
    they do not fit (a node type whose weights are laid out otherwise), say so and keep the init."""
    from graphcore.program import lower
    from graphcore.runtime import Runtime
    from graphcore.validate import validate

    weights = module_weights(result, module)
    if not weights.places:
        return
    result.graph.weights = weights
    if not validate(result.graph).ok:
        return
    try:
        Runtime(lower(result.graph), dtype="float32", device="cpu")
    except WeightsError as error:
        result.graph.weights = None
        result.notes.append(
            f"the module's weights are not kept ({error}): its layers start from other weights than the "
            "module's, an init scheme and the seed"
        )
