"""What a badge's click opens: a compact popup with the numbers of a scalar or a small tensor, or
for a large tensor a window with a heat map (a matrix or an image) or a histogram (anything else)."""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from app.stepper.format import describe

SMALL = 36  # elements a popup writes out in full (a 6×6 matrix)


def _array(value: Any) -> np.ndarray:
    return value.detach().double().cpu().numpy() if hasattr(value, "detach") else np.asarray(value, float)


def _numbers(array: np.ndarray) -> str:
    """A scalar as its number; a vector or a matrix as a grid of numbers."""
    if array.ndim == 0:
        return f"<code>{array.item():.10g}</code>"
    rows = array.reshape(1, -1) if array.ndim == 1 else array
    cells = "".join(
        "<tr>" + "".join(f"<td align=right><code>&nbsp;{x:.6g}</code></td>" for x in row) + "</tr>"
        for row in rows
    )
    return f"<table cellspacing=2>{cells}</table>"


class ValueViewer(QDialog):
    """A node's values up close, captioned ("w", "∂L/∂w"); the last one is plotted when large."""

    def __init__(self, title: str, values: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        arrays = {caption: _array(value) for caption, value in values.items()}
        layout = QVBoxLayout(self)
        if all(a.size <= SMALL and a.ndim <= 2 for a in arrays.values()):
            self.kind = "number" if all(a.size == 1 for a in arrays.values()) else "numbers"
            html = "".join(
                f"<p><b>{escape(caption)}</b> = {_numbers(a)}</p>"
                if a.ndim == 0
                else f"<p><b>{escape(caption)}</b> {list(a.shape)}</p>{_numbers(a)}"
                for caption, a in arrays.items()
            )
            self.label = QLabel(html)
            self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(self.label)
            self.adjustSize()
            return
        for caption, value in values.items():
            layout.addWidget(QLabel(f"{caption}: {describe(value)}"))
        self.resize(520, 420)
        caption, array = list(arrays.items())[-1]
        plot = pg.PlotWidget(title=caption)
        if array.ndim >= 2:
            self.kind = "heatmap"
            image = pg.ImageItem(array.reshape(-1, *array.shape[-2:])[0].T)  # rows down, as written
            image.setColorMap(pg.colormap.get("viridis"))
            plot.addItem(image)
            plot.invertY(True)
            plot.addColorBar(image, colorMap=pg.colormap.get("viridis"))
        else:
            self.kind = "histogram"
            counts, edges = np.histogram(array[np.isfinite(array)], bins=min(40, max(5, array.size)))
            plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=(37, 99, 235, 120))
        layout.addWidget(plot)
        if array.ndim > 2:
            layout.addWidget(QLabel(f"showing [0, …] of shape {list(array.shape)}"))
