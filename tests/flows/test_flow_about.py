"""About This Graph as a user meets it: an example opens with its description in a banner over the
canvas; × hides it, Help ▸ About This Graph brings it back; a file without a description shows none."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.window import MainWindow


def banner(window: MainWindow):
    return window.about_graph.banner


def help_menu_action(window: MainWindow, text: str):
    bar = window.menuBar()
    menu = next(a.menu() for a in bar.actions() if a.text().replace("&", "") == "Help")
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


def test_description_shows_on_open_hides_and_comes_back(window: MainWindow, examples: Path, qtbot):
    described = json.loads((examples / "xor.json").read_text(encoding="utf-8"))["meta"]["description"]
    assert window.open_path(examples / "xor.json")
    shown = banner(window)
    qtbot.waitUntil(shown.isVisible)
    assert shown.text.text() == described and shown.text.wordWrap()
    viewport = window.view.viewport().geometry()
    assert viewport.contains(shown.geometry()), "inside the canvas"
    assert shown.height() < viewport.height() / 2, "leaves most of the canvas for the graph"
    assert shown.scroller.verticalScrollBar().maximum() == 0, "a paragraph fits without scrolling"

    qtbot.mouseClick(shown.close_button, Qt.MouseButton.LeftButton)
    assert not shown.isVisible()
    help_menu_action(window, "About This Graph").trigger()
    assert shown.isVisible() and shown.text.text() == described


def test_a_file_without_description_shows_none(window: MainWindow, examples: Path, tmp_path: Path):
    assert window.open_path(examples / "xor.json") and banner(window).isVisible()
    plain = json.loads((examples / "xor.json").read_text(encoding="utf-8"))
    del plain["meta"]["description"]
    (tmp_path / "plain.json").write_text(json.dumps(plain), encoding="utf-8")
    assert window.open_path(tmp_path / "plain.json")
    assert not banner(window).isVisible()
    help_menu_action(window, "About This Graph").trigger()
    assert not banner(window).isVisible()
    assert "no description" in window.statusBar().currentMessage()


def test_the_banner_follows_the_window_size(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "two_moons.json")
    shown = banner(window)
    wide = shown.width()
    window.resize(700, window.height())
    qtbot.waitUntil(lambda: shown.width() < wide)
    QApplication.processEvents()
    assert window.view.viewport().geometry().contains(shown.geometry())
