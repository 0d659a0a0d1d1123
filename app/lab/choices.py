"""The lab's combo boxes of values: each entry shows the user's name for a value ("x[1]") and
holds graphcore's ("x.out", 1), so a choice survives renames and refills."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox


def parse_element(name: str) -> tuple[str, int]:
    """ "x.out[1]" as ("x.out", 1); "L.out" as ("L.out", 0)."""
    value, bracket, index = name.partition("[")
    return value, int(index.rstrip("]")) if bracket else 0


def select(combo: QComboBox, data: Any) -> bool:
    """Choose the entry holding `data`; False when there is none."""
    for i in range(combo.count()):
        if combo.itemData(i) == data:
            combo.setCurrentIndex(i)
            return True
    return False


def refill(combo: QComboBox, entries: list[tuple[str, Any]], default: Any = None) -> None:
    """Replace the entries (text, data) without emitting changes; keep the choice where it still
    exists, else choose `default`, else the first entry."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in entries:
        combo.addItem(text, data)
    if not any(wanted is not None and select(combo, wanted) for wanted in (current, default)):
        combo.setCurrentIndex(0 if entries else -1)
    combo.blockSignals(False)
