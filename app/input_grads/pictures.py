"""A picture of one sample's input or of a gradient of it: an image for image inputs, bars for vectors.

Gradients and perturbations ("signed") use a diverging colour map centred on 0 with a colour bar;
inputs are drawn in grey from their smallest to their largest value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg

from app.lab.style import LabPlots
from graphcore.input_grads.saliency import as_picture

DIVERGING = pg.colormap.get("CET-D1")  # blue - white - red, as the Jacobian lab's
GREY = pg.colormap.get("CET-L1")
POSITIVE, NEGATIVE, PLAIN = "#dc2626", "#2563eb", "#64748b"


class Picture:
    """One cell of a LabPlots: an ImageItem or a BarGraphItem, whichever the data needs."""

    def __init__(self, plots: LabPlots, row: int, col: int, title: str, signed: bool) -> None:
        self.plots, self.title, self.signed = plots, title, signed
        self.plot = plots.add_plot(row, col, title)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.plot.addItem(self.image)
        self.plot.addItem(self.bars)
        self.colorbar: pg.ColorBarItem | None = None
        if signed:
            self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=DIVERGING, interactive=False, width=12)
            self.colorbar.setImageItem(self.image, insert_in=self.plot)
        else:
            self.image.setColorMap(GREY)
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.note = ""

    def clear(self) -> None:
        self.image.clear()
        self.bars.setOpts(x=[], height=[])
        self.plots.set_title(self.plot, self.title)

    def show(self, tensor: Any, title: str | None = None, levels: tuple[float, float] | None = None) -> None:
        """Draw `tensor` (one sample, no batch dim); `levels` fixes the colour range (else its own)."""
        array, self.note = as_picture(tensor, self.signed)
        finite = array[np.isfinite(array)]
        if levels is None:
            if self.signed:
                largest = float(np.abs(finite).max()) if finite.size else 0.0
                levels = (-(largest or 1.0), largest or 1.0)
            else:
                low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                levels = (low, high if high > low else low + 1.0)
        self.levels = levels
        self.plots.set_title(self.plot, title or self.title)
        if array.ndim == 2:
            self.bars.setOpts(x=[], height=[])
            self.plot.invertY(True)
            self.plot.setAspectLocked(True)
            self.image.setImage(array, levels=levels)
            if self.colorbar is not None:
                self.colorbar.setLevels(levels)
            self.plot.getAxis("bottom").setLabel("")
        else:
            self.image.clear()
            self.plot.invertY(False)
            self.plot.setAspectLocked(False)
            colours = [self._colour(v) for v in array]
            self.bars.setOpts(x=np.arange(len(array)), height=array, brushes=colours, pens=colours)
            self.plot.getAxis("bottom").setLabel("feature")
        self.plot.autoRange()

    def _colour(self, value: float) -> str:
        if not self.signed:
            return PLAIN
        return POSITIVE if value >= 0 else NEGATIVE

    @property
    def shown(self) -> np.ndarray:
        """What is drawn now: the image's pixels, or the bars' heights (tests read this)."""
        if self.image.image is not None:
            return np.asarray(self.image.image)
        heights = self.bars.opts.get("height")
        return np.asarray(heights if heights is not None else [])


class Probabilities:
    """Bars of class probabilities, the predicted class's bar highlighted and named in the title."""

    def __init__(self, plots: LabPlots, row: int, col: int, title: str) -> None:
        self.plots, self.title = plots, title
        self.plot = plots.add_plot(row, col, title)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setYRange(0, 1)
        self.plot.getAxis("bottom").setLabel("class")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.plot.addItem(self.bars)

    def clear(self) -> None:
        self.bars.setOpts(x=[], height=[])
        self.plots.set_title(self.plot, self.title)

    def show(self, probabilities: list[float], label: int) -> None:
        predicted = int(np.argmax(probabilities))
        colours = [POSITIVE if k == predicted else PLAIN for k in range(len(probabilities))]
        if label != predicted:
            colours[label] = NEGATIVE
        self.bars.setOpts(
            x=np.arange(len(probabilities)), height=np.asarray(probabilities), brushes=colours, pens=colours
        )
        self.plot.setXRange(-0.6, len(probabilities) - 0.4)
        self.plot.setYRange(0, 1)
        self.plots.set_title(
            self.plot, f"{self.title}: predicted {predicted} ({probabilities[predicted]:.0%})"
        )

    @property
    def heights(self) -> np.ndarray:
        heights = self.bars.opts.get("height")
        return np.asarray(heights if heights is not None else [])
