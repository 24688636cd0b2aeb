"""Meetings' use cases: start or join a voice meeting, mute, leave, who is speaking.

A meeting is hosted by the member who starts it (``sync/meeting_node.py``: admission through
the sync gate, forwarding through ``sync/meeting_hub.py``) and joined with the id the host
prints (``TOKEN@ADDRESS``). Team meetings are for the team: managers and reps. Guests (a
customer invited to a deal room) are refused by the host, and cannot host one; a meeting
with guests belongs to their shared space and is later work.

:func:`run_meeting` is what ``bullpen meet`` runs (headless: files as microphone and
speaker); the desktop app will drive the same :class:`~.engine.Engine` with sound devices.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from bullpen.app.errors import UserError, first_of
from bullpen.app.members.access import AccessPolicy
from bullpen.app.workspace import Workspace

from . import audio
from .engine import Engine

TEAM_ROLES = ("manager", "rep")
COMMANDS = {"mute": True, "unmute": False}


class MeetingFailed(UserError):
    """Joining or hosting failed, or the meeting ended for us (the message says why)."""


@dataclass(frozen=True)
class MeetingOptions:
    title: str = "Meeting"
    join: str | None = None  # a meeting id to join; None hosts a new meeting
    audio_in: Path | None = None
    record: Path | None = None
    duration: float | None = None
    listen: Sequence[str] = ("/ip4/0.0.0.0/tcp/0",)
    muted: bool = False


def summary(engine: Engine, dropped: int) -> dict[str, Any]:
    """The call's counters: frames sent, and per participant heard what the jitter buffer did."""
    heard = {}
    for remote in [*engine.remotes.values(), *engine.gone]:
        stats = remote.buffer.stats
        heard[remote.peer_id] = {
            "received": stats.received, "played": stats.played, "fec": stats.recovered,
            "concealed": stats.concealed, "late": stats.late, "skipped": stats.skipped,
            "target_ms": remote.buffer.target * 20}
    return {"sent": engine.totals.sent, "ticks": engine.totals.ticks,
            "late_ticks": engine.totals.late_ticks, "dropped_out": dropped, "heard": heard}


def run_meeting(ws: Workspace, options: MeetingOptions, say: Callable[[str], None]) -> dict:
    """Host or join a meeting until ``options.duration`` ends, the host ends it, SIGINT or
    SIGTERM, or ``leave`` on stdin (``mute``/``unmute`` too). ``say`` gets one line per event:
    the meeting id first when hosting, then ``joined``/``left``/``speaking``/``quiet``/
    ``muted``/``unmuted`` with the peer id and name, and ``audio started at UNIX_TIME`` (the
    wall-clock time of the first frame of both the microphone and the recording). Returns
    :func:`summary`."""
    from bullpen.sync.meeting_node import MeetingError, MeetingNode

    policy = AccessPolicy(ws)
    if policy.role(ws.peer_id) not in TEAM_ROLES:
        raise MeetingFailed("only the team's managers and reps take part in team meetings")
    names = ws.member_names()
    source = audio.FileSource(options.audio_in) if options.audio_in else None
    sink: audio.Sink = audio.WavSink(options.record) if options.record else audio.NullSink()

    def event(what: str, peer_id: str) -> None:
        say(f"{what} {peer_id} {names.get(peer_id, '(unknown)')}")

    engine = Engine(source, sink, lambda frame: node.send(frame), event)
    engine.muted = options.muted
    node = MeetingNode(ws.identity.seed, is_member=policy.is_allowed,
                       may_meet=lambda peer: policy.role(peer) in TEAM_ROLES,
                       on_packet=engine.on_packet, listen=options.listen)

    async def in_meeting(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        why = await node.run(options.title, options.join, task_status=task_status)
        say(f"ended: {why}")
        scope.cancel()

    async def main() -> None:
        nonlocal scope
        async with trio.open_nursery() as nursery:
            scope = nursery.cancel_scope
            meeting = await nursery.start(in_meeting)
            if options.join is None:
                say(meeting)
            say(f"in {engine.title!r}")
            say(f"audio started at {time.time():.6f}")
            nursery.start_soon(_until_signal, scope)
            nursery.start_soon(_commands, engine, scope)
            await engine.run(options.duration)
            scope.cancel()

    scope = trio.CancelScope()

    try:
        trio.run(main)
    except BaseException as exc:
        found = first_of(exc, (MeetingError,))
        if found is not None:
            raise MeetingFailed(str(found)) from None
        raise
    finally:
        engine.close()
    return summary(engine, node.dropped)


async def _until_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def _commands(engine: Engine, scope: trio.CancelScope) -> None:
    """``mute``, ``unmute`` and ``leave`` lines on stdin (a closed stdin is ignored)."""
    while sys.stdin is not None:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        word = line.strip().lower()
        if word == "leave":
            scope.cancel()
            return
        if word in COMMANDS:
            engine.set_muted(COMMANDS[word])


def summary_line(data: dict) -> str:
    return "summary " + json.dumps(data, separators=(",", ":"))
