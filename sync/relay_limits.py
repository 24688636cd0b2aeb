"""What a relaying member lends its teammates, at most: reservations, circuits, bytes, time.

A member that relays (``bullpen serve --relay``) forwards encrypted bytes between two
teammates who cannot dial each other. Only current managers and reps may use it (``relay.py``
checks that on every request), but a teammate's machine can still misbehave (a modified
client, a runaway sync), so every use is bounded:

* :attr:`RelayLimits.reservations`: teammates holding a reservation (reachable through us) at
  once; one per peer, renewed in place;
* :attr:`RelayLimits.circuits`: relayed connections open at once through this node, and
  :attr:`RelayLimits.circuits_per_peer` of them per source and per destination;
* :attr:`RelayLimits.circuit_bytes`: bytes one circuit carries, both ways together; past that
  it is reset (a link is redialled: a new circuit starts a new budget, so this bounds a burst,
  and :attr:`circuits` bounds the rate);
* :attr:`RelayLimits.circuit_seconds`: how long one circuit lives, idle or not;
* :attr:`RelayLimits.reservation_seconds`: a reservation's lifetime; the member renews it
  before then, and it also ends when the member's connection to us does.

:class:`CircuitCount` keeps the live numbers, and the totals a relay logs as each circuit
closes (circuits served, bytes relayed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RelayLimits:
    reservations: int = 64
    circuits: int = 64
    circuits_per_peer: int = 8
    circuit_bytes: int = 256 << 20
    circuit_seconds: int = 3600
    reservation_seconds: int = 900

    def __post_init__(self) -> None:
        for name in ("reservations", "circuits", "circuits_per_peer", "circuit_bytes",
                     "circuit_seconds", "reservation_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"relay limit {name} must be positive")


@dataclass
class CircuitCount:
    """Open circuits by source and destination peer, and what all circuits carried."""

    limits: RelayLimits
    open: int = 0
    by_peer: Counter[str] = field(default_factory=Counter)
    served: int = 0
    bytes_relayed: int = 0

    def refusal(self, source: str, dest: str) -> str | None:
        """Why one more circuit from ``source`` to ``dest`` is refused, or None."""
        if self.open >= self.limits.circuits:
            return f"this relay carries {self.limits.circuits} circuits already"
        if max(self.by_peer[source], self.by_peer[dest]) >= self.limits.circuits_per_peer:
            return f"at most {self.limits.circuits_per_peer} circuits per peer"
        return None

    def opened(self, source: str, dest: str) -> None:
        self.open += 1
        self.served += 1
        self.by_peer[source] += 1
        self.by_peer[dest] += 1

    def closed(self, source: str, dest: str, carried: int) -> None:
        self.open -= 1
        self.bytes_relayed += carried
        for peer in (source, dest):
            self.by_peer[peer] -= 1
            if self.by_peer[peer] <= 0:
                del self.by_peer[peer]
