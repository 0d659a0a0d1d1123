"""A bounded history for live plots: at most `capacity` points, however long training runs.

Points are averaged in blocks of `stride` samples; when the buffer fills, neighbouring blocks are
merged and the stride doubles, so the whole run stays visible at an even resolution (a 100k-step
run in 2,000 points) and memory and setData cost stay constant.
"""

from __future__ import annotations

import numpy as np


class DecimatingBuffer:
    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity - capacity % 2
        self.x = np.empty(self.capacity)
        self.y = np.empty(self.capacity)
        self.count = 0
        self.stride = 1
        self._sum_x = self._sum_y = 0.0
        self._pending = 0
        self.last_x = self.last_y = np.nan
        self.version = 0  # counts changes: a plot redraws only the curves whose buffer changed

    def __len__(self) -> int:
        return self.count + (1 if self._pending else 0)

    def clear(self) -> None:
        self.version += 1
        self.count, self.stride, self._pending = 0, 1, 0
        self._sum_x = self._sum_y = 0.0
        self.last_x = self.last_y = np.nan

    def append(self, x: float, y: float) -> None:
        self.version += 1
        self.last_x, self.last_y = x, y
        self._sum_x += x
        self._sum_y += y
        self._pending += 1
        if self._pending < self.stride:
            return
        if self.count == self.capacity:
            half = self.capacity // 2
            self.x[:half] = self.x[: self.capacity].reshape(half, 2).mean(1)
            self.y[:half] = self.y[: self.capacity].reshape(half, 2).mean(1)
            self.count = half
            self.stride *= 2
            if self._pending < self.stride:  # this block now has room for more samples
                return
        self.x[self.count] = self._sum_x / self._pending
        self.y[self.count] = self._sum_y / self._pending
        self.count += 1
        self._sum_x = self._sum_y = 0.0
        self._pending = 0

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The points to draw: the full blocks, then the block being filled (as its mean so far)."""
        if not self._pending:
            return self.x[: self.count].copy(), self.y[: self.count].copy()
        x = np.append(self.x[: self.count], self._sum_x / self._pending)
        y = np.append(self.y[: self.count], self._sum_y / self._pending)
        return x, y
