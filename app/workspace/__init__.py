"""The workspace: the use cases the CLI and the desktop app call, over documents, store and index.

A workspace is a set of automerge documents: ``index`` (workspace settings, members, the
document catalogue), one collection per record family (``pipeline``, ``contacts``, ...), and one
``doc:<id>`` per co-edited text document. Every write is one automerge transaction persisted as
one change row before the call returns, then reflected in the derived index and announced to
listeners (the sync node, the UI) as a :class:`ChangeSet`.

:class:`Workspace` is the one object the rest of the code holds; this module only opens and
creates profiles. It is assembled from one module per concern, each building on the one
before: :mod:`bullpen.app.storage.replica` (documents, writing, receiving, refreshing,
compaction, over :mod:`bullpen.app.storage.doc_store` and :mod:`bullpen.app.storage.indexer`),
:mod:`.records` (records and settings), :mod:`.members` (membership), :mod:`.documents`
(texts and resources).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automerge.core import ObjType, ScalarType

from bullpen.app.members import old_changes
from bullpen.app.members.identity import Identity, load_identity, save_identity
from bullpen.app.members.membership import founding_entry
from bullpen.app.storage.doc_store import MAX_LOADED_TEXTS
from bullpen.app.storage.keys import PassphraseSource, create_key, unlock
from bullpen.app.storage.replica import STORE_FILE
from bullpen.app.storage.store import StoreError
from bullpen.app.workspace.documents import Documents
from bullpen.app.workspace.members import INVITES, MEMBERSHIP
from bullpen.app.workspace.types import ChangeSet, WorkspaceError, now_iso
from bullpen.crdt import records as rec
from bullpen.crdt.schema import (
    COLLECTIONS,
    DEFAULT_STAGES,
    INDEX_DOC,
    KINDS,
    ValidationError,
)


class Workspace(Documents):
    """A profile's workspace: every use case, on one replica (see the module docstring)."""

    # ----- opening -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: Path,
        name: str,
        title: str,
        *,
        currency: str = "EUR",
        passphrase: str | None = None,
        ask: PassphraseSource | None = None,
    ) -> Workspace:
        """A new identity and a new workspace whose first member (a manager) is this user."""
        if not title.strip():
            raise ValidationError("the workspace title must not be empty")
        identity = Identity.generate()
        workspace_id, founder_id, founder_text = founding_entry(identity, name, now_iso())
        ws = cls._new_profile(home, name, workspace_id, identity, passphrase, ask)
        for doc_id in COLLECTIONS:
            ws.doc_store.ensure(doc_id)
        stages = [s.__dict__ for s in DEFAULT_STAGES]

        def setup(tx: Any) -> set[str]:
            settings = rec.container(tx, rec.SETTINGS)
            tx.put(settings, "workspace_id", ScalarType.Str, ws.workspace_id)
            tx.put(settings, "title", ScalarType.Str, title)
            tx.put(settings, "currency", ScalarType.Str, currency.upper())
            tx.put(settings, "stages", ScalarType.Str, json.dumps(stages))
            log = tx.put_object(settings, MEMBERSHIP, ObjType.Map)
            tx.put(log, founder_id, ScalarType.Str, founder_text)
            tx.put_object(settings, INVITES, ObjType.Map)
            return set()

        ws._write(INDEX_DOC, setup)
        return ws

    @classmethod
    def create_joining(
        cls,
        home: Path,
        name: str,
        workspace_id: str,
        *,
        passphrase: str | None = None,
        ask: PassphraseSource | None = None,
    ) -> Workspace:
        """A new identity with no documents yet: the profile of someone joining an existing
        workspace, who receives its documents from a member by sync."""
        return cls._new_profile(home, name, workspace_id, Identity.generate(), passphrase, ask)

    @classmethod
    def _new_profile(
        cls,
        home: Path,
        name: str,
        workspace_id: str,
        identity: Identity,
        passphrase: str | None,
        ask: PassphraseSource | None,
    ) -> Workspace:
        """A profile folder with its key, identity and store, for workspace ``workspace_id``."""
        if not name.strip():
            raise ValidationError("name must not be empty")
        home.mkdir(parents=True, exist_ok=True)
        if (home / STORE_FILE).exists():
            raise WorkspaceError(f"{home} already holds a workspace (use another --home)")
        key = create_key(home, passphrase, ask)
        save_identity(home, identity, key)
        ws = cls(home, key, identity)
        with ws.store.transaction():
            ws.store.set_meta("name", name)
            ws.store.set_meta("workspace_id", workspace_id)
            old_changes.mark_done(ws)
        ws.name, ws.workspace_id = name, workspace_id
        return ws

    @classmethod
    def open(
        cls, home: Path, *, passphrase: str | None = None, ask: PassphraseSource | None = None
    ) -> Workspace:
        """Open an existing profile; the key comes from the passphrase, env or keyring."""
        if not (home / STORE_FILE).exists():
            raise WorkspaceError(
                f"no workspace in {home}: run `bullpen init --name NAME --workspace TITLE` "
                f"or `bullpen join CODE`"
            )
        key = unlock(home, passphrase, ask)
        try:
            identity = load_identity(home, key)
        except FileNotFoundError:
            raise StoreError(f"{home / 'identity.key'}: missing, this profile has no key") from None
        ws = cls(home, key, identity)
        ws.check_index()
        old_changes.prove(ws)
        return ws

    def status(self) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "workspace_id": self.workspace_id,
            "name": self.name,
            "title": self.title,
            "digest": self.digest(),
            "documents": len(self.doc_ids()),
            "home": str(self.home),
        }


__all__ = ["ChangeSet", "INDEX_DOC", "INVITES", "KINDS", "MAX_LOADED_TEXTS", "STORE_FILE",
           "Workspace", "WorkspaceError", "now_iso"]
