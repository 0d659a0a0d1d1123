"""Finding node types by what users type: names, aliases, categories and descriptions.

The palette and the quick-add popup both call `search`, so they always agree on what a query finds
("swish" finds SiLU through its alias, "squash" finds sigmoid through its description).
"""

from __future__ import annotations

from graphcore.registry import REGISTRY, NodeSpec


def _rank(spec: NodeSpec, query: str) -> int | None:
    """0 is the best match; None means no match."""
    name = spec.type.lower()
    aliases = [a.lower() for a in spec.aliases]
    if name == query or query in aliases:
        return 0
    if name.startswith(query) or any(a.startswith(query) for a in aliases):
        return 1
    if query in name or any(query in a for a in aliases):
        return 2
    if query in spec.category.lower():
        return 3
    if query in spec.doc.lower():
        return 4
    return None


def search(query: str) -> list[NodeSpec]:
    """Registered types matching every word of `query`, best first; all types when it is empty."""
    words = query.lower().split()
    found: list[tuple[int, str, str, NodeSpec]] = []
    for spec in REGISTRY.values():
        ranks = [_rank(spec, word) for word in words]
        known = [r for r in ranks if r is not None]
        if len(known) == len(ranks):
            found.append((max(known, default=0), spec.category, spec.type.lower(), spec))
    found.sort(key=lambda f: f[:3])
    return [f[3] for f in found]
