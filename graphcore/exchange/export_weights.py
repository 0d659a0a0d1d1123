"""The part of an exported file that serves a graph's weights file (graphcore.files.weights).

The generated class names its attributes after node ids (`layer1_0_conv1`); the weights keep the
model's own state_dict names (`layer1.0.conv1.weight`). `use_own_names`, called at the end of the
class's __init__, ties what the weights tie and makes state_dict and load_state_dict speak the own
names, so `model.load_state_dict(original.state_dict())` works and so does loading the file.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from graphcore.codegen import GeneratedModule, exec_source
from graphcore.files.weights import Weights
from graphcore.training.code import literal

NAMES = ("OWN_NAMES", "FLAT_NAMES", "TIED", "CONSTANTS", "WEIGHTS", "use_own_names")

# With blocks, the app's weights files name a block's weights as its flat module does
# ("res1_1_fc.weight"); the exported module's own names follow the blocks ("res1.0.fc.weight").
_FLAT_LOAD = """
        # the app's names for the weights inside blocks
        for flat, name in FLAT_NAMES.items():
            if prefix + flat in state_dict:
                state_dict[prefix + name] = state_dict.pop(prefix + flat)"""

_HOOKS = '''
def use_own_names(model):
    """Tie what TIED ties; state_dict and load_state_dict in the OWN_NAMES of the weights, so they
    hold what the imported module's hold."""
    ours = {own: name for name, own in OWN_NAMES.items()}
    for tied, source in TIED.items():
        *path, leaf = ours.get(tied, tied).split(".")
        shared = model.get_parameter(ours.get(source, source))
        setattr(model.get_submodule(".".join(path)), leaf, shared)

    def save(module, state_dict, prefix, local_metadata):
        for name, own in OWN_NAMES.items():
            state_dict[prefix + own] = state_dict.pop(prefix + name)
        # the code's fixed numbers are no weights: load puts them back
        for name in CONSTANTS:
            del state_dict[prefix + name]

    def load(module, state_dict, prefix, *args):{flat_names}
        for tied, source in TIED.items():  # the file holds a tied tensor once
            if prefix + source in state_dict:
                state_dict.setdefault(prefix + tied, state_dict[prefix + source])
        for name, own in OWN_NAMES.items():
            if prefix + own in state_dict:
                state_dict[prefix + name] = state_dict.pop(prefix + own)
        for name in CONSTANTS:
            state_dict.setdefault(prefix + name, module.get_buffer(name))

    model.register_state_dict_post_hook(save)
    model.register_load_state_dict_pre_hook(load)
'''


def with_own_names(model_text: str, class_name: str) -> str:
    """The model text with `use_own_names(self)` as the last line of the class's __init__."""
    tree = ast.parse(model_text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    lines = model_text.split("\n")
    assert init.end_lineno is not None
    lines.insert(init.end_lineno, "        use_own_names(self)")
    return "\n".join(lines)


def names_code(weights: Weights, generated: GeneratedModule, flat: Mapping[str, str] | None = None) -> str:
    """OWN_NAMES, TIED, CONSTANTS, WEIGHTS and use_own_names for the generated module. `flat`: with
    blocks, the runtime's flat attributes (node -> attribute); keys named after them go to
    FLAT_NAMES, which load accepts and state_dict does not speak."""
    own: dict[str, str] = {}
    from_flat: dict[str, str] = {}
    covered = set()
    for key, place in weights.places.items():
        node, dot, local = place.partition(".")
        covered.add(name := f"{generated.attributes[node]}{dot}{local}")
        if flat is not None and key == f"{flat.get(node)}{dot}{local}" and name != key:
            from_flat[key] = name
        elif name != key:
            own[name] = key
    ties = {from_flat.get(k, k): from_flat.get(v, v) for k, v in weights.ties.items()}
    constants = [name for name in _buffers(generated) if name not in covered]
    lines = [
        "# The weights' own names (the imported module's state_dict keys) for the attributes above, the",
        "# names that share one tensor, the graph's constants that only this module has, and the",
        "# weights file (beside this file; `--weights ''` starts from the seed instead).",
        *_table("OWN_NAMES", own),
        *(
            ["# The app's names for the weights inside blocks, which load also reads."]
            if flat is not None
            else []
        ),
        *(_table("FLAT_NAMES", from_flat) if flat is not None else []),
        *_table("TIED", ties),
        f"CONSTANTS = {literal(tuple(constants))}",
        f"WEIGHTS = {literal(weights.reference)}",
        "",
        "",
        _HOOKS.strip("\n").replace("{flat_names}", _FLAT_LOAD if flat is not None else ""),
    ]
    return "\n".join(lines)


def _table(name: str, table: dict[str, str]) -> list[str]:
    if not table:
        return [f"{name}: dict[str, str] = {{}}"]
    return [f"{name} = {{", *(f"    {literal(k)}: {literal(v)}," for k, v in table.items()), "}"]


def _buffers(generated: GeneratedModule) -> list[str]:
    """The generated module's buffers that are nodes of their own (its Constant nodes, inside blocks
    too), built on the meta device."""
    from graphcore._torch import torch

    cls: Any = exec_source(generated.source, generated.class_name)[generated.class_name]
    with torch.device("meta"):
        module = cls()
    own = set(generated.attributes.values())
    return [name for name, _ in module.named_buffers() if name in own]
