"""One editor widget per param kind, fitted to the declaration: range, choices, optional.

int → spin box, float → spin box showing short numbers, bool → check box, str with choices →
combo box; shapes, values and lists (and any kind added later) → a text field (app.editing.values reads
and writes it). An editor reports a new value through `commit`, which
returns False when the value is refused; the field then turns red until the next good value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from app.editing.values import ValueReadError, parse_value, show_value
from graphcore.registry import Param

Commit = Callable[[Any], bool]
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12
INVALID_STYLE = "border: 1.5px solid #dc2626; border-radius: 3px;"


class _FloatSpin(QDoubleSpinBox):
    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"


def editor_for(param: Param, value: Any, commit: Commit, refused: Callable[[str], None]) -> QWidget:
    """The widget that edits `param`, showing `value`. `refused` receives messages for unreadable text."""
    if param.kind == "bool" and not param.optional:
        box = QCheckBox()
        box.setChecked(bool(value))
        box.toggled.connect(commit)
        return box
    if param.kind == "str" and param.choices and not param.optional:
        combo = QComboBox()
        combo.addItems([str(c) for c in param.choices])
        combo.setCurrentText(str(value))
        combo.activated.connect(lambda index: commit(param.choices[index]))
        return combo
    if param.kind in ("int", "float") and not param.optional:
        limit = INT_LIMIT if param.kind == "int" else FLOAT_LIMIT
        low = param.min if param.min is not None else -limit
        high = param.max if param.max is not None else limit
        spin: QSpinBox | QDoubleSpinBox
        if param.kind == "int":
            spin = QSpinBox()
            spin.setRange(int(low), int(high))
        else:
            spin = _FloatSpin()
            spin.setRange(low, high)
            spin.setDecimals(6)
            spin.setSingleStep(0.1)
        spin.setKeyboardTracking(False)  # one edit per Enter or arrow step, not per keystroke
        spin.setValue(value)
        spin.valueChanged.connect(commit)
        return spin
    return _TextEditor(param, value, commit, refused)


class _TextEditor(QLineEdit):
    def __init__(self, param: Param, value: Any, commit: Commit, refused: Callable[[str], None]) -> None:
        super().__init__(show_value(value))
        self.param, self._commit, self._refused = param, commit, refused
        self.setPlaceholderText("null" if param.optional else "")
        self.editingFinished.connect(self._on_edited)

    def _on_edited(self) -> None:
        if not self.isModified():  # focus left without an edit: nothing to commit
            return
        self.setModified(False)
        try:
            value = parse_value(self.text(), self.param.optional)
        except ValueReadError as error:
            self._refused(str(error))
            self.setStyleSheet(INVALID_STYLE)
            return
        self.setStyleSheet("" if self._commit(value) else INVALID_STYLE)


def set_value(editor: QWidget, value: Any) -> None:
    """Show a value the model now holds (after an undo, say) without committing it again."""
    was = editor.blockSignals(True)
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QComboBox):
        editor.setCurrentText(str(value))
    elif isinstance(editor, QSpinBox | QDoubleSpinBox):
        editor.setValue(value)
    elif isinstance(editor, QLineEdit):
        editor.setText(show_value(value))
        editor.setStyleSheet("")
    editor.blockSignals(was)
