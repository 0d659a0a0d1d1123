"""Light and dark themes: the widget palette and the canvas colours, in one record per theme.

Category colours are not listed by name: each category gets a hue in the order the registry first
meets it, spaced by the golden angle so neighbours differ, so families added to nodes/ later are
coloured without touching this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from graphcore.registry import REGISTRY

GOLDEN_ANGLE = 137.508


@dataclass(frozen=True)
class Theme:
    name: str
    dark: bool
    window: str
    base: str
    text: str
    muted: str
    canvas: str
    grid: str
    grid_major: str
    node_body: str
    node_border: str
    edge: str
    label_background: str
    selection: str
    error: str
    ok: str
    port: str

    def color(self, field: str, alpha: int = 255) -> QColor:
        color = QColor(getattr(self, field))
        color.setAlpha(alpha)
        return color

    def category_color(self, category: str) -> QColor:
        """The header colour of a node category: a fixed hue per category, tuned for this theme."""
        hue = (210 + _category_index(category) * GOLDEN_ANGLE) % 360
        return QColor.fromHsv(int(hue), 150 if self.dark else 120, 150 if self.dark else 225)


LIGHT = Theme(
    name="light",
    dark=False,
    window="#eef0f3",
    base="#ffffff",
    text="#1d2128",
    muted="#6b7280",
    canvas="#f6f7f9",
    grid="#e6e8ec",
    grid_major="#d5d9e0",
    node_body="#ffffff",
    node_border="#9aa3b0",
    edge="#5c6675",
    label_background="#ffffff",
    selection="#f59e0b",
    error="#dc2626",
    ok="#16a34a",
    port="#e8ebf0",
)
DARK = Theme(
    name="dark",
    dark=True,
    window="#2b2e33",
    base="#1f2226",
    text="#e6e8eb",
    muted="#9aa1ab",
    canvas="#1b1d21",
    grid="#23262b",
    grid_major="#2d3137",
    node_body="#2c3036",
    node_border="#4b525c",
    edge="#a3acb9",
    label_background="#2c3036",
    selection="#fbbf24",
    error="#f87171",
    ok="#4ade80",
    port="#3b4048",
)
THEMES = {theme.name: theme for theme in (LIGHT, DARK)}


def _category_index(category: str) -> int:
    """Position of `category` in registry order (unknown categories come after the known ones)."""
    categories = list(dict.fromkeys(spec.category for spec in REGISTRY.values()))
    return categories.index(category) if category in categories else len(categories)


def palette(theme: Theme) -> QPalette:
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.window,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.window,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.ToolTipBase: theme.base,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.PlaceholderText: theme.muted,
        QPalette.ColorRole.Highlight: "#3b82f6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.BrightText: theme.error,
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(theme.muted))
    return pal


def apply(theme: Theme) -> None:
    """Style the whole application: Fusion looks the same on every platform and honours palettes."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        if app.style().name().lower() != "fusion":  # setting it again restyles every widget (~50 ms)
            app.setStyle("Fusion")
        app.setPalette(palette(theme))
