"""Editing the document: the Document (graph, undo stack, report, cached program), the undo
commands, the controller that turns gestures into commands, clipboard, groups, auto layout, and
param values as text. Qt, but no widgets: every window and view edits through here.
"""
