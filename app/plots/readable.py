"""Axes and legends a user can read. Tick labels never print over each other, and on a log scale
they are powers of ten (10⁻³, 10⁻², …) at the decades; legends sit in a cell of their own beside
the plots, where they cover no curve.

pyqtgraph's log mode labels every 2…9 between the decades as well ("2·10¹", "3·10¹", …); on a
short axis those print over each other. Here the decades carry the labels, 2 and 5 join them only
when fewer than two decades are in view, and the other minor ticks stay unlabelled. Whatever the
mode, a label that would overlap one already placed is dropped.
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg

SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
LABEL_GAP = 6  # pixels kept free between neighbouring labels
MAX_MINOR_DECADES = 4  # beyond this many decades the 2…9 ticks would be a grey smear
EDGE = 0.05  # fraction of the axis at each end where a label is cut off
LOG_FILL = [(0, 1.0)]  # pyqtgraph's textFillLimits on a log axis: draw every level that fits
UNLABELLED = 0.0  # the "spacing" of the tick level whose ticks carry no label


def power_of_ten(exponent: int, mantissa: int = 1) -> str:
    """10⁻³, or 2·10⁻³ with a mantissa."""
    power = "10" + str(exponent).translate(SUPERSCRIPTS)
    return power if mantissa == 1 else f"{mantissa}·{power}"


class TidyAxis(pg.AxisItem):
    """An AxisItem with readable log labels and no overlapping tick labels."""

    def __init__(self, orientation: str, **options: Any) -> None:
        super().__init__(orientation, **options)
        self._linear_fill = self.style["textFillLimits"]

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: list) -> list:
        low, high = math.floor(minVal), math.ceil(maxVal)
        spacing = next((s for s, _ in stdTicks if s >= 1), 1.0)
        step = max(1, round(spacing))
        decades = [float(e) for e in range(low, high + 1) if e % step == 0 and minVal <= e <= maxVal]
        levels: list[tuple[Any, list[float]]] = [(float(step), decades)]
        if high - low > MAX_MINOR_DECADES:
            return levels
        between = [e + math.log10(m) for e in range(low, high) for m in range(2, 10)]
        between = [v for v in between if minVal <= v <= maxVal]
        margin = EDGE * (maxVal - minVal)  # a label this close to an end does not fit on the axis
        if sum(minVal + margin <= d <= maxVal - margin for d in decades) < 2:
            labelled = [v for v in between if self._mantissa(v) in (2, 5)]
            levels.append((None, labelled))
            between = [v for v in between if v not in labelled]
        levels.append((UNLABELLED, between))
        return levels

    @staticmethod
    def _mantissa(value: float) -> int:
        return round(10 ** (value - math.floor(value + 1e-9)))

    def logTickStrings(self, values: list[float], scale: float, spacing: Any) -> list[str]:
        if spacing == UNLABELLED:
            return [""] * len(values)
        return [power_of_ten(math.floor(v + 1e-9), self._mantissa(v)) for v in values]

    def generateDrawSpecs(self, p: Any) -> Any:
        # pyqtgraph stops at a level of labels when they would fill much of the axis; on a log axis
        # that drops 2·10ⁿ and 5·10ⁿ where they fit, and overlaps are weeded out here instead
        self.style["textFillLimits"] = LOG_FILL if self.logMode else self._linear_fill
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return specs
        axis_spec, tick_specs, text_specs = specs
        placed: list[Any] = []
        kept = []
        for rect, flags, text in text_specs:
            if not text:
                continue
            if self.orientation in ("left", "right"):  # labels stacked: keep a little apart
                padded = rect.adjusted(0, -LABEL_GAP / 4, 0, LABEL_GAP / 4)
            else:
                padded = rect.adjusted(-LABEL_GAP / 2, 0, LABEL_GAP / 2, 0)
            if any(padded.intersects(other) for other in placed):
                continue
            placed.append(padded)
            kept.append((rect, flags, text))
        return axis_spec, tick_specs, kept


def tidy_axes(*sides: str) -> dict[str, TidyAxis]:
    """The axisItems argument for a PlotItem with tidy axes (left and bottom unless told)."""
    return {side: TidyAxis(side) for side in sides or ("left", "bottom")}


class OutsideLegend(pg.LegendItem):
    """A legend for a cell of a GraphicsLayout: as tall as its rows of entries, and no taller."""

    def __init__(self, columns: int) -> None:
        super().__init__(colCount=columns)
        self.layout.setContentsMargins(4, 0, 4, 0)

    def updateSize(self) -> None:
        super().updateSize()
        height = self.layout.preferredSize().height() if self.items else 0
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)


def add_legend(
    layout: pg.GraphicsLayout, row: int, col: int, colspan: int = 1, columns: int = 3
) -> OutsideLegend:
    """A legend in its own cell of `layout`, above or beside the plots it names."""
    legend = OutsideLegend(columns)
    layout.addItem(legend, row=row, col=col, colspan=colspan)
    return legend
