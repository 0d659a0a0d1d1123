"""File ▸ Export / Import and the Code dock: what they write, show and refuse; an import runs in a
worker while the window stays live."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog

from app.window import MainWindow
from graphcore.exchange.export import export_python
from graphcore.registry import REGISTRY

NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return torch.relu(self.fc(x))
"""

ODD = """
import torch
from torch import nn


class Odd(nn.Module):
    def forward(self, x):
        return torch.flip(x, [1])
"""


# Waits, in the worker thread, until the test creates the file beside it (the user's code may be slow).
SLOW = """
import time
from pathlib import Path

import torch
from torch import nn

GO = Path(__file__).with_name("go")


class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        deadline = time.monotonic() + 60
        while not GO.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return torch.relu(self.fc(x))
"""

RAISES = """
import sys

import torch
from torch import nn


class Exits(nn.Module):
    def __init__(self):
        super().__init__()
        sys.exit(3)


class Fails(nn.Module):
    def forward(self, x):
        raise RuntimeError("the forward is broken\\nsecond line")
"""


def answer_save(monkeypatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def show_code(window: MainWindow, qtbot):
    window.docks["code"].show()
    window.docks["code"].raise_()
    preview = window.export_tools.preview
    qtbot.waitUntil(lambda: not preview.stale and preview.isVisible())
    return preview


def expected_source(window: MainWindow) -> str:
    path = window.document.path
    return export_python(
        window.document.graph,
        name=window.document.graph.meta.get("name", path.stem),
        source_name=path.name,
        script_name=f"{path.stem}.py",
        base_dir=path.parent,
    ).source


def test_code_dock_shows_the_export_and_follows_edits(neuron: MainWindow, qtbot):
    preview = show_code(neuron, qtbot)
    assert preview.text.toPlainText() == expected_source(neuron)
    neuron.controller.set_label("t", "activation")
    qtbot.waitUntil(lambda: "activation = " in preview.text.toPlainText())
    assert preview.text.toPlainText() == expected_source(neuron)


def test_code_dock_shows_problems_and_copies(neuron: MainWindow, qtbot):
    preview = show_code(neuron, qtbot)
    preview.copy_button.click()
    assert QApplication.clipboard().text() == preview.text.toPlainText() != ""
    neuron.scene.select_nodes(["x"])
    neuron.controller.delete_selection()
    qtbot.waitUntil(lambda: "⚠" in preview.text.toPlainText())
    assert "problem" in preview.status.text() and not preview.copy_button.isEnabled()


def test_code_dock_waits_while_hidden(neuron: MainWindow, qtbot):
    preview = show_code(neuron, qtbot)
    neuron.docks["history"].raise_()  # the code's tab goes behind another: still "visible" to Qt
    neuron.controller.set_label("t", "hidden_edit")
    assert preview.stale and not preview.timer.isActive()
    neuron.docks["code"].hide()
    neuron.controller.set_label("t", "hidden_again")
    assert preview.stale and not preview.timer.isActive() and "hidden" not in preview.text.toPlainText()
    show_code(neuron, qtbot)
    assert "hidden_again = " in preview.text.toPlainText()


def test_export_python_writes_the_exported_source(neuron: MainWindow, tmp_path: Path, monkeypatch):
    target = tmp_path / "neuron.py"
    answer_save(monkeypatch, target)
    neuron.menu["export_python"].trigger()
    text = target.read_text(encoding="utf-8")
    compile(text, str(target), "exec")
    assert text == expected_source(neuron)


def test_export_failures_say_which_file_and_why(neuron: MainWindow, tmp_path: Path, monkeypatch):
    target = tmp_path / "missing" / "neuron.py"
    answer_save(monkeypatch, target)
    assert not neuron.export_tools.export_python()
    assert str(target) in neuron.error_box.text() and "cannot write" in neuron.error_box.text()
    neuron.scene.select_nodes(["x"])
    neuron.controller.delete_selection()
    answer_save(monkeypatch, tmp_path / "broken.py")
    assert not neuron.export_tools.export_python()
    assert "broken.py" in neuron.error_box.text() and not (tmp_path / "broken.py").exists()
    answer_save(monkeypatch, tmp_path / "broken.onnx")
    assert not neuron.export_tools.export_onnx()
    assert "broken.onnx" in neuron.error_box.text()


def test_png_export_is_the_whole_graph(neuron: MainWindow, tmp_path: Path, monkeypatch):
    target = tmp_path / "graph.png"
    answer_save(monkeypatch, target)
    neuron.menu["export_png"].trigger()
    image = QImage(str(target))
    rect = neuron.export_tools.image_rect()
    assert not image.isNull()
    assert (image.width(), image.height()) == (round(rect.width()), round(rect.height()))


def test_svg_export_writes_svg(neuron: MainWindow, tmp_path: Path, monkeypatch):
    target = tmp_path / "graph"
    answer_save(monkeypatch, target)
    neuron.menu["export_svg"].trigger()
    assert "<svg" in (tmp_path / "graph.svg").read_text(encoding="utf-8")


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.py"
    path.write_text(NET, encoding="utf-8")
    return path


def import_and_wait(window: MainWindow, qtbot, *request: str) -> None:
    with qtbot.waitSignal(window.import_tools.importer.finished, timeout=60_000):
        assert window.import_tools.import_module(*request)


def test_import_opens_the_module_as_a_new_unsaved_graph(window: MainWindow, net_file: Path, qtbot):
    tools = window.import_tools
    tools.ask_import = lambda: (str(net_file), "Net", "x=[N,3]", "")
    with qtbot.waitSignal(tools.importer.finished, timeout=60_000):
        window.menu["import_torch"].trigger()
        assert not window.menu["import_torch"].isEnabled()  # busy until the graph lands
        assert window.statusBar().currentMessage() == "Importing Net from net.py…"
    assert window.menu["import_torch"].isEnabled()
    types = sorted(node.type for node in window.document.graph.nodes)
    assert types == ["Input", "Linear", "relu"]
    assert window.dirty and window.document.path is None
    assert "Imported Net" in window.statusBar().currentMessage()


def test_import_errors_are_messages(window: MainWindow, net_file: Path, tmp_path: Path, qtbot):
    before = window.document
    import_and_wait(window, qtbot, str(net_file), "Nope", "x=[N,3]")
    assert "Nope" in window.error_box.text() and window.document is before
    import_and_wait(window, qtbot, str(net_file), "Net", "x")
    assert "x=[N,3]" in window.error_box.text() and window.document is before
    raises = tmp_path / "raises.py"
    raises.write_text(RAISES, encoding="utf-8")
    import_and_wait(window, qtbot, str(raises), "Exits", "x=[N,3]")  # SystemExit in the worker
    assert "Exits(**{}) failed: SystemExit: 3" in window.error_box.text() and window.document is before
    import_and_wait(window, qtbot, str(raises), "Fails", "x=[N,3]")
    message = window.error_box.text()
    assert message.startswith(f"{raises}: ") and "RuntimeError: the forward is broken" in message
    assert "second line" not in message and window.document is before
    assert window.menu["import_torch"].isEnabled() and not window.import_tools.importer.busy


def test_a_slow_module_imports_while_the_window_stays_live(window: MainWindow, tmp_path: Path, qtbot):
    path = tmp_path / "slow.py"
    path.write_text(SLOW, encoding="utf-8")
    tools, before = window.import_tools, window.document
    assert tools.import_module(str(path), "Slow", "x=[N,3]")
    ticks: list[int] = []
    timer = QTimer(window, interval=10)
    timer.timeout.connect(lambda: ticks.append(len(ticks)))
    timer.start()
    qtbot.waitUntil(lambda: len(ticks) >= 5)  # the event loop turns while the module is being built
    timer.stop()
    assert tools.importer.busy and window.document is before
    assert not tools.import_module(str(path), "Slow", "x=[N,3]")  # one import at a time
    window.controller.add_node("relu", window.view.center())  # editing goes on meanwhile
    assert window.dirty
    with qtbot.waitSignal(tools.importer.finished, timeout=60_000):
        (tmp_path / "go").touch()
    assert window.document is not before and window.document.graph.meta["name"] == "Slow"
    assert "Imported Slow from slow.py" in window.statusBar().currentMessage()


def test_an_import_does_not_replace_a_graph_edited_meanwhile_unless_allowed(
    window: MainWindow, tmp_path: Path, qtbot
):
    path = tmp_path / "slow.py"
    path.write_text(SLOW, encoding="utf-8")
    before = window.document
    assert window.import_tools.import_module(str(path), "Slow", "x=[N,3]")
    window.controller.add_node("relu", window.view.center())
    window.ask_save_changes = lambda: "cancel"
    with qtbot.waitSignal(window.import_tools.importer.finished, timeout=60_000):
        (tmp_path / "go").touch()
    assert window.document is before and "Import of Slow dropped" in window.statusBar().currentMessage()


def test_closing_the_window_during_an_import(window: MainWindow, tmp_path: Path, qtbot):
    path = tmp_path / "slow.py"
    path.write_text(SLOW, encoding="utf-8")
    importer = window.import_tools.importer
    assert window.import_tools.import_module(str(path), "Slow", "x=[N,3]")
    go = threading.Timer(0.05, (tmp_path / "go").touch)  # the module finishes while the window closes
    go.start()
    assert window.close()
    go.join()
    qtbot.waitUntil(lambda: not importer.busy)  # the answer came and was dropped
    assert window.document is None and window.error_box is None


def test_opaque_nodes_are_read_only_in_the_inspector(window: MainWindow, tmp_path: Path, qtbot):
    path = tmp_path / "odd.py"
    path.write_text(ODD, encoding="utf-8")
    import_and_wait(window, qtbot, str(path), "Odd", "x=[N,3]")
    opaque = [n.id for n in window.document.graph.nodes if not REGISTRY.get(n.type).editable]
    assert opaque and "Opaque" in window.import_tools.report_box.text()
    window.scene.select_nodes(opaque[:1])
    editors = window.inspector.editors
    assert editors and not any(editor.isEnabled() for editor in editors.values())


def test_export_with_training_loop(window: MainWindow, examples: Path, tmp_path: Path, monkeypatch):
    assert window.open_path(examples / "xor.json")
    target = tmp_path / "xor_train.py"
    answer_save(monkeypatch, target)
    window.menu["export_with_training"].setChecked(True)
    window.menu["export_python"].trigger()
    graph = window.document.graph
    expected = export_python(
        graph,
        name=graph.meta.get("name", "xor"),
        source_name="xor.json",
        script_name="xor.py",
        train=True,
        base_dir=examples,
    ).source
    assert target.read_text(encoding="utf-8") == expected and "def train" in expected


def test_import_dialog_reads_its_fields(window: MainWindow, tmp_path: Path):
    from app.export.torch_import import ImportDialog

    dialog = ImportDialog(tmp_path, window)
    dialog.file.setText(" net.py ")
    dialog.class_name.setText("Net")
    dialog.inputs.setText("x=[N,3]")
    assert dialog.values() == ("net.py", "Net", "x=[N,3]", "")


def test_an_exported_graph_imports_with_its_ids_labels_and_places(neuron: MainWindow, tmp_path: Path, qtbot):
    graph = neuron.document.graph
    exported = export_python(graph, name="neuron")
    path = tmp_path / "neuron.py"
    path.write_text(exported.source, encoding="utf-8")
    import_and_wait(neuron, qtbot, str(path), exported.class_name, "")  # no shapes: the file's INPUTS
    back = neuron.document.graph
    assert back is not graph
    assert {(n.id, n.label, n.pos) for n in back.nodes} == {(n.id, n.label, n.pos) for n in graph.nodes}
    assert all(node.label for node in graph.nodes)  # the example labels them all: the check means something
