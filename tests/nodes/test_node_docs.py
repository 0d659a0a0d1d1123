"""docs/nodes.md is generated from the registry and must match it."""

from graphcore.nodedocs import DOCS, node_docs
from graphcore.registry import load_library


def test_node_docs_are_up_to_date():
    assert DOCS.read_text(encoding="utf-8") == node_docs(), (
        "docs/nodes.md is out of date: run `python -m graphcore.nodedocs`"
    )


def test_node_docs_describe_every_type():
    text = node_docs()
    for type_, spec in load_library().items():
        assert f"### `{type_}`" in text
        assert spec.formula in text
