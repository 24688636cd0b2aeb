"""Confirmed writes: every CLI command that exited 0, with what each member must then hold.

A write is checked on every member at the end. Field values are checked against the record's
history as well as its current value, because a later write (or a concurrent one from another
member) may legitimately replace them; what must never happen is a member that lacks them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Write:
    """One confirmed write. ``what`` is one of:

    - ``field``: record ``target`` held ``value`` in field ``name`` (now or in its history);
    - ``deleted``: record ``target`` is deleted;
    - ``text``: document ``target``'s text contains ``value``;
    - ``blob``: the file of resource ``target`` is present;
    - ``setting``: settings map ``name`` has key ``target`` (its value one of the confirmed);
    - ``member``: peer ``target`` has role ``value`` ('' = removed).
    """

    round: int
    node: str
    command: str
    what: str
    target: str
    name: str = ""
    value: object = None
    at: float = field(default_factory=time.time)  # when the command was confirmed


@dataclass
class Ledger:
    writes: list[Write] = field(default_factory=list)
    records: dict[str, list[str]] = field(default_factory=dict)  # kind -> ids
    deleted: set[str] = field(default_factory=set)
    authors: dict[str, str] = field(default_factory=dict)  # record id -> node name
    unconfirmed: list[str] = field(default_factory=list)  # refused by the CLI (expected)

    def add(self, write: Write) -> None:
        self.writes.append(write)

    def created(self, kind: str, record_id: str, node: str) -> None:
        self.records.setdefault(kind, []).append(record_id)
        self.authors[record_id] = node

    def kind_of(self, record_id: str) -> str:
        return next((k for k, ids in self.records.items() if record_id in ids), "")

    def live(self, kind: str) -> list[str]:
        return [r for r in self.records.get(kind, []) if r not in self.deleted]

    def setting_values(self, name: str, key: str) -> list[object]:
        """Every confirmed value of one settings entry (the final one is any of them)."""
        return [w.value for w in self.writes
                if w.what == "setting" and w.name == name and w.target == key]

    def current(self) -> list[Write]:
        """The writes every member must reflect: of a member's role changes, only the last."""
        last = {w.target: w for w in self.writes if w.what == "member"}
        return [w for w in self.writes if w.what != "member" or last[w.target] is w]

    def standing(self) -> dict[str, list[tuple[float, bool]]]:
        """Per peer whose role was changed or who was removed: (when, demoted below manager
        or removed from then on) for each such change, in order."""
        out: dict[str, list[tuple[float, bool]]] = {}
        for w in self.writes:
            if w.what == "member" and w.command.startswith("member "):
                out.setdefault(w.target, []).append((w.at, w.value != "manager"))
        return out

    def by_node(self, node: str) -> list[Write]:
        return [w for w in self.writes if w.node == node]
