"""``bullpen join CODE --name NAME``: become a member and receive the workspace.

The code is checked first (signature, expiry) so a bad one is refused before anything is
written. Then a new profile is made, its node dials the inviter named in the code (trusting
that signed peer id, and only it, until the workspace's own membership log has arrived),
proves the invite's secret on ``/bullpen/join/1``, and syncs until both hold the same state.
A profile that was never admitted is removed again (only what the join made: a folder that
existed before keeps its other files), so the user can simply retry.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

from bullpen.app.errors import first_of
from bullpen.app.members.invites import InviteError, parse_invite
from bullpen.app.storage.keys import PassphraseSource
from bullpen.app.workspace import Workspace

SYNC_TIMEOUT = 600.0


def join_workspace(
    home: Path,
    code: str,
    name: str,
    *,
    listen: list[str] | None = None,
    ask: PassphraseSource | None = None,
    timeout: float = SYNC_TIMEOUT,
) -> dict[str, Any]:
    import trio
    from libp2p.peer.id import ID

    from bullpen.app.members.access import AccessPolicy
    from bullpen.app.network.node_setup import make_node
    from bullpen.sync.join import JoinRefused, request_join
    from bullpen.sync.node import DialError

    invite = parse_invite(code)
    if not invite.addrs:
        raise InviteError("the invite code holds no address: ask for a code made while "
                          "`bullpen serve` (or the app) was running")
    before = (set(home.iterdir()), home.stat().st_mode) if home.is_dir() else None
    try:
        ws = Workspace.create_joining(home, name, invite.workspace_id, ask=ask)
    except BaseException:
        _undo_profile(home, before)
        raise
    admitted = False
    result: dict[str, Any] = {}
    policy = AccessPolicy(ws, trusted={invite.inviter})
    node = make_node(ws, listen=listen or ["/ip4/127.0.0.1/tcp/0"], policy=policy)

    async def main() -> None:
        nonlocal admitted
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            errors = []
            for addr in invite.addrs:
                target = addr if "/p2p/" in addr else f"{addr}/p2p/{invite.inviter}"
                try:
                    with trio.fail_after(15):
                        await node.connect(target)
                    role = await request_join(node.host, ID.from_base58(invite.inviter),
                                              invite.workspace_id, invite.secret, name)
                    admitted = True
                    link = await node.dial(target)
                    await node.wait_in_sync(invite.inviter, timeout=timeout)
                    result.update(role=role, peer=target, bytes_in=link.bytes_in)
                    break
                except (DialError, OSError, trio.TooSlowError) as exc:
                    errors.append(f"{addr}: {exc}")
            else:
                raise DialError("cannot reach the inviter: " + "; ".join(errors))
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except BaseException as exc:
        ws.close()
        if not admitted:
            _undo_profile(home, before)
        found = first_of(exc, (JoinRefused, DialError, InviteError, trio.TooSlowError))
        if isinstance(found, trio.TooSlowError):
            raise DialError("joined, but the first sync did not finish in time: run "
                            "`bullpen serve` to finish it") from None
        if found is not None and found is not exc:
            raise found from None
        raise
    status = ws.status()
    ws.close()
    return {**status, **result}


def _undo_profile(home: Path, before: tuple[set[Path], int] | None) -> None:
    """Undo what a join that was never admitted made in ``home``: the whole folder when it
    did not exist (``before`` is None), else the entries it did not hold and its mode (the
    profile made it private)."""
    if before is None:
        shutil.rmtree(home, ignore_errors=True)
        return
    entries, mode = before
    for entry in set(home.iterdir()) - entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    home.chmod(stat.S_IMODE(mode))
