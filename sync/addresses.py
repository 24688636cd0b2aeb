"""The addresses a node tells others (hello, invites, mDNS), and the port it keeps.

The app and ``bullpen serve`` listen on every interface (``0.0.0.0``), so a laptop that moves
from the office LAN to a hotel network stays reachable without a restart. But "0.0.0.0" means
nothing to a teammate: what the node advertises is its listen address once per IPv4 address the
machine has *now* (LAN addresses first, loopback last; link-local ones are skipped), read with
``ifaddr`` (zeroconf's own interface reader, already installed with libp2p's mDNS).

A wildcard listener also keeps its port from one run to the next (saved in the profile), so
the addresses teammates remember and the ones in an invite made while the app was closed still
reach this machine after a restart. When the port is taken, the OS picks another.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable

import ifaddr

WILDCARD = "/ip4/0.0.0.0/"
PORT_KEY = "listen_port"  # store meta: the wildcard listener's last port


def local_ipv4() -> list[str]:
    """This machine's IPv4 addresses: routable ones first, loopback last, no link-local."""
    found: list[ipaddress.IPv4Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6: (address, flowinfo, scope_id)
            try:
                address = ipaddress.IPv4Address(ip.ip)
            except ValueError:
                continue
            if not address.is_link_local and address not in found:
                found.append(address)
    found.sort(key=lambda a: a.is_loopback)
    return [str(a) for a in found] or ["127.0.0.1"]


def dialable(addrs: Iterable[str]) -> list[str]:
    """``addrs`` with each wildcard address replaced by one per local IPv4 address."""
    out: list[str] = []
    for addr in addrs:
        expanded = ([addr.replace(WILDCARD, f"/ip4/{ip}/", 1) for ip in local_ipv4()]
                    if addr.startswith(WILDCARD) else [addr])
        out += [a for a in expanded if a not in out]
    return out


def with_kept_port(listen: list[str], saved: str | None) -> list[str]:
    """``listen`` with the first wildcard ``tcp/0`` address on the saved port, if it is free."""
    if not saved or not saved.isdigit():
        return listen
    out = list(listen)
    for i, addr in enumerate(out):
        if addr.startswith(WILDCARD) and addr.endswith("/tcp/0"):
            if _port_free(int(saved)):
                out[i] = addr[: -len("/tcp/0")] + f"/tcp/{int(saved)}"
            break
    return out


def bound_port(addrs: Iterable[str]) -> str | None:
    """The port of the first wildcard TCP address the node is listening on."""
    for addr in addrs:
        parts = addr.split("/")
        if addr.startswith(WILDCARD) and len(parts) > 4 and parts[3] == "tcp":
            return parts[4]
    return None


def _port_free(port: int) -> bool:
    """Can a listener bind ``port`` on all interfaces (as trio's would, with SO_REUSEADDR)?"""
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


# ----- where teammates were last reached ------------------------------------------------------
#
# A peer's known addresses are kept with the time each was last confirmed (the peer advertised
# it in a hello, the user added it, or a teammate reached the peer there): {multiaddr: unix
# time}. Merging keeps the newer time of each address, so an older report never overwrites a
# newer one, whichever order reports arrive in (from the table, a hello, a teammate).

MAX_KEPT = 8  # addresses kept per peer, newest first


def merge_times(old: dict[str, float], new: dict[str, float],
                now: float | None = None) -> dict[str, float]:
    """``old`` with ``new`` folded in: the later time per address, times from the future
    (another machine's clock, or a lie) capped at ``now``, only the newest :data:`MAX_KEPT`."""
    limit = time.time() if now is None else now
    out = dict(old)
    for addr, at in new.items():
        at = min(float(at), limit)
        if at > out.get(addr, -1.0):
            out[addr] = at
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:MAX_KEPT])


def newest_first(times: dict[str, float]) -> list[str]:
    return [a for a, _ in sorted(times.items(), key=lambda kv: -kv[1])]
