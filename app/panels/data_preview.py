"""Run ▸ Preview Data…: the training dataset's first samples, as the graph's training section builds them.

Images (digits, IDX, CIFAR-10, image folders, bars and stripes) show as a grid of thumbnails with
each one's label (its class name, where the reader has them) under it; a text's windows as rows of
the characters and the next one; other data (2-D points, tables, sequences) as a table with a row
per sample and its fields' values. A flattened image set is previewed unflattened, so its samples still
look like images. The dataset comes from graphcore.training.datasets.build, the Trainer's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graphcore.training.datasets import READER_NAMES, DatasetError, build
from graphcore.training.readers import read_dataset

if TYPE_CHECKING:
    from app.shell import Shell

SAMPLES = 32  # shown
COLUMNS = 8  # thumbnails per row
THUMBNAIL = 64  # px
MAX_VALUES = 12  # of one field shown in a table cell


def preview_section(dataset: dict[str, Any]) -> dict[str, Any]:
    """The dataset section with its images unflattened (and no more samples read than a reader needs)."""
    section = {key: value for key, value in dataset.items() if key != "flatten"}
    if section.get("name") in ("digits", "idx", "cifar10", "image_folder", "text") and "limit" not in section:
        section["limit"] = SAMPLES
    return section


def thumbnail(image: np.ndarray) -> QPixmap:
    """A [c, h, w] image in [0, 1] (grey for one channel, RGB for three) as a pixmap, scaled up."""
    pixels = np.ascontiguousarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0))
    height, width, channels = pixels.shape
    if channels == 3:
        picture = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    else:
        grey = np.ascontiguousarray(pixels[:, :, 0])
        picture = QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(picture.copy()).scaled(
        THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


def label_text(label: np.ndarray, classes: tuple[str, ...] | None) -> str:
    value = label.reshape(-1)
    if value.size == 1 and value.dtype.kind in "iu" and classes and 0 <= int(value[0]) < len(classes):
        return classes[int(value[0])]
    return values_text(label)


def text_of(codes: np.ndarray, classes: tuple[str, ...]) -> str:
    """Character indices as the characters they stand for (a line break shown as ⏎)."""
    return "".join(classes[int(i)] for i in codes.reshape(-1)).replace("\n", "⏎")


def values_text(values: np.ndarray) -> str:
    flat = values.reshape(-1)
    shown = ", ".join(f"{v:.4g}" for v in flat[:MAX_VALUES].tolist())
    return shown + (", …" if flat.size > MAX_VALUES else "")


class DataPreview(QWidget):
    """What Run ▸ Preview Data… shows: a status line, and thumbnails or a table."""

    def __init__(self) -> None:
        super().__init__()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.table = QTableWidget()
        self.thumbnails: list[QLabel] = []
        self.labels: list[QLabel] = []
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.grid_widget)
        layout.addWidget(self.table, 1)

    def show_fields(self, name: str, fields: dict[str, np.ndarray], classes: tuple[str, ...] | None) -> None:
        self._clear()
        x, y = fields.get("x"), fields.get("y")
        shown = min(len(next(iter(fields.values()))), SAMPLES)
        self.status.setText(f"The first {shown} samples of the {name} dataset.")
        if x is not None and x.ndim == 4 and x.shape[1] in (1, 3):
            self._show_images(x[:shown], None if y is None else y[:shown], classes)
        elif name == "text" and classes:
            self._show_table({k: v[:shown] for k, v in fields.items()}, lambda v: text_of(v, classes))
        else:
            self._show_table({k: v[:shown] for k, v in fields.items()}, values_text)

    def show_problem(self, text: str) -> None:
        self._clear()
        self.status.setText(text)

    def _clear(self) -> None:
        for widget in [*self.thumbnails, *self.labels]:
            self.grid.removeWidget(widget)
            widget.deleteLater()
        self.thumbnails, self.labels = [], []
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.table.hide()
        self.grid_widget.hide()

    def _show_images(self, x: np.ndarray, y: np.ndarray | None, classes: tuple[str, ...] | None) -> None:
        for i, image in enumerate(x):
            picture, caption = QLabel(), QLabel("" if y is None else label_text(y[i], classes))
            picture.setPixmap(thumbnail(image))
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            row, column = divmod(i, COLUMNS)
            self.grid.addWidget(picture, 2 * row, column, Qt.AlignmentFlag.AlignHCenter)
            self.grid.addWidget(caption, 2 * row + 1, column)
            self.thumbnails.append(picture)
            self.labels.append(caption)
        self.grid_widget.show()

    def _show_table(self, fields: dict[str, np.ndarray], text: Callable[[np.ndarray], str]) -> None:
        names = list(fields)
        self.table.setColumnCount(len(names))
        self.table.setHorizontalHeaderLabels(names)
        self.table.setRowCount(len(next(iter(fields.values()))))
        for column, name in enumerate(names):
            for row, sample in enumerate(fields[name]):
                self.table.setItem(row, column, QTableWidgetItem(text(np.asarray(sample))))
        self.table.resizeColumnsToContents()
        self.table.show()


class DataPreviewTool:
    """The Run menu's entry and the dock it opens."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.view = DataPreview()
        self.dock = shell.add_dock(
            "data_preview", "Data Preview", self.view, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.dock.hide()
        self.action = shell.menu_named("&Run").addAction("Preview &Data…")
        self.action.triggered.connect(self.open)

    def open(self) -> None:
        self.dock.show()
        self.dock.raise_()
        document = self.shell.document
        dataset = document.graph.training.get("dataset") if document is not None else None
        if not isinstance(dataset, dict) or not dataset:
            self.view.show_problem("This graph has no training dataset (the training section's dataset).")
            return
        seed = document.graph.training.get("seed", 0) if document is not None else 0
        base = document.path.parent if document is not None and document.path else Path.cwd()
        name, section = dataset.get("name"), preview_section(dataset)
        try:
            if name in READER_NAMES:  # a reader knows its class names (digits, CIFAR's, a text's characters)
                read = read_dataset(str(name), section, base)
                fields, classes = read.fields, read.classes
            else:
                fields, classes = build(section, base, seed if isinstance(seed, int) else 0), None
        except (DatasetError, TypeError, ValueError) as error:
            self.view.show_problem(f"training.dataset: {error}")
            return
        self.view.show_fields(str(name), fields, classes)
