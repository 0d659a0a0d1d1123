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


def test_the_block_entry_says_where_its_ports_and_inlined_ids_come_from():
    """Block's ports are not its type's (they are empty there): the page must say whose they are."""
    entry = DOCS.read_text(encoding="utf-8").split("### `Block`", 1)[1].split("\n### ", 1)[0]
    assert "Its ports are the definition's" in entry and "res1/k/fc" in entry
    assert "`repeat`" in entry and "1 … 1000" in entry
