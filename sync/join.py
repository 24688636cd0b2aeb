"""``/bullpen/join/1``: a newcomer proves an invite's secret and is added to the workspace.

One request, one answer, on its own libp2p stream (Noise-encrypted, and the inviter is the
peer id the signed code names, so the secret goes only to them). The member admits the
newcomer through its :class:`~.ports.Admission` (the app signs a membership entry); from then
on the newcomer is a member like any other and syncs on ``/bullpen/sync/1``. A refusal is a
plain sentence the newcomer's ``bullpen join`` prints.

The requester is a stranger until its secret matches an invite this workspace stores (by its
hash): until then every refusal is the same sentence (:data:`NOT_ACCEPTED`), so a wrong code,
another workspace's id or garbage tells it nothing, not even whether the workspace id it
guessed is this one. It must send its request within the gate's handshake deadline, one join
at a time per connection (``gate.py``).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import trio
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF

from . import framing
from .gate import HANDSHAKE_TIMEOUT, Gate
from .peers import short_id
from .ports import Admission, NotAdmitted

log = logging.getLogger("bullpen.sync")

JOIN_PROTOCOL = TProtocol("/bullpen/join/1")
MAX_JOIN_MESSAGE = 4096
TIMEOUT = 15.0
NOT_ACCEPTED = "the invite was not accepted: check the code, or ask for a new one"


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


def parse_request(raw: bytes, workspace_id: str) -> tuple[bytes, str] | None:
    """(secret, name) from a join request for ``workspace_id``; None for anything else."""
    try:
        request = json.loads(raw)
        secret = base64.b64decode(request["secret"], validate=True)
        name, ws_id = request["name"], request["ws"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(name, str) or ws_id != workspace_id or len(secret) != 16:
        return None
    return secret, name


def _proven(admission: Admission, workspace_id: str, raw: bytes) -> tuple[bytes, str] | None:
    """(secret, name) when the request holds the secret of an invite this workspace stores;
    None for anything else (the requester has proven nothing)."""
    request = parse_request(raw, workspace_id)
    return request if request is not None and admission.invited(request[0]) else None


async def serve_join(admission: Admission, workspace_id: str, stream: Any, gate: Gate) -> None:
    """Answer one join request (a stream handler of the member's node)."""
    peer_id = str(stream.muxed_conn.peer_id)
    async with gate.joining(stream) as allowed:
        if not allowed:
            return
        try:
            with trio.fail_after(HANDSHAKE_TIMEOUT):
                raw = await _read_one(stream)
            proven = await trio.to_thread.run_sync(_proven, admission, workspace_id, raw)
            answer = await _answer(admission, peer_id, proven)
            if answer.get("ok"):
                await gate.admitted(stream)  # a member now: its connection is no longer limited
            with trio.fail_after(HANDSHAKE_TIMEOUT):
                await _send(stream, answer)
        except (trio.TooSlowError, JoinRefused, framing.FrameError) as exc:
            log.info("join attempt from %s failed: %s", short_id(peer_id), exc)
        except Exception as exc:  # handler exceptions vanish silently in libp2p: log them
            log.warning("join stream from %s failed: %s", short_id(peer_id), exc)
        finally:
            await _close(stream)


async def _answer(admission: Admission, peer_id: str, proven: tuple[bytes, str] | None
                  ) -> dict[str, Any]:
    """Admit a requester who proved an invite's secret; the answer to send back."""
    if proven is None:
        log.info("refused join by %s: no invite of this workspace", short_id(peer_id))
        return {"ok": False, "error": NOT_ACCEPTED}
    secret, name = proven
    try:
        role = await trio.to_thread.run_sync(admission.admit, secret, peer_id, name)
    except NotAdmitted as exc:  # the secret is proven: the reason may be told
        log.info("refused join by %s: %s", short_id(peer_id), exc)
        return {"ok": False, "error": str(exc)}
    log.info("admitted %s (%s) with an invite", name, short_id(peer_id))
    return {"ok": True, "role": role}


async def _close(stream: Any) -> None:
    with trio.move_on_after(2):
        try:
            await stream.close()
        except Exception:
            log.debug("closing a join stream failed", exc_info=True)


async def request_join(host: Any, peer_id: Any, workspace_id: str, secret: bytes,
                       name: str) -> str:
    """Ask the inviter (already connected) to admit us to ``workspace_id`` with an invite's
    ``secret``; returns our role."""
    stream = await host.new_stream(peer_id, [JOIN_PROTOCOL])
    try:
        with trio.fail_after(TIMEOUT):
            await _send(stream, {"v": 1, "ws": workspace_id, "name": name,
                                 "secret": base64.b64encode(secret).decode()})
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
