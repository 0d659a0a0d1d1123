"""The app's line icons (app/icons/*.svg, drawn for this app) and the tooltips that name shortcuts.

The SVGs stroke with `currentColor`; `icon` paints them in the palette's text colour, so the
window re-decorates its actions after a theme change to keep them readable on either theme.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

FOLDER = Path(__file__).with_name("icons")
SIZES = (16, 24, 32, 48)


def icon(name: str) -> QIcon:
    """The icon `name` (a file in app/icons/) in the current palette's text colour; disabled
    actions get Qt's own greyed rendering of it."""
    color = QGuiApplication.palette().color(QPalette.ColorRole.ButtonText).name()
    svg = (FOLDER / f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    result = QIcon()
    for size in SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        result.addPixmap(pixmap)
    return result


def shortcut_tip(action: QAction) -> str:
    """The action's tooltip with its first shortcut in brackets: 'Save (Ctrl+S)'."""
    tip = action.toolTip().removesuffix("…")
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    return f"{tip} ({keys})" if keys and keys not in tip else tip


def decorate(action: QAction, icon_name: str) -> None:
    """Give `action` its icon and a tooltip that names its shortcut."""
    action.setIcon(icon(icon_name))
    action.setToolTip(shortcut_tip(action))


def decorate_named(actions: dict[str, QAction]) -> None:
    """Decorate each action whose name is the name of an icon file."""
    for name, action in actions.items():
        if (FOLDER / f"{name}.svg").is_file():
            decorate(action, name)
