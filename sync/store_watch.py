"""Noticing what other processes on this profile write (the CLI beside ``bullpen serve``).

A ``bullpen opp add`` while the node runs writes to the same store from another process; the
node must offer that change to its peers as if it were its own, at once. :class:`StoreWatch`
has the workspace take in such writes (``LocalWorkspace.refresh``, which announces them to the
node like local writes) and tells the node that another process wrote (a ``bullpen peer add``
changes no document, but the node must read the peer book again).

Why it is built this way: asking the store 20 times a second kept an idle node (and the
desktop app) busy all day. Instead:

* **Is there anything new?** is one cheap question, ``LocalWorkspace.store_version`` (SQLite's
  ``data_version``: it changes only when another connection committed), asked before reading
  anything.
* **When to ask:** on Linux the node waits for the store's files to be written (inotify, on
  the profile folder, awaited by trio like a socket), so an idle node sleeps. A write comes
  before its commit is visible (the commit is published once it is on disk), so after a write
  the node asks at once and again after growing pauses (:data:`SETTLE`, about 5 s in all);
  our own writes change the files too and cost those few questions. As a safety net (a
  commit whose disk write took longer than the pauses), it also asks every
  :data:`SAFETY_INTERVAL`. Elsewhere (or when inotify is unavailable) it asks every
  :data:`POLL_INTERVAL`, still reading nothing unless another process committed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from .ports import LocalWorkspace

log = logging.getLogger("bullpen.sync")

POLL_INTERVAL = 0.05  # without file notifications
# Pauses between looks after a write: every 20 ms for the first 0.2 s (a commit's disk write
# usually lasts a few ms), every 50 ms up to 1 s (so a slow commit is never seen later than
# polling every 50 ms saw it), then growing: 32 looks over about 5 s.
SETTLE = (0.005, 0.01, 0.01, *[0.02] * 9, *[0.05] * 16, 0.25, 0.5, 1.0, 2.0)
MIN_GAP = 0.01  # between two looks while writes keep coming
SAFETY_INTERVAL = 5.0  # with file notifications: look anyway this often

# inotify(7)
IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_Q_OVERFLOW = 0x4000
WATCHED = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


class StoreWatch:
    def __init__(self, local: LocalWorkspace, on_foreign_write: Callable[[], None]) -> None:
        self.local = local
        self.on_foreign_write = on_foreign_write
        self._version: int | None = None  # the store version last looked at

    async def run(self) -> None:
        notifier = FileNotifier.open(self.local.written_files())
        if notifier is None:
            while True:
                await self.look()
                await trio.sleep(POLL_INTERVAL)
        with notifier:
            await self.look()
            while True:
                with trio.move_on_after(SAFETY_INTERVAL) as waiting:
                    await notifier.wait()
                await self.look()
                if not waiting.cancelled_caught:
                    await self._settle(notifier)

    async def _settle(self, notifier: FileNotifier) -> None:
        """After a write: look again after each pause of :data:`SETTLE`. Another write
        during a pause ends it (but no sooner than :data:`MIN_GAP` after the last look) and
        starts the pauses again, so a second commit is seen as soon as the first, and a
        burst of our own writes costs at most one look per :data:`MIN_GAP`."""
        step = 0
        while step < len(SETTLE):
            looked = trio.current_time()
            with trio.move_on_after(SETTLE[step]) as pausing:
                await notifier.wait()
            if pausing.cancelled_caught:
                step += 1
            else:
                await trio.sleep_until(looked + MIN_GAP)
                step = 0
            await self.look()

    async def look(self) -> bool:
        """Take in what other processes committed since the last look; returns whether they
        committed anything."""
        try:
            changed = await trio.to_thread.run_sync(self._take_in)
        except Exception as exc:
            log.warning("reading the store failed: %s", exc)
            return False
        if changed:
            self.on_foreign_write()
        return changed

    def _take_in(self) -> bool:
        version = self.local.store_version()
        if version == self._version:
            return False
        self.local.refresh()
        self._version = version  # only now: a failed refresh is tried again at the next look
        return True


class FileNotifier:
    """Linux inotify on the folders of some files, awaited in trio: :meth:`wait` returns once
    one of the files was written."""

    def __init__(self, fd: int, names: set[bytes]) -> None:
        self.fd = fd
        self.names = names

    @classmethod
    def open(cls, files: Sequence[Path]) -> FileNotifier | None:
        """A notifier for ``files``, or None where inotify is not available (not Linux, or
        the system's limit of watches reached)."""
        if not sys.platform.startswith("linux") or not files:
            return None
        fd = -1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            for folder in {f.parent for f in files}:
                if libc.inotify_add_watch(fd, os.fsencode(folder), WATCHED) < 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        except (OSError, AttributeError) as exc:
            if fd >= 0:
                os.close(fd)
            log.info("no file notifications (%s): looking at the store every %g s",
                     exc, POLL_INTERVAL)
            return None
        return cls(fd, {os.fsencode(f.name) for f in files})

    async def wait(self) -> None:
        """Until one of the files was written since the last call (or the kernel dropped
        events, so one may have been)."""
        while True:
            await trio.lowlevel.wait_readable(self.fd)
            if self._written(self._read()):
                return

    def _read(self) -> bytes:
        try:
            return os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return b""

    def _written(self, data: bytes) -> bool:
        offset = 0
        found = False
        while offset + EVENT.size <= len(data):
            _, mask, _, length = EVENT.unpack_from(data, offset)
            name = data[offset + EVENT.size:offset + EVENT.size + length].rstrip(b"\0")
            found |= bool(mask & IN_Q_OVERFLOW) or name in self.names
            offset += EVENT.size + length
        return found

    def __enter__(self) -> FileNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        trio.lowlevel.notify_closing(self.fd)
        os.close(self.fd)
