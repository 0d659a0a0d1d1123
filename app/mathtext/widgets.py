"""Typeset formulas in widgets: an <img> for rich-text labels (the stepper panel) and a label of its
own (the inspector), both rendered at the screen's pixel ratio so they are as sharp as the text."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from app.mathtext.render import typeset

SIZE = 11.0  # points


def formula_html(formula: str, color: QColor, ratio: float = 1.0, max_width: float | None = None) -> str:
    """An <img> of the typeset formula, its PNG inline, sized in logical pixels; alt is the source."""
    laid = typeset(formula, SIZE, max_width)
    image = laid.image(color, ratio)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs want bytes, PySide6 a str
    width, height = round(image.width() / ratio), round(image.height() / ratio)
    encoded = bytes(data.toBase64().data()).decode("ascii")
    return (
        f"<img src='data:image/png;base64,{encoded}' width={width} height={height} "
        f"alt='{escape(formula, quote=True)}'>"
    )


class FormulaLabel(QLabel):
    """A typeset formula that puts its clauses on separate lines when it is too narrow for one."""

    def __init__(self, formula: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.formula = formula
        self.setToolTip(formula)
        self.setAccessibleName(formula)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._shown_for = -1
        self._render(260)

    def _render(self, width: int) -> None:
        if width == self._shown_for:
            return
        self._shown_for = width
        color = self.palette().color(self.foregroundRole())
        laid = typeset(self.formula, SIZE, max(width - 4, 40))
        self.setPixmap(laid.pixmap(color, self.devicePixelRatioF()))
        self.setMinimumHeight(self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._render(event.size().width())

    def sizeHint(self) -> QSize:
        pixmap = self.pixmap()
        ratio = pixmap.devicePixelRatio() or 1.0
        return QSize(round(pixmap.width() / ratio), round(pixmap.height() / ratio))
