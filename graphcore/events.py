"""A minimal observer, so the app can follow the model without graphcore importing Qt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks; `emit` calls each in the order they connected."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[..., Any]] = []

    def connect(self, fn: Callable[..., Any]) -> None:
        self._subscribers.append(fn)

    def disconnect(self, fn: Callable[..., Any]) -> None:
        self._subscribers.remove(fn)

    def emit(self, *args: Any) -> None:
        for fn in list(self._subscribers):
            fn(*args)
