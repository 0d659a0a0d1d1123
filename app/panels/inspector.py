"""The inspector: the selected node's id, label and params (editors fitted to each param's declaration),
its ports' inferred shapes, its problems, description and formula; or the selected group's frame.

Forms are built when the selection changes and only refreshed in place when the model changes, so
an undo updates the fields without tearing down the widget the user is working in. Every change
goes through the controller, which refuses bad values with a message naming node and param; text
that could not be saved (a lone surrogate cannot be written as UTF-8) is refused here, as typed.
"""

from __future__ import annotations

from functools import partial
from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.canvas.scene import CanvasScene
from app.editing import groups
from app.editing.controller import Controller
from app.editing.document import Document
from app.lab.names import short_name
from app.mathtext.widgets import FormulaLabel
from app.panels.param_editors import editor_for, set_value
from graphcore.graph import Graph, Node, PortRef
from graphcore.registry import REGISTRY, show
from graphcore.validate import Report

HINT = (
    "Select a node to edit its id, label and params.<br><br>"
    "<b>Tab</b> or typing on the canvas: add a node<br>"
    "<b>Drag</b> from a port to a port: connect<br><b>F</b>: frame the selection<br>"
    "<b>Ctrl+G</b>: group, <b>Ctrl+L</b>: auto layout"
)


class Inspector(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.document: Document | None = None
        self.scene: CanvasScene | None = None
        self.controller: Controller | None = None
        self.node_id: str | None = None
        self.group_id: str | None = None
        self.editors: dict[str, QWidget] = {}
        self.label_edit: QLineEdit | None = None
        self.id_edit: QLineEdit | None = None
        self._links: list[tuple[Any, Any]] = []

    def bind(self, document: Document, scene: CanvasScene, controller: Controller) -> None:
        """Follow a (new) document's selection and changes."""
        self.unbind()
        self.document, self.scene, self.controller = document, scene, controller
        self._links = [
            (scene.selectionChanged, self.rebuild),
            (document.signals.node_changed, self._on_node_changed),
            (document.validated, self._on_validated),
            (document.signals.meta_changed, self._on_meta),
        ]
        for signal, slot in self._links:
            signal.connect(slot)
        self.rebuild()

    def unbind(self) -> None:
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = []

    def rebuild(self) -> None:
        """Build the form for what is selected now."""
        assert self.scene is not None
        self.node_id = self.group_id = None
        self.editors, self.label_edit, self.id_edit = {}, None, None
        nodes = [n for n in self.scene.selected_node_ids() if self.scene.nodes[n].isSelected()]
        frames = self.scene.selected_backdrops()
        content = QWidget()
        layout = QVBoxLayout(content)
        if len(nodes) == 1 and not frames:
            self._node_form(layout, self.scene.graph.node(nodes[0]))
        elif len(frames) == 1 and not nodes:
            self._group_form(layout, frames[0].group_id)
        elif nodes or frames:
            count = len(self.scene.selected_node_ids())
            layout.addWidget(
                _wrapped(
                    f"<b>{count} nodes selected</b><br>Ctrl+G groups them, Ctrl+D duplicates,"
                    " Delete removes them."
                )
            )
        else:
            layout.addWidget(_wrapped(HINT))
        layout.addStretch()
        old = self.takeWidget()
        if old is not None:
            old.deleteLater()  # it may be the sender of the signal we are handling
        self.setWidget(content)

    # --- one node ---------------------------------------------------------------------------------

    def _node_form(self, layout: QVBoxLayout, node: Node) -> None:
        assert self.controller is not None and self.document is not None
        spec = REGISTRY.get(node.type)
        self.node_id = node.id
        color = self.scene.category_color(spec.category).name() if spec and self.scene else "#888888"
        category = spec.category if spec else "unknown type"
        layout.addWidget(
            _wrapped(
                f"<span style='color:{color}; font-size:16px'>■</span> "
                f"<b style='font-size:14px'>{escape(node.type)}</b> · {escape(category)}"
            )
        )
        form = QFormLayout()
        self.id_edit = QLineEdit(node.id)
        self.id_edit.setToolTip("The node's id: how files, edges and exported code refer to it")
        self.id_edit.editingFinished.connect(self._on_id_edited)
        form.addRow("Id", self.id_edit)
        self.label_edit = QLineEdit(node.label, placeholderText=node.id)
        self.label_edit.setToolTip("The name shown on the canvas (F2)")
        self.label_edit.editingFinished.connect(self._on_label_edited)
        form.addRow("Label", self.label_edit)
        for param in spec.params if spec else ():
            name = param.name
            editor = editor_for(
                param,
                node.params.get(name, param.default),
                partial(self._set_param, name),
                partial(self._refused, name),
            )
            editor.setToolTip(param.doc)
            caption = QLabel(name)
            caption.setToolTip(param.doc)
            form.addRow(caption, editor)
            self.editors[name] = editor
        layout.addLayout(form)
        if spec and not spec.editable:  # e.g. an imported Opaque call: its params record, not ask
            for editor in self.editors.values():
                editor.setEnabled(False)
            layout.addWidget(
                _wrapped(f"<i>Read-only: a {escape(node.type)} node's params record what was imported.</i>")
            )
        self.shapes = _wrapped("")
        self.problems = _wrapped("")
        layout.addWidget(self.shapes)
        layout.addWidget(self.problems)
        if spec:
            layout.addWidget(_wrapped(escape(spec.doc)))
            if spec.formula:
                layout.addWidget(FormulaLabel(spec.formula))
        self._on_validated(self.document.report)

    def _refused(self, name: str, message: str) -> None:
        assert self.controller is not None
        self.controller.message.emit(f"{self.node_id}.{name}: {message}")

    def _set_param(self, name: str, value: Any) -> bool:
        """Commit an editor's value; False (the editor shows it refused) when it was not taken."""
        assert self.controller is not None and self.scene is not None and self.node_id is not None
        problem = unwritable(value) if isinstance(value, str) else None
        if problem:
            self.controller.message.emit(f"{self.node_id}.{name}: {problem}")
            self._on_node_changed(self.scene.graph.node(self.node_id), "params")
            return False
        return self.controller.set_param(self.node_id, name, value)

    def _on_label_edited(self) -> None:
        if self.label_edit is not None and self.label_edit.isModified() and self.node_id:
            assert self.controller is not None and self.scene is not None
            self.label_edit.setModified(False)
            problem = unwritable(self.label_edit.text())
            if problem:
                self.controller.message.emit(f"{self.node_id}: label refused: {problem}")
                self.label_edit.setText(self.scene.graph.node(self.node_id).label)
                return
            self.controller.set_label(self.node_id, self.label_edit.text())

    def _on_id_edited(self) -> None:
        """Enter or focus out: rename the node (the canvas rebuilds it, and this form with it), or
        put the id back when the controller refuses the new one (it says why)."""
        field = self.id_edit
        if field is None or not field.isModified() or not self.node_id:
            return
        field.setModified(False)
        assert self.controller is not None
        if not self.controller.rename_node(self.node_id, field.text().strip()):
            field.setText(self.node_id)

    def _on_node_changed(self, node: Node, name: str) -> None:
        if node.id != self.node_id:
            return
        spec = REGISTRY.get(node.type)
        if name == "params" and spec:
            for param in spec.params:
                set_value(self.editors[param.name], node.params.get(param.name, param.default))
        elif name == "label" and self.label_edit is not None:
            self.label_edit.setText(node.label)

    def _on_validated(self, report: Report) -> None:
        if self.node_id is None or self.scene is None or self.node_id not in self.scene.graph:
            return
        graph = self.scene.graph
        spec = REGISTRY.get(graph.node(self.node_id).type)
        rows = []
        for port in spec.inputs if spec else ():
            source = graph.source_of(PortRef(self.node_id, port))
            shape = report.shapes.get(str(source)) if source else None
            rows.append((port, f"← {_source_name(graph, source)}" if source else "← not connected", shape))
        for port in spec.outputs_for(graph.node(self.node_id).params) if spec else ():
            rows.append((port, "→", report.shapes.get(f"{self.node_id}.{port}")))
        cells = "".join(
            f"<tr><td><b>{escape(port)}</b>&nbsp;</td><td>{escape(where)}&nbsp;</td>"
            f"<td>{escape(show(shape)) if shape is not None else '?'}</td></tr>"
            for port, where, shape in rows
        )
        self.shapes.setText(f"<table>{cells}</table>" if rows else "")
        problems = report.for_node(self.node_id)
        self.problems.setText(
            "".join(f"<p style='color:{self.scene.theme.error}'>⚠ {escape(str(d))}</p>" for d in problems)
        )
        self.problems.setVisible(bool(problems))

    def focus_label(self) -> bool:
        """F2: rename the selected node here."""
        if self.label_edit is None:
            return False
        self.label_edit.setFocus()
        self.label_edit.selectAll()
        return True

    # --- one group --------------------------------------------------------------------------------

    def _group_form(self, layout: QVBoxLayout, group_id: str) -> None:
        assert self.controller is not None and self.scene is not None
        self.group_id = group_id
        group = groups.find(groups.groups_of(self.scene.graph), group_id)
        layout.addWidget(
            _wrapped(
                "<b style='font-size:14px'>Group</b> · a frame for layout; "
                "it does not change what the graph computes"
            )
        )
        form = QFormLayout()
        self.title_edit = QLineEdit(str(group.get("title", "")))
        self.title_edit.editingFinished.connect(self._on_title_edited)
        form.addRow("Title", self.title_edit)
        swatches = QHBoxLayout()
        for color in groups.COLORS:
            button = QToolButton()
            button.setStyleSheet(
                f"background: {color}; border: 1px solid #555; min-width: 18px; min-height: 18px;"
            )
            button.setToolTip(color)
            button.clicked.connect(
                lambda _=False, color=color: self.controller.set_group(group_id, "Colour group", color=color)
            )
            swatches.addWidget(button)
        swatches.addStretch()
        form.addRow("Colour", swatches)
        self.collapsed_box = QCheckBox("show as one box")
        self.collapsed_box.setChecked(bool(group.get("collapsed")))
        self.collapsed_box.toggled.connect(lambda _: self.controller.toggle_collapsed(group_id))
        form.addRow("Collapsed", self.collapsed_box)
        form.addRow("Nodes", _wrapped(escape(", ".join(group["nodes"]))))
        layout.addLayout(form)

    def _on_title_edited(self) -> None:
        if self.title_edit.isModified() and self.group_id:
            assert self.controller is not None
            self.title_edit.setModified(False)
            problem = unwritable(self.title_edit.text())
            if problem:
                self.controller.message.emit(f"group {self.group_id}: title refused: {problem}")
                self._on_meta(groups.KEY)
                return
            self.controller.set_group(self.group_id, "Rename group", title=self.title_edit.text())

    def _on_meta(self, key: str) -> None:
        if self.group_id is None or self.scene is None or key != groups.KEY:
            return
        found = [g for g in groups.groups_of(self.scene.graph) if g["id"] == self.group_id]
        if not found:
            self.rebuild()
            return
        self.title_edit.setText(str(found[0].get("title", "")))
        was = self.collapsed_box.blockSignals(True)
        self.collapsed_box.setChecked(bool(found[0].get("collapsed")))
        self.collapsed_box.blockSignals(was)


def unwritable(text: str) -> str | None:
    """Why `text` cannot be saved in a file, or None: a lone surrogate has no UTF-8 encoding."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"character {error.start + 1} ({ascii(text[error.start])}) cannot be saved as UTF-8"
    return None


def _wrapped(html: str) -> QLabel:
    label = QLabel(html, wordWrap=True, textFormat=Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _source_name(graph: Graph, source: PortRef) -> str:
    """What feeds a port, named as the lab names it (app/lab/names.py): "z" for the label "z = wx + b",
    "stats.mu" for one of several outputs."""
    node = graph.node(source.node)
    spec = REGISTRY.get(node.type)
    name = short_name(node.label, node.id)
    return f"{name}.{source.port}" if spec is None or spec.returns_tuple else name
