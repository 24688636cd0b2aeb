"""Co-edited text documents as an editor holds them, without a GUI toolkit.

:mod:`.text_mirror` is the editor's copy of the CRDT text and the splices between two versions
of it; :mod:`.local_undo` is the undo history of the user's own edits. The desktop editor
(ui/document_editor.py) feeds both from Qt and applies what they return; anything else that
edits a document's text (a terminal editor, a test) can use them as they are.
"""
