"""Formulas typeset as one vector path: laid out with QFontMetricsF, glyphs turned into outlines,
fraction bars and radicals added as shapes, so a canvas card stays crisp at every zoom and a
widget gets a pixmap at its screen's pixel ratio.

Italic single-letter variables, upright digits, operators and words; scripts smaller and raised
or lowered; fractions stacked over a bar on the math axis; Σ and Π larger than the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPixmap,
    QTransform,
)

from app.mathtext.parse import BigOp, Box, Formula, Fraction, Group, Radical, Row, Scripts, Space, Text, parse

FAMILY = "DejaVu Serif"
SCRIPT, FRACTION, BIG, MIN_SCALE = 0.7, 0.9, 1.35, 0.5  # sizes relative to the text around them
PADDING = {"op": 0.22, "rel": 0.28}  # em on each side of a binary operator / relation
NARROW_OPS = {"·": 0.1, "/": 0.18}
SPACE, CLAUSE_GAP, LINE_GAP = 0.28, 1.1, 0.45  # em


@lru_cache(maxsize=64)
def font(size: float, italic: bool) -> tuple[QFont, QFontMetricsF]:
    result = QFont(FAMILY)
    result.setStyleHint(QFont.StyleHint.Serif)
    result.setPointSizeF(size)
    result.setItalic(italic)
    return result, QFontMetricsF(result)


@lru_cache(maxsize=2048)
def _glyphs(text: str, size: float, italic: bool) -> tuple[QPainterPath, float, float, float]:
    """Outline of `text` with its baseline at y = 0, its advance, and how far it reaches up and down."""
    qfont, metrics = font(size, italic)
    path = QPainterPath()
    path.addText(QPointF(0, 0), qfont, text)
    tight = metrics.tightBoundingRect(text)
    ascent = max(-tight.top(), metrics.xHeight())
    return path, metrics.horizontalAdvance(text), ascent, max(tight.bottom(), 0.0)


@dataclass
class Laid:
    """A laid-out box: its outline relative to its baseline origin, and its extent."""

    width: float = 0.0
    ascent: float = 0.0
    descent: float = 0.0
    path: QPainterPath = field(default_factory=QPainterPath)
    runs: list[tuple[str, float, bool]] = field(default_factory=list)  # (text, size, italic) drawn

    def place(self, other: Laid, x: float, y: float = 0.0) -> None:
        """Add `other` with its origin at (x, y), y down from this baseline."""
        self.path.addPath(other.path.translated(x, y))
        self.ascent = max(self.ascent, other.ascent - y)
        self.descent = max(self.descent, other.descent + y)
        self.runs.extend(other.runs)


class Layout:
    """Lays boxes out at a base size in points."""

    def __init__(self, size: float) -> None:
        self.size = size

    def text(self, text: str, size: float, italic: bool = False) -> Laid:
        path, width, ascent, descent = _glyphs(text, size, italic)
        if italic:
            width += 0.06 * size  # italic correction: the slanted letter's top overhangs its advance
        return Laid(width, ascent, descent, QPainterPath(path), [(text, size, italic)])

    def box(self, box: Box, size: float) -> Laid:
        if isinstance(box, Text):
            return self.text(box.text, size, box.style == "var")
        if isinstance(box, Row):
            return self.row(box, size)
        if isinstance(box, Scripts):
            return self.scripts(box, size)
        if isinstance(box, Fraction):
            return self.fraction(box, size)
        if isinstance(box, Radical):
            return self.radical(box, size)
        if isinstance(box, BigOp):
            return self.big_op(box, size)
        if isinstance(box, Group):
            return self.group(box, size)
        return Laid(SPACE * size)

    def row(self, row: Row, size: float) -> Laid:
        out = Laid()
        items = row.items
        pads = [_padding(items, i) for i in range(len(items))]
        x = 0.0
        for i, item in enumerate(items):
            if isinstance(item, Space):
                beside = [pads[j] for j in (i - 1, i + 1) if 0 <= j < len(items)]
                if any(beside):  # the operator's own spacing replaces the source's space
                    continue
            x += pads[i] * size
            laid = self.box(item, size)
            out.place(laid, x)
            x += laid.width + pads[i] * size
        out.width = x
        if not items:
            out.ascent = font(size, False)[1].xHeight()
        return out

    def scripts(self, box: Scripts, size: float) -> Laid:
        base = self.box(box.base, size)
        small = max(size * SCRIPT, self.size * MIN_SCALE)
        out = Laid()
        out.place(base, 0)
        x, width = base.width, 0.0
        if isinstance(box.base, Text) and box.base.style == "var":
            x -= 0.04 * size  # scripts tuck under the italic overhang
        if box.sup is not None:
            sup = self.row(box.sup, small)
            shift = max(0.42 * size, base.ascent - 0.45 * sup.ascent)
            out.place(sup, x + 0.03 * size, -shift)
            width = max(width, sup.width + 0.03 * size)
        if box.sub is not None:
            sub = self.row(box.sub, small)
            shift = max(0.2 * size, base.descent + 0.5 * sub.ascent - 0.3 * size)
            out.place(sub, x, shift)
            width = max(width, sub.width)
        out.width = x + width + 0.04 * size
        return out

    def fraction(self, box: Fraction, size: float) -> Laid:
        part = max(size * FRACTION, self.size * MIN_SCALE)
        num, den = self.row(box.num, part), self.row(box.den, part)
        axis, thick, gap, side = 0.3 * size, max(0.055 * size, 0.6), 0.14 * size, 0.1 * size
        width = max(num.width, den.width) + 2 * side
        out = Laid()
        out.place(num, (width - num.width) / 2, -(axis + thick / 2 + gap + num.descent))
        out.place(den, (width - den.width) / 2, -(axis - thick / 2 - gap - den.ascent))
        bar = QPainterPath()
        bar.addRect(QRectF(0.04 * size, -axis - thick / 2, width - 0.08 * size, thick))
        out.path.addPath(bar)
        out.width = width
        return out

    def radical(self, box: Radical, size: float) -> Laid:
        body = self.row(box.body, size)
        gap, thick = 0.12 * size, max(0.055 * size, 0.6)
        top, bottom = body.ascent + gap + thick, body.descent
        sign = 0.55 * size
        stroke = QPainterPath(QPointF(0.02 * size, -0.45 * (top - bottom) * 0.6))
        stroke.lineTo(0.14 * size, -0.5 * (top - bottom) * 0.6 - 0.06 * size)
        stroke.lineTo(0.28 * size, bottom)
        stroke.lineTo(sign, -top + thick / 2)
        stroke.lineTo(sign + body.width + 0.06 * size, -top + thick / 2)
        out = Laid()
        out.place(body, sign + 0.03 * size)
        outline = _outline(stroke, thick)
        out.path.addPath(outline)
        out.ascent = max(out.ascent, top)
        out.width = sign + body.width + 0.1 * size
        return out

    def big_op(self, box: BigOp, size: float) -> Laid:
        laid = self.text(box.symbol, size * BIG)
        axis = 0.3 * size
        middle = (laid.ascent - laid.descent) / 2
        out = Laid()
        out.place(laid, 0.04 * size, middle - axis)
        out.width = laid.width + 0.1 * size
        return out

    def group(self, box: Group, size: float) -> Laid:
        body = self.row(box.body, size)
        out = Laid()
        x = 0.0
        for bracket, is_open in ((box.open, True), (box.close, False)):
            if not bracket:
                if is_open:
                    out.place(body, 0)
                    x = body.width
                continue
            laid = self._bracket(bracket, size, body)
            if is_open:
                out.place(laid, 0)
                out.place(body, laid.width)
                x = laid.width + body.width
            else:
                out.place(laid, x)
                x += laid.width
        out.width = x
        return out

    def _bracket(self, bracket: str, size: float, body: Laid) -> Laid:
        """The bracket glyph, stretched upright to span a body taller than a line of text."""
        laid = self.text(bracket, size)
        span, own = body.ascent + body.descent, laid.ascent + laid.descent
        if span <= own * 1.05 or own <= 0:
            return laid
        factor = (span + 0.1 * size) / own
        middle = (body.ascent - body.descent) / 2
        own_middle = (laid.ascent - laid.descent) / 2
        stretch = QTransform().translate(0, -middle).scale(1, factor).translate(0, own_middle)
        stretched = Laid(
            laid.width, middle + own / 2 * factor, own / 2 * factor - middle, stretch.map(laid.path)
        )
        stretched.runs = laid.runs
        return stretched


def _outline(path: QPainterPath, width: float) -> QPainterPath:
    """A stroked line as a filled shape, so the whole formula is one path filled at once."""
    stroker = QPainterPathStroker()
    stroker.setWidth(width)
    stroker.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    stroker.setCapStyle(Qt.PenCapStyle.FlatCap)
    return stroker.createStroke(path)


def _padding(items: tuple[Box, ...], i: int) -> float:
    """Em of space on each side of item i: binary operators and relations get some, unary minus none."""
    item = items[i]
    if not isinstance(item, Text) or item.style not in PADDING:
        return 0.0
    before = next((b for b in reversed(items[:i]) if not isinstance(b, Space)), None)
    unary = before is None or (isinstance(before, Text) and before.style in ("op", "rel", "punct"))
    if unary and item.style == "op":
        return 0.0
    return NARROW_OPS.get(item.text, PADDING[item.style])


@dataclass
class Typeset:
    """A formula laid out: one path (y = 0 at its top), its size in points, and the text runs drawn."""

    path: QPainterPath
    width: float
    height: float
    runs: list[tuple[str, float, bool]]

    def paint(self, painter: QPainter, origin: QPointF, color: QColor) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(origin)
        painter.fillPath(self.path, color)
        painter.restore()

    def image(self, color: QColor, ratio: float = 1.0, margin: float = 1.0) -> QImage:
        """The formula on a transparent image `ratio` times its size in points, tagged with that ratio."""
        ratio = ratio if math.isfinite(ratio) and ratio > 0 else 1.0
        width = math.ceil((self.width + 2 * margin) * ratio)
        height = math.ceil((self.height + 2 * margin) * ratio)
        image = QImage(max(width, 1), max(height, 1), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        image.setDevicePixelRatio(ratio)
        painter = QPainter(image)
        self.paint(painter, QPointF(margin, margin), color)
        painter.end()
        return image

    def pixmap(self, color: QColor, ratio: float = 1.0) -> QPixmap:
        return QPixmap.fromImage(self.image(color, ratio))


def typeset(text: str | Formula, size: float = 11.0, max_width: float | None = None) -> Typeset:
    """Lay out a formula at `size` points; clauses share a line while they fit in `max_width`, and a
    clause wider than that breaks at its spaces, its later lines indented."""
    formula = parse(text) if isinstance(text, str) else text
    layout = Layout(size)
    lines: list[tuple[float, list[Laid]]] = []  # (indent, the pieces side by side)
    width_now, gap, indent = 0.0, CLAUSE_GAP * size, SPACE * 4 * size
    wrapped = False
    for index, clause in enumerate(formula.clauses):
        if index and formula.separators[index - 1]:
            last = lines[-1][1][-1]
            mark = layout.text(formula.separators[index - 1], size)
            last.place(mark, last.width)
            last.width += mark.width
            width_now += mark.width
        mark_room = layout.text(",", size).width if index < len(formula.separators) else 0.0
        pieces = _pieces(layout, clause, size, None if max_width is None else max_width - mark_room, indent)
        for number, piece in enumerate(pieces):
            fits = max_width is None or width_now + gap + piece.width <= max_width
            if lines and number == 0 and fits and len(pieces) == 1 and not wrapped:
                lines[-1][1].append(piece)
                width_now += gap + piece.width
            else:
                lines.append((indent if number else 0.0, [piece]))
                width_now = lines[-1][0] + piece.width
        wrapped = len(pieces) > 1  # a broken clause keeps its lines to itself
    path, runs, y, width = QPainterPath(), [], 0.0, 0.0
    for x, line in lines:
        ascent = max(c.ascent for c in line)
        for piece in line:
            path.addPath(piece.path.translated(x, y + ascent))
            runs.extend(piece.runs)
            x += piece.width + gap
        width = max(width, x - gap)
        y += ascent + max(c.descent for c in line) + LINE_GAP * size
    height = max(y - LINE_GAP * size, 0.0)
    return Typeset(path, width, height, runs)


def _pieces(layout: Layout, row: Row, size: float, max_width: float | None, indent: float) -> list[Laid]:
    """The clause in one piece when it fits, else broken at its top-level spaces into pieces that do
    (a single word wider than the room stays whole)."""
    whole = layout.row(row, size)
    if max_width is None or whole.width <= max_width:
        return [whole]
    words: list[list[Box]] = [[]]
    for item in row.items:
        if isinstance(item, Space):
            words.append([])
        else:
            words[-1].append(item)
    pieces: list[list[Box]] = []
    current: list[Box] = []
    for word in (w for w in words if w):
        trial = [*current, Space(), *word] if current else word
        room = max_width - (indent if pieces else 0.0)
        if current and layout.row(Row(tuple(trial)), size).width > room:
            pieces.append(current)
            current = word
        else:
            current = trial
    pieces.append(current)
    return [layout.row(Row(tuple(p)), size) for p in pieces]
