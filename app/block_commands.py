"""The window's block commands: Edit ▸ Make Block from Selection (Ctrl+B), opening the selected block
(Enter, or a double-click), and adding a node or a block instance from the palette. MainWindow mixes
this in; the name question is a small method so tests can answer it through the dialog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QInputDialog, QLineEdit

from app.canvas.items import HEADER, MIN_WIDTH
from app.editing.blocks import (
    INPUT_TYPE,
    BlockDocument,
    SetBlockInputs,
    add_instance,
    block_of_entry,
    exposed_refusal,
    free_block_name,
    listed_inputs,
    make_block,
)
from graphcore.graph import PortRef

if TYPE_CHECKING:
    from app.canvas.block_view import BlockNavigator
    from app.canvas.breadcrumb import Breadcrumb
    from app.canvas.scene import CanvasScene
    from app.canvas.view import CanvasView
    from app.editing.controller import Controller
    from app.editing.document import Document


class BlockCommands:
    if TYPE_CHECKING:  # what MainWindow provides
        document: Document | None
        shown: Document
        scene: CanvasScene
        controller: Controller
        view: CanvasView
        blocks: BlockNavigator
        breadcrumb: Breadcrumb

        def show_message(self, text: str) -> None: ...

    def ask_block_name(self, suggestion: str) -> str | None:
        """The name of the block about to be made; None when the user cancels."""
        name, ok = QInputDialog.getText(
            self.view, "Make Block", "Block name:", QLineEdit.EchoMode.Normal, suggestion
        )
        return name.strip() if ok else None

    def make_block(self) -> str | None:
        """Ctrl+B: the selection becomes one block node (one undo step); a refusal says why."""
        if self.shown is not self.document:
            self.show_message("Cannot make a block inside a block: go back out first (Esc)")
            return None
        node_ids = self.scene.selected_node_ids()
        if not node_ids:
            self.show_message("Select the nodes to make a block of first")
            return None
        name = self.ask_block_name(free_block_name(self.shown.graph))
        if name is None:
            return None
        try:
            instance = make_block(self.shown, node_ids, name)
        except ValueError as error:
            self.show_message(f"Cannot make a block: {error}")
            return None
        self.scene.select_nodes([instance])
        self.show_message(f"Made block {name} from {len(node_ids)} nodes (Enter opens it)")
        return instance

    def delete_selection(self, cut: bool = False) -> None:
        """Delete (or Cut): inside a block, a node an output port exposes stays, refused in one line."""
        shown = self.shown
        if isinstance(shown, BlockDocument):
            refusal = exposed_refusal(shown.definition, shown.block, self.scene.selected_node_ids())
            if refusal is not None:
                self.show_message(refusal)
                return
            gone = listed_inputs(shown.definition, self.scene.selected_node_ids())
            if gone:  # its ports go outside, with their wires, in the same undo step
                kept = [i for i in shown.definition.inputs if i not in gone]
                shown.stack.beginMacro(f"{'Cut' if cut else 'Delete'} block input {', '.join(gone)}")
                shown.push(SetBlockInputs(shown.outer.graph, shown.block, kept))
                self._delete_or_cut(cut)
                shown.stack.endMacro()
                return
        self._delete_or_cut(cut)

    def _delete_or_cut(self, cut: bool) -> None:
        if cut:
            self.controller.cut()
        else:
            self.controller.delete_selection()

    def _add_node(self, node_type: str, at: QPointF, connect_to: tuple[PortRef, bool] | None) -> str | None:
        """Add a node; an Input added inside a block is its new last input port outside, in the
        same undo step."""
        shown = self.shown
        if node_type != INPUT_TYPE or not isinstance(shown, BlockDocument):
            return self.controller.add_node(node_type, at, connect_to)
        shown.stack.beginMacro("Add block input")
        node_id = self.controller.add_node(node_type, at, connect_to)
        if node_id is not None:
            inputs = [*shown.definition.inputs, node_id]
            shown.push(SetBlockInputs(shown.outer.graph, shown.block, inputs))
        shown.stack.endMacro()
        return node_id

    def reveal_inner_node(self, node_id: str) -> bool:
        """Show node "res1/2/fc" of the flat program (a problem's node): open block res1 from the
        file's graph, pick its copy 2, select fc there. False (the file's graph shown) when the path
        leads to no node."""
        parts = node_id.split("/")
        if len(parts) < 2 or self.document is None:
            return False
        self.blocks.leave_to(0)
        while len(parts) > 1 and self.blocks.open(parts[0]):
            parts = parts[1:]
            copies = self.blocks.shown.copies
            if copies > 1 and len(parts) > 1 and parts[0].isdigit() and 1 <= int(parts[0]) <= copies:
                self.breadcrumb.copy.setValue(int(parts[0]))
                parts = parts[1:]
        if len(parts) != 1 or parts[0] not in self.scene.nodes:
            self.blocks.leave_to(0)  # half way down a path that leads nowhere is no place to stay
            return False
        self.scene.select_nodes(parts)
        self.view.frame(self.scene.nodes[parts[0]].sceneBoundingRect())
        return True

    def open_selected_block(self) -> bool:
        """Enter: open the one block node selected."""
        selected = self.scene.selected_node_ids()
        if len(selected) != 1:
            return False
        return self.blocks.open(selected[0])

    def add_entry(
        self, entry: str, at: QPointF, connect_to: tuple[PortRef, bool] | None = None
    ) -> str | None:
        """A palette entry chosen or dropped at `at`: a node of that type (wired to `connect_to`, as
        Quick Add does), or an instance of a block."""
        name = block_of_entry(entry)
        if name is None:
            return self._add_node(entry, at, connect_to)
        if self.document is None or name not in self.document.graph.blocks:
            self.show_message(f"This file has no block {name!r}")
            return None
        if self.shown is not self.document:
            self.show_message("Blocks are added on the file's own graph, not inside a block")
            return None
        corner = self.scene.to_grid(at - QPointF(MIN_WIDTH / 2, HEADER / 2))
        node_id = add_instance(self.shown, name, corner)
        self.scene.select_nodes([node_id])
        return node_id
