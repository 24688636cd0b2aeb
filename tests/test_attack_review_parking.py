"""Attack review (sync parking): a member whose hello names index heads it never sends makes
us park its other messages; empty sync messages (valid on the wire, a few bytes each) must
count against the bound too, or millions of them are held (hundreds of bytes of memory
each for none of the budget)."""

from __future__ import annotations

from bullpen.sync import messages as m
from bullpen.sync.parking import MAX_PARKED_BYTES, Parking


def test_empty_sync_messages_are_not_parked_without_bound() -> None:
    parking = Parking(lambda: True)  # the peer's index stays ahead for ever
    wire = m.encode(m.Sync("pipeline", b""))
    assert m.decode(wire) == m.Sync("pipeline", b"")  # what a modified client may send
    most = MAX_PARKED_BYTES // 256  # each costs us far more than 256 bytes held
    held, released = 0, []
    while not released and held < 8 * most:
        assert parking.holds(m.decode(wire))
        held += 1
        released = parking.release()
    assert released and held <= most, held
    assert not parking.waiting
