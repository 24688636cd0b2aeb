"""``bullpen meet start`` and ``bullpen meet join``: a voice meeting from the command line.

Headless, for tests, CI and recording bots: ``--audio-in`` plays an audio file as the
microphone and ``--record`` writes what this participant hears as a WAV file; neither needs
a sound device, and both work whether or not ``bullpen serve`` or the app runs on the same
profile (the meeting has a libp2p host of its own). While in the meeting, ``mute``,
``unmute`` and ``leave`` lines on stdin do what they say.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from bullpen.app.logs import configure_logging

from .common import open_ws


def cmd_meet(args: argparse.Namespace) -> int:
    from bullpen.app.meetings.meetings import MeetingOptions, run_meeting, summary_line

    configure_logging(args.verbose)
    from bullpen.app.fields import ValidationError

    if args.duration is not None and args.duration <= 0:
        raise ValidationError("--duration: must be a positive number of seconds")
    if len(getattr(args, "title", "") or "") > 200:
        raise ValidationError("--title: at most 200 characters")
    options = MeetingOptions(
        title=getattr(args, "title", None) or "Meeting", join=getattr(args, "meeting", None),
        audio_in=args.audio_in, record=args.record, duration=args.duration,
        listen=args.listen or ["/ip4/0.0.0.0/tcp/0"], muted=args.muted)
    ws = open_ws(args)
    try:
        result = run_meeting(ws, options, _say)
    finally:
        ws.close()
    _say(summary_line(result))
    return 0


def _say(line: str) -> None:
    """One event line; a reader that went away (``| head -1`` for the meeting id) does not
    end the meeting."""
    with contextlib.suppress(BrokenPipeError, ValueError):
        print(line, flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio-in", type=Path, metavar="FILE",
                   help="play this audio file (WAV, any rate, mono or stereo) as the microphone")
    p.add_argument("--record", type=Path, metavar="FILE.wav",
                   help="write what you hear to this WAV file (48 kHz mono)")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="leave after this long (default: until interrupted or `leave`)")
    p.add_argument("--muted", action="store_true", help="join muted (`unmute` on stdin)")
    p.add_argument("--listen", action="append", metavar="MULTIADDR",
                   help="where this process listens for the meeting, its own port beside serve "
                        "or the app (repeatable; default /ip4/0.0.0.0/tcp/0)")
    p.add_argument("-v", "--verbose", action="store_true", help="log the meeting's traffic")
    p.set_defaults(func=cmd_meet)


def register(sub: Any) -> None:
    p = sub.add_parser("meet", help="voice meetings with teammates (start, join)")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("start", help="host a meeting: prints its id on the first line")
    a.add_argument("--title", default="Meeting", help="what the meeting is about")
    _common(a)
    a = actions.add_parser("join", help="join a meeting by the id its host printed")
    a.add_argument("meeting", help="the meeting id (TOKEN@/ip4/.../p2p/PEER)")
    _common(a)
