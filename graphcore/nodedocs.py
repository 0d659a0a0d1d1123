"""docs/nodes.md, written from the registry: one section per category, one entry per node type.

`python -m graphcore.nodedocs` rewrites the file; a test fails when it is out of date, so the page
always says what the palette offers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from graphcore.registry import REGISTRY, NodeSpec, Param, load_library

DOCS = Path(__file__).resolve().parent.parent / "docs" / "nodes.md"

CATEGORIES = {
    "sources": "Sources and data",
    "elementwise": "Element-wise",
    "activations": "Activations",
    "reductions": "Reductions and products",
    "shape": "Shape",
    "layers": "Layers",
    "convolution": "Convolution",
    "recurrent": "Recurrent",
    "attention": "Attention",
    "normalization": "Normalisation",
    "regularization": "Regularisation",
    "losses": "Losses",
    "imported": "Imported from PyTorch",
    "blocks": "Blocks",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _allowed(param: Param) -> str:
    parts = []
    if param.choices:
        parts.append("one of " + ", ".join(f"`{json.dumps(c)}`" for c in param.choices))
    if param.min is not None and param.max is not None:
        parts.append(f"{param.min:g} … {param.max:g}")
    elif param.min is not None:
        parts.append(f"≥ {param.min:g}")
    elif param.max is not None:
        parts.append(f"≤ {param.max:g}")
    if param.optional:
        parts.append("or null")
    return "; ".join(parts)


def _ports(spec: NodeSpec) -> str:
    if not spec.inputs and not spec.outputs:  # a Block's are its definition's
        return "those of the node's definition"
    inputs = ", ".join(f"`{p}`" + (" (optional)" if p in spec.optional_inputs else "") for p in spec.inputs)
    outputs = ", ".join(f"`{p}`" for p in spec.outputs)
    return f"{inputs} → {outputs}" if inputs else f"→ {outputs}"


def _entry(spec: NodeSpec) -> list[str]:
    kind = {"layer": " (layer: owns an nn.Module and its weights)"}.get(spec.kind, "")
    lines = [
        f"### `{spec.type}`",
        "",
        spec.doc,
        "",
        f"- **Ports:** {_ports(spec)}{kind}",
        f"- **Formula:** {spec.formula}",
    ]
    if spec.no_jvp_reason:
        lines.append(f"- **Forward mode:** not available: {spec.no_jvp_reason}")
    if spec.aliases:
        lines.append("- **Search words:** " + ", ".join(spec.aliases))
    if spec.params:
        lines += ["", "| param | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        lines += [
            f"| `{p.name}` | {p.kind} | `{json.dumps(p.default, ensure_ascii=False)}` | "
            f"{_cell(_allowed(p))} | {_cell(p.doc)} |"
            for p in spec.params
        ]
    return [*lines, ""]


def node_docs(registry: Mapping[str, NodeSpec] = REGISTRY) -> str:
    """The Markdown page for every type of `registry`, grouped by category in palette order."""
    order = {c: i for i, c in enumerate(CATEGORIES)}
    by_category: dict[str, list[NodeSpec]] = {}
    for spec in sorted(registry.values(), key=lambda s: (order.get(s.category, len(order)), s.type.lower())):
        by_category.setdefault(spec.category, []).append(spec)
    lines = [
        "# Node library",
        "",
        f"Generated from the registry by `python -m graphcore.nodedocs`: do not edit by hand. "
        f"{len(registry)} node types in {len(by_category)} categories. Params are written as in the "
        "graph files; `N` in a shape is the batch.",
        "",
    ]
    for category, specs in by_category.items():
        title = CATEGORIES.get(category, category.title())
        lines.append(
            f"- [{title}](#{title.lower().replace(' ', '-')}): " + ", ".join(f"`{s.type}`" for s in specs)
        )
    for category, specs in by_category.items():
        lines += ["", f"## {CATEGORIES.get(category, category.title())}", ""]
        for spec in specs:
            lines += _entry(spec)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    DOCS.write_text(node_docs(load_library()), encoding="utf-8")
    print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
