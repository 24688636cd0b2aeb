"""Attack review (hole punching): a teammate's modified client names the addresses it was
"seen at" in its DCUtR CONNECT, and the other end dials them all (``sync/relay_punch.py``).
Addresses of this machine or its link (a local database, an admin page) are never dialled,
nor more than a few; what a NAT really shows (public or private IP addresses) still is."""

from __future__ import annotations

from libp2p import new_host
from multiaddr import Multiaddr

from bullpen.sync.relay_punch import MAX_PUNCH_ADDRS, _Punching

HOSTILE = ["/ip4/127.0.0.1/tcp/6379", "/ip6/::1/tcp/22", "/ip4/169.254.169.254/tcp/80",
           "/ip4/0.0.0.0/tcp/8080", "/ip6/::ffff:127.0.0.1/tcp/5432", "/dns4/localhost/tcp/80",
           "/ip4/224.0.0.1/tcp/1", "/unix/tmp/socket"]
HONEST = ["/ip4/203.0.113.2/tcp/4001", "/ip4/192.168.1.10/tcp/4001",
          "/ip6/2001:db8::1/udp/4001/quic-v1"]


def test_a_teammate_cannot_make_us_dial_local_addresses() -> None:
    punching = _Punching(new_host())
    sent = [Multiaddr(a).to_bytes() for a in HOSTILE + HONEST] + [b"\xff garbage"]
    assert [str(a) for a in punching._decode_observed_addrs(sent)] == HONEST
    many = [Multiaddr(f"/ip4/203.0.113.{i}/tcp/4001").to_bytes() for i in range(1, 200)]
    assert len(punching._decode_observed_addrs(many)) == MAX_PUNCH_ADDRS
