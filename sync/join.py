"""``/bullpen/join/1``: a newcomer proves an invite's secret and is added to the workspace.

One request, one answer, on its own libp2p stream (Noise-encrypted, and the inviter is the
peer id the signed code names, so the secret goes only to them). The member admits the
newcomer by signing a membership entry (app/invites.admit); from then on the newcomer is a
member like any other and syncs on ``/bullpen/sync/1``. A refusal is a plain sentence the
newcomer's ``bullpen join`` prints.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import trio
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF

from bullpen.app.identity import short_id
from bullpen.app.invites import Invite, InviteError, admit
from bullpen.app.workspace import Workspace

from . import framing

log = logging.getLogger("bullpen.sync")

JOIN_PROTOCOL = TProtocol("/bullpen/join/1")
MAX_JOIN_MESSAGE = 4096
TIMEOUT = 15.0


class JoinRefused(RuntimeError):
    """The member would not admit us; the message says why in plain words."""


async def _read_one(stream: Any) -> bytes:
    decoder = framing.Decoder(max_frame=MAX_JOIN_MESSAGE, max_message=MAX_JOIN_MESSAGE)
    while True:
        try:
            data = await stream.read(MAX_JOIN_MESSAGE)
        except StreamEOF:
            raise JoinRefused("the member closed the connection") from None
        if not data:
            raise JoinRefused("the member closed the connection")
        messages = decoder.feed(data)
        if messages:
            return messages[0]


async def _send(stream: Any, payload: dict[str, Any]) -> None:
    for frame in framing.encode(json.dumps(payload).encode(), max_frame=MAX_JOIN_MESSAGE):
        await stream.write(frame)


def parse_request(raw: bytes, workspace_id: str) -> tuple[bytes, str]:
    """(secret, name) from a join request; InviteError for anything malformed."""
    try:
        request = json.loads(raw)
        secret = base64.b64decode(request["secret"], validate=True)
        name, ws_id = request["name"], request["ws"]
    except (ValueError, KeyError, TypeError):
        raise InviteError("malformed join request") from None
    if not isinstance(name, str) or ws_id != workspace_id or len(secret) != 16:
        raise InviteError("this invite is not for this workspace")
    return secret, name


async def serve_join(ws: Workspace, stream: Any) -> None:
    """Answer one join request (a stream handler of the member's node)."""
    peer_id = str(stream.muxed_conn.peer_id)
    try:
        with trio.fail_after(TIMEOUT):
            raw = await _read_one(stream)
            try:
                secret, name = parse_request(raw, ws.workspace_id)
                await trio.to_thread.run_sync(admit, ws, secret, peer_id, name)
            except InviteError as exc:
                log.info("refused join by %s: %s", short_id(peer_id), exc)
                await _send(stream, {"ok": False, "error": str(exc)})
            else:
                log.info("admitted %s (%s) with an invite", name, short_id(peer_id))
                await _send(stream, {"ok": True, "role": ws.role(peer_id)})
    except (trio.TooSlowError, JoinRefused, framing.FrameError) as exc:
        log.info("join attempt from %s failed: %s", short_id(peer_id), exc)
    except Exception as exc:  # handler exceptions vanish silently in libp2p: log them
        log.warning("join stream from %s failed: %s", short_id(peer_id), exc)
    finally:
        await _close(stream)


async def _close(stream: Any) -> None:
    with trio.move_on_after(2):
        try:
            await stream.close()
        except Exception:
            log.debug("closing a join stream failed", exc_info=True)


async def request_join(host: Any, peer_id: Any, invite: Invite, name: str) -> str:
    """Ask the inviter (already connected) to admit us; returns our role."""
    stream = await host.new_stream(peer_id, [JOIN_PROTOCOL])
    try:
        with trio.fail_after(TIMEOUT):
            await _send(stream, {"v": 1, "ws": invite.workspace_id, "name": name,
                                 "secret": base64.b64encode(invite.secret).decode()})
            try:
                answer = json.loads(await _read_one(stream))
            except ValueError:
                raise JoinRefused("the member sent a garbled answer") from None
    except trio.TooSlowError:
        raise JoinRefused("the member did not answer in time") from None
    finally:
        await _close(stream)
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise JoinRefused(str(error or "the member refused the invite"))
    return str(answer.get("role") or "")
