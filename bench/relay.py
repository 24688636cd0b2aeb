"""A shared file through a relaying member vs routed directly, in network namespaces (root).

``python bench/relay.py [MB]`` (default 50): the A -- R -- B namespaces of
``tests/test_relay_netns.py`` with real ``bullpen serve`` processes. "relayed": A and B have no
route to each other and link through R (``serve --relay``); "direct": R routes IP between them
and A is told B's address, so they link directly. Ann adds a file of random bytes as a resource;
the time until Bob's store holds it, and the CPU R spent meanwhile (R is a member too, so it
also fetches the file itself in both variants: the difference is the relaying).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers_procs import PASSPHRASE, Serve, cli, cli_json, make_profiles, wait_for  # noqa: E402
from test_relay_netns import PORTS, Lab, connected, ip  # noqa: E402

from bullpen.app.workspace import Workspace  # noqa: E402


def cpu(proc: psutil.Process) -> float:
    return sum(proc.cpu_times()[:2]) + sum(sum(c.cpu_times()[:2])
                                          for c in proc.children(recursive=True))


def run(variant: str, root: Path, size: int) -> str:
    lab = Lab(uuid.uuid4().hex[:6])
    lab.setup()
    serves: dict[str, Serve] = {}
    try:
        if variant == "direct":
            subprocess.run([*lab.prefix("r"), "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                           check=True)
            ip("-n", lab.ns["a"], "route", "add", "10.98.2.0/24", "via", "10.98.1.1")
            ip("-n", lab.ns["b"], "route", "add", "10.98.1.0/24", "via", "10.98.2.1")
        ann, rel, bob = make_profiles(root, ["Ann", "Rel", "Bob"])
        serves["r"] = Serve(rel, "--relay", listen=f"/ip4/0.0.0.0/tcp/{PORTS['r']}",
                            prefix=lab.prefix("r"))
        for side, home in (("a", ann), ("b", bob)):
            serves[side] = Serve(home, listen=f"/ip4/0.0.0.0/tcp/{PORTS[side]}",
                                 prefix=lab.prefix(side))
        relay_id, bob_id = serves["r"].peer_id, serves["b"].peer_id
        cli(ann, "peer", "add", f"/ip4/10.98.1.1/tcp/{PORTS['r']}/p2p/{relay_id}")
        cli(bob, "peer", "add", f"/ip4/10.98.2.1/tcp/{PORTS['r']}/p2p/{relay_id}")
        if variant == "direct":
            cli(ann, "peer", "add", f"/ip4/10.98.2.2/tcp/{PORTS['b']}/p2p/{bob_id}")
        wait_for(lambda: connected(ann, bob_id), 60, "Ann and Bob to link")
        data = root / "big.bin"
        data.write_bytes(os.urandom(size))
        relay = psutil.Process(serves["r"].proc.pid)
        cpu_before, started = cpu(relay), time.monotonic()
        resource = cli(ann, "resource", "add", str(data)).stdout.strip()
        sha = next(r["sha256"] for r in cli_json(ann, "resource", "list") if r["id"] == resource)
        reader = Workspace.open(bob, passphrase=PASSPHRASE)
        try:
            wait_for(lambda: reader.refresh() is not None and reader.blobs.has(sha), 600,
                     "the file to reach Bob", interval=0.05)
        finally:
            reader.close()
        took, spent = time.monotonic() - started, cpu(relay) - cpu_before
        return (f"{variant}: {size >> 20} MB in {took:.1f} s = {size / took / 1e6:.1f} MB/s; "
                f"relay CPU {spent:.1f} s; circuits {serves['r'].log().count('opening')}")
    finally:
        for serve in serves.values():
            serve.kill()
        lab.teardown()


def main() -> None:
    size = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 50 << 20
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("relayed", "direct"):
            root = Path(tmp) / variant
            root.mkdir()
            print(run(variant, root, size), flush=True)


if __name__ == "__main__":
    main()
