"""RefreshWhenSeen: panels whose refresh is costly (the lab's value lists, the code preview) refresh
after an edit only while someone can see them, and catch up when they come into view.

A dock behind another tab is still `isVisible()` to Qt; only its empty visible region tells, and
its dock's `visibilityChanged` says when its tab comes to the front (`Shell.add_dock` connects
it to `seen`).
"""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget


def on_screen(widget: QWidget) -> bool:
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


class RefreshWhenSeen:
    """Mix in before QWidget and implement `refresh_now`; call `changed` after each edit."""

    stale = True

    def refresh_now(self) -> None:
        raise NotImplementedError

    def changed(self, *_: object) -> None:
        if on_screen(self):  # type: ignore[arg-type]
            self.ensure_fresh(force=True)
        else:
            self.stale = True

    def ensure_fresh(self, force: bool = False) -> None:
        """Refresh now if an edit came while out of sight (before reading or setting a choice)."""
        if self.stale or force:
            self.stale = False
            self.refresh_now()

    def seen(self, visible: bool) -> None:
        if visible:
            self.ensure_fresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)  # type: ignore[misc]
        self.ensure_fresh()
