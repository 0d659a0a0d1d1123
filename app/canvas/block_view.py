"""Opening a block: the canvas shows its inside, the breadcrumb says where, Esc or a crumb goes back.

Each level is a document with its own scene and controller: the file's graph at the bottom, then
each block opened (app/editing/blocks.BlockDocument, edits on the file's undo stack). The inside
validates on its own, for its canvas; the file's problems are the user's, so the Problems dock lists
them at every level (named by path, "res1 ▸ fc"), and the inside marks those of the instance and
copy it shows. Leaving a level puts the view back where it looked before the block was opened. An
undo that takes the open block away (undoing "Make block") leaves it by itself, since there is
nothing left to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal

from app.canvas.block_marks import PortBadge, input_badge, output_badge
from app.canvas.breadcrumb import Breadcrumb
from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.editing.blocks import BlockDocument, block_name
from app.editing.controller import Controller
from app.editing.document import Document
from app.panels.diagnostics import DiagnosticsPanel
from app.theme import Theme
from graphcore.blocks import repeat_of
from graphcore.graph import PortRef
from graphcore.validate import Diagnostic

# a double-click opens the block once the scene is done with the click: switching scenes while the
# old one still handles the press would leave it waiting for a release that goes to the new one
QUEUED = Qt.ConnectionType.QueuedConnection


class Host(Protocol):
    """What opening a block needs of the window (MainWindow is one)."""

    view: CanvasView
    theme: Theme
    diagnostics: DiagnosticsPanel

    def show_canvas(self, document: Document, scene: CanvasScene, controller: Controller) -> None: ...
    def frame_all(self) -> None: ...


@dataclass
class Level:
    document: Document
    scene: CanvasScene
    controller: Controller
    view_state: dict[str, Any] = field(default_factory=dict)  # the view of the level below, to go back to
    instance: str = ""  # the instance path it was opened from ("res1"; inside it, "res1/inner")
    copies: int = 1  # the instance's repeat: its inside is shown for copy `copy` of them
    copy: int = 1

    @property
    def values_path(self) -> str:
        """Where the flat program names this level's inner nodes: "res1", or "res1/2" for copy 2."""
        return f"{self.instance}/{self.copy}" if self.copies > 1 else self.instance

    marks: list[PortBadge] = field(default_factory=list)


class BlockNavigator(QObject):
    message = Signal(str)
    inside_shown = Signal(object, str)  # the scene of the open block (None: the file's), its instance path

    def __init__(self, host: Host, breadcrumb: Breadcrumb, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host, self.breadcrumb = host, breadcrumb
        self.levels: list[Level] = []
        self._problems_of: Document | None = None  # the open block whose validations relist the file's
        breadcrumb.chosen.connect(self.leave_to)
        breadcrumb.copy_chosen.connect(self.choose_copy)
        # connected before the window shows the chosen problem's node (it connects once this exists)
        host.diagnostics.node_chosen.connect(self._on_problem_chosen)

    @property
    def depth(self) -> int:
        return len(self.levels) - 1

    @property
    def shown(self) -> Level:
        return self.levels[-1]

    def follow(
        self, document: Document | None, scene: CanvasScene | None, controller: Controller | None
    ) -> None:
        """The window shows another file (None: it lets the old one go): back to its top level."""
        if len(self.levels) > 1:
            self.inside_shown.emit(None, "")
        self._follow_problems(None)
        while len(self.levels) > 1:
            self._drop(self.levels.pop())
        if self.levels:
            root = self.levels.pop()
            root.scene.node_opened.disconnect(self.open)
            root.document.stack.indexChanged.disconnect(self._check_still_there)
        if document is not None and scene is not None and controller is not None:
            self.levels = [Level(document, scene, controller)]
            scene.node_opened.connect(self.open, QUEUED)
            document.stack.indexChanged.connect(self._check_still_there)
        self.host.diagnostics.graph = document.graph if document is not None else None
        if document is not None:
            self._list_file_problems()
        self._show_path()

    def path(self) -> list[str]:
        """The crumbs: the file's name (without .json), then each block opened."""
        if not self.levels:
            return []
        root = self.levels[0].document
        first = root.path.stem if root.path is not None else root.name
        return [first, *(level.document.name for level in self.levels[1:])]

    def open(self, node_id: str) -> bool:
        """Show the inside of block node `node_id` of the level shown; False (and why) for another node."""
        if not self.levels:
            return False
        graph = self.shown.document.graph
        name = block_name(graph.node(node_id)) if node_id in graph else None
        if name is None:
            return False
        root = self.levels[0].document
        definition = root.graph.blocks.get(name)
        if definition is None:
            self.message.emit(f"{node_id} uses block {name!r}, which this file does not define")
            return False
        inner = BlockDocument(root, name, definition)
        scene = CanvasScene(inner, self.host.theme)
        below = self.shown.values_path
        path = f"{below}/{node_id}" if below else node_id
        level = Level(inner, scene, Controller(inner, scene, self.host.view), self.host.view.state(), path)
        level.copies = repeat_of(graph.node(node_id))
        self.levels.append(level)
        scene.node_opened.connect(self.open, QUEUED)
        inner.validated.connect(lambda _report, level=level: self._mark(level))
        self._mark(level)
        self.host.show_canvas(inner, scene, level.controller)
        self._follow_problems(inner)
        self._list_file_problems()
        self._show_path()
        self.host.frame_all()
        self.inside_shown.emit(scene, level.values_path)
        return True

    def choose_copy(self, copy: int) -> None:
        """The breadcrumb's "copy k of N": the open block's inside shows copy k's values."""
        level = self.shown
        if self.depth < 1 or not 1 <= copy <= level.copies or copy == level.copy:
            return
        level.copy = copy
        self._list_file_problems()
        self.inside_shown.emit(level.scene, level.values_path)

    def leave(self) -> bool:
        """Esc: one level up; False at the file's own graph."""
        if self.depth < 1:
            return False
        self.leave_to(self.depth - 1)
        return True

    def leave_to(self, depth: int) -> None:
        """Back out to level `depth` (0: the file's graph), where the view looked when it was left."""
        if not 0 <= depth < self.depth:
            return
        left = self.levels[depth + 1 :]
        del self.levels[depth + 1 :]
        shown = self.shown
        self.host.show_canvas(shown.document, shown.scene, shown.controller)
        self._follow_problems(shown.document if depth else None)
        self._list_file_problems()
        for level in left:
            self._drop(level)
        state = left[0].view_state
        self._show_path()
        self.inside_shown.emit(shown.scene if depth else None, shown.values_path)
        if not self.host.view.restore(state):
            self.host.frame_all()

    @staticmethod
    def _drop(level: Level) -> None:
        """Let a level go (the view shows another scene by now; its scene and controller go with it)."""
        level.document.close()
        level.document.deleteLater()

    def _check_still_there(self) -> None:
        """After an undo or redo: leave every open block whose definition is gone or has another inside."""
        blocks = self.levels[0].document.graph.blocks if self.levels else {}
        for depth, level in enumerate(self.levels[1:], start=1):
            assert isinstance(level.document, BlockDocument)
            definition = blocks.get(level.document.block)
            if definition is None or definition.graph is not level.document.graph:
                self.leave_to(depth - 1)
                self.message.emit(f"Block {level.document.block} is no longer in the file")
                return

    def _on_problem_chosen(self, node_id: str) -> None:
        """A problem of the file's own graph clicked while a block is open: back out first, so the
        window finds the node there, not an inner node that happens to have the same id."""
        if self.depth >= 1 and "/" not in node_id:
            self.leave_to(0)

    def _follow_problems(self, inside: Document | None) -> None:
        """After each validation of the block shown (`inside`; None at the file's graph), list the
        file's problems again, after the window has listed the inside's (it connects in show_canvas,
        so this connects after it)."""
        if self._problems_of is not None:
            self._problems_of.validated.disconnect(self._list_file_problems)
        self._problems_of = inside
        if inside is not None:
            inside.validated.connect(self._list_file_problems)

    def _list_file_problems(self, *_: object) -> None:
        """The Problems dock lists the whole file's problems, wherever the canvas is; the inside of
        a block shown marks those of its instance and copy (a shape that only the instance's input
        breaks: "res1/2/fc" marks fc at copy 2)."""
        if not self.levels:
            return
        report = self.levels[0].document.report
        self.host.diagnostics.show_report(report)
        if self.depth < 1:
            return
        shown, inside = self.shown, self.shown.values_path + "/"
        shown.scene.context_problems = [
            Diagnostic(d.node[len(inside) :], d.port, d.message)
            for d in report.diagnostics
            if d.node.startswith(inside)
        ]
        shown.scene.apply_report(shown.document.report)

    def _show_path(self) -> None:
        shown = self.levels[-1] if self.levels else None
        copies, copy = (shown.copies, shown.copy) if shown is not None else (1, 1)
        self.breadcrumb.show_path(self.path(), copies, copy)

    def _mark(self, level: Level) -> None:
        """Badge the block's Input nodes ("block input x") and the nodes it exposes ("block output y ▶")."""
        assert isinstance(level.document, BlockDocument)
        for mark in level.marks:
            if mark.scene() is level.scene:
                level.scene.removeItem(mark)
        level.marks = []
        definition = self.levels[0].document.graph.blocks.get(level.document.block) if self.levels else None
        if definition is None:
            return
        items, name = level.scene.nodes, level.document.block
        for index, port in enumerate(definition.inputs, start=1):
            if port in items:
                level.marks.append(input_badge(items[port], name, port, index, len(definition.inputs)))
        for port, value in definition.outputs.items():
            node = PortRef.parse(value).node
            if node in items:
                row = sum(mark.parentItem() is items[node] for mark in level.marks)
                level.marks.append(output_badge(items[node], name, port, value, row))
