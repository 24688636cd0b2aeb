"""The office's documents: co-edited texts and uploaded files (resources).

Why apart from records: each has a body that is not a record field. A text is its own automerge
document (``doc:<id>``, so a long proposal never rides along with pipeline changes), catalogued by a
``document`` record; a resource's bytes live in the encrypted blob store
(:class:`bullpen.app.storage.blobs.BlobStore`), described by a ``resource`` record naming their
hash.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from bullpen.app.members.limits import check_text_length
from bullpen.app.workspace.members import Members
from bullpen.app.workspace.types import ChangeSet, WorkspaceError, new_id
from bullpen.crdt import textdoc
from bullpen.crdt.schema import ValidationError, text_doc_id
from bullpen.crdt.validation import validate


class Documents(Members):
    """Texts and resources, each catalogued by a record (:class:`Records`)."""

    def new_document(self, title: str, text: str = "", *, space: str | None = None) -> str:
        values = validate("document", {"title": title})
        check_text_length(0, len(text))
        catalogue = self._target_doc("document", values, space)
        rid = new_id()
        doc_id = text_doc_id(rid)
        self.doc_store.ensure(doc_id)
        self._write_record(catalogue, "document", rid, values, new=True)
        if text:
            self.edit_document(rid, text=text)
        return rid

    def document(self, record_id: str) -> dict[str, Any]:
        with self.lock:
            meta = self.get(record_id)
            if meta["kind"] != "document":
                raise WorkspaceError(f"{record_id} is not a document")
            text, spans = textdoc.read(self.doc(text_doc_id(meta["id"])))
            return {**meta, "text": text, "spans": [s.to_json() for s in spans]}

    def edit_document(
        self,
        record_id: str,
        *,
        splice: tuple[int, int, str] | None = None,
        text: str | None = None,
        style: tuple[int, int, str, Any] | None = None,
    ) -> ChangeSet:
        """One editing step: a splice (pos, delete, insert), a whole new text, or a style."""
        rid = self.get(record_id)["id"]
        self.check_room_open((self.index.doc_of(rid) or ("", ""))[1])

        def edit(tx: Any) -> set[str]:
            body = textdoc.body(tx)
            length = tx.length(body)
            if splice is not None:
                check_text_length(length, length - splice[1] + len(splice[2]))
            if text is not None:
                check_text_length(length, len(text))
            if splice is not None:
                textdoc.splice(tx, body, *splice)
            if text is not None:
                textdoc.replace_all(tx, body, text)
            if style is not None:
                textdoc.set_mark(tx, body, *style)
            return {rid}

        return self._write(text_doc_id(rid), edit)

    # ----- resources -----------------------------------------------------------------------

    def add_resource(self, path: Path, *, name: str | None = None, description: str = "",
                     space: str | None = None) -> str:
        if not path.is_file():
            raise ValidationError(f"{path}: not a readable file")
        digest, size = self.blobs.put_file(path)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        fields = {"name": name or path.name, "size": size, "mime": mime, "sha256": digest}
        if description:
            fields["description"] = description
        return self.add("resource", fields, space=space)

    def export_resource(self, record_id: str, dest: Path) -> Path:
        meta = self.get(record_id)
        if meta["kind"] != "resource":
            raise WorkspaceError(f"{record_id} is not a resource")
        self.blobs.copy_out(meta["sha256"], dest)
        return dest
