"""What the sync node needs from the application, as interfaces the application implements.

sync/ never imports app/ (the layers contract in ``pyproject.toml`` fails CI when it does): the
node reaches the local workspace only through these ports (:class:`NodeDocs` extends a
session's :class:`DocPort`: documents and blobs), so the protocol can be read,
tested and changed without the app's storage, and the app decides how peers are remembered
and newcomers admitted.
``bullpen.app.network.node_setup.make_node`` wires the app's adapters to a :class:`~.node.Node`.

Every method may block (SQLite, the CRDT): the node calls them from worker threads, except
``subscribe`` (once, at start) and the plain attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

from .blobsync import BlobPort
from .peers import PeerState

Proofs = dict[tuple[bytes, bytes], bytes]  # (change hash, signer's key) -> signature


class DocPort(BlobPort, Protocol):
    """What a session needs from the local documents and blobs."""

    def all_heads(self) -> dict[str, list[bytes]]: ...
    def heads(self, doc_id: str) -> list[bytes] | None: ...
    def new_sync_state(self) -> Any: ...
    def generate(self, doc_id: str, state: Any) -> bytes | None: ...
    def receive(self, doc_id: str, state: Any, data: bytes, sigs: Proofs) -> set[bytes]: ...
    def saved(self, doc_id: str) -> bytes: ...
    def merge_saved(self, doc_id: str, data: bytes, sigs: Proofs) -> list[bytes]: ...
    def signatures(self, doc_id: str, hashes: list[bytes]) -> Proofs: ...
    def whole_signatures(self, doc_id: str) -> Proofs: ...
    def lacks(self, doc_id: str, hashes: list[bytes]) -> bool: ...
    def dropped(self, doc_id: str) -> dict[bytes, str]: ...


class LocalChange(Protocol):
    """One local write (or batch of changes written by another process on this profile)."""

    @property
    def doc_id(self) -> str: ...
    @property
    def kinds(self) -> Collection[str]: ...  # record kinds touched ("resource": new files)


class Keys(Protocol):
    @property
    def seed(self) -> bytes: ...  # the Ed25519 seed of this profile's libp2p identity


class LocalWorkspace(Protocol):
    """Who we are, and the changes to push to peers."""

    @property
    def peer_id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def name(self) -> str: ...  # ours, told to peers in the hello
    @property
    def identity(self) -> Keys: ...

    def subscribe(self, listener: Callable[[LocalChange], None]) -> Callable[[], None]:
        """Call ``listener`` (from any thread) after each local change; returns the
        unsubscribe function."""
        ...

    def refresh(self) -> object:
        """Pick up what other processes on this profile wrote; announced like local
        changes to the listeners."""
        ...

    def store_version(self) -> int:
        """A number that changes when another process on this profile commits (cheap; the
        node asks it before :meth:`refresh` and after each change of :meth:`written_files`)."""
        ...

    def written_files(self) -> Sequence[Path]:
        """The files another process's commit to this profile writes: the node waits for
        them to change (see ``store_watch``) instead of asking :meth:`store_version` again
        and again."""
        ...

    def member_names(self) -> dict[str, str]:
        """Peer id -> name of each member, to name a peer to the user (blocking: call it
        from a worker thread)."""
        ...


class NodeDocs(DocPort, Protocol):
    """The documents and blobs as the node uses them: what a session needs, and more."""

    def forget_unapplied(self, doc_id: str) -> None:
        """Drop changes automerge holds back for refused dependencies (before asking again)."""
        ...

    def needs_trim(self) -> bool:
        """Were whole documents merged since the last :meth:`trim`?"""
        ...

    def trim(self) -> None:
        """Give memory freed by big merges back to the OS."""
        ...


class PeerBook(Protocol):
    """Whom to redial, kept across runs, and the running node's state for other processes."""

    def known(self) -> dict[str, PeerState]:
        """The remembered peers with their addresses and times."""
        ...

    def remember(self, peer_id: str, times: dict[str, float], name: str = "") -> None:
        """Merge ``times`` into the peer's addresses (the newer time wins); a blank name
        keeps the known one."""
        ...

    def forget(self, peer_ids: list[str]) -> None: ...

    def save_seen(self, states: list[PeerState]) -> None:
        """Update last-seen times and names of peers still remembered (not addresses)."""
        ...

    def publish(self, listen: list[str], states: list[PeerState]) -> None:
        """Tell other processes (``bullpen status``) where we listen and each peer's state."""
        ...

    def unpublish(self) -> None: ...

    def kept_port(self) -> str | None:
        """The port a wildcard listener had last run (see ``addresses``)."""
        ...

    def keep_port(self, port: str) -> None: ...


class NotAdmitted(Exception):
    """A newcomer proved an invite's secret but is not admitted; the message says why."""


class Admission(Protocol):
    """Who may join with an invite (``/bullpen/join/1``, see ``join.py``)."""

    def invited(self, secret: bytes) -> bool:
        """Does this workspace store an invite with this secret?"""
        ...

    def admit(self, secret: bytes, peer_id: str, name: str) -> str:
        """Add ``peer_id`` as a member under the invite; returns its role. Raises
        :class:`NotAdmitted` (expired, used up, revoked ...)."""
        ...
