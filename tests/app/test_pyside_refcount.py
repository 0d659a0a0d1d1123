"""Guards the PySide6 pin: 6.12.0 on Python < 3.12 drops a reference to None on every void Qt call
(setPos is one), until None's refcount reaches zero and the interpreter aborts (none_dealloc)."""

import sys

from PySide6.QtWidgets import QGraphicsRectItem


def test_void_qt_calls_keep_none_alive(qapp):
    item = QGraphicsRectItem(0, 0, 10, 10)
    before = sys.getrefcount(None)
    for i in range(100_000):
        item.setPos(i % 100, 0)
    assert sys.getrefcount(None) >= before
