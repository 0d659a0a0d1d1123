"""The Python file File ▸ Export ▸ Python writes for a document, as `graphcore export` writes it."""

from __future__ import annotations

from app.editing.document import Document


def export_name(document: Document) -> str:
    """The model's name, as `graphcore export` picks it: meta.name, else the file's stem."""
    fallback = document.path.stem if document.path else "Model"
    return str(document.graph.meta.get("name", fallback))


def python_source(document: Document, train: bool = False) -> str:
    """export_python's source for the document (raises InvalidGraph or ExportError)."""
    from graphcore.exchange.export import export_python

    path = document.path
    return export_python(
        document.graph,
        name=export_name(document),
        source_name=path.name if path else "",
        script_name=f"{path.stem}.py" if path else "model.py",
        train=train,
        base_dir=path.parent if path else ".",
    ).source
