"""Where the window's docks sit and how big they are: the layout the code sets up, saved and restored
with the window, and kept so that the canvas stays usable when the window shrinks."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

LAYOUT_VERSION = 2  # raise when the docks change: a layout saved by an older version is not restored
DOCK_MIN_WIDTH, DOCK_MIN_HEIGHT = 160, 90  # a panel needing more scrolls rather than squeeze the canvas
CANVAS_SHARE = 0.5  # of the window's width, below which a window resize gives the canvas room back


class DockLayout:
    """The docks of `window` (by name, as Shell.add_dock keeps them): sizes for the first start and
    View ▸ Reset Layout, and the saved state."""

    def __init__(self, window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
        self.window, self.docks = window, docks
        self._default = QByteArray()

    def remember_default(self) -> None:
        """Every dock where the code put it (call once all docks are in)."""
        self._default = self.window.saveState(LAYOUT_VERSION)

    def restore(self, saved: QByteArray) -> None:
        """A layout saved by save(); none yet, damaged, or an older layout leaves the code's one."""
        if not self.window.restoreState(saved, LAYOUT_VERSION):
            self.size_docks()  # the docks are where the code put them: restoring that state again
            # before the first show would leave the old tab bars painted over the docks

    def save(self) -> QByteArray:
        return self.window.saveState(LAYOUT_VERSION)

    def reset(self) -> None:
        """Every dock where the code put it, sized for this window so the canvas keeps at least half
        of it and the bottom plots are readable."""
        self.window.restoreState(self._default, LAYOUT_VERSION)
        self.size_docks()

    def size_docks(self) -> None:
        window, d = self.window, self.docks
        width, height = window.width(), window.height()
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        left, right = _clamp(0.17 * width, 140, 230), _clamp(0.22 * width, 150, 310)
        window.resizeDocks([d["palette"], d["inspector"]], [int(left), int(right)], horizontal)
        bottom = _clamp(0.3 * height + 30, 110, 290) if height >= 600 else 0.2 * height  # + its tabs
        window.resizeDocks([d["diagnostics"]], [int(bottom)], vertical)
        side = height - bottom
        window.resizeDocks([d["palette"], d["minimap"]], [int(side * 0.6), int(side * 0.4)], vertical)

    def keep_canvas_usable(self) -> None:
        """A smaller window (or a restored layout made for a bigger one) shrinks the docks, not only
        the canvas: the canvas keeps CANVAS_SHARE of the width. Measured from the docks, which keep
        their width while the layout shrinks the canvas."""
        window = self.window
        sides = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        docked = [d for d in self.docks.values() if d.isVisible() and not d.isFloating()]
        taken = sum(
            max((d.width() for d in docked if window.dockWidgetArea(d) == a), default=0) for a in sides
        )
        if window.isVisible() and window.width() - taken < CANVAS_SHARE * window.width():
            self.size_docks()


def scrolling(widget: QWidget) -> QWidget:
    """`widget`, or, when it needs more room than a dock should demand, a scroll area around it."""
    needs = widget.minimumSizeHint().expandedTo(widget.minimumSize())
    if needs.width() <= DOCK_MIN_WIDTH and needs.height() <= DOCK_MIN_HEIGHT:
        return widget
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
