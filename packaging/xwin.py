"""A private X server (Xvfb) and a probe for "a window is on screen", for the bundle's smoke
test and bench/startup.py.

Why ctypes on libX11 instead of xdotool/xwininfo: one polling round trip costs ~0.1 ms in
process versus ~5 ms per spawned tool, so the measured time to the first window is not
inflated by the probe, and nothing but Xvfb (already needed for screenshots) must be installed.
A window counts when it is a top-level child of the root, mapped and viewable, larger than
1x1 and not override-redirect (Qt's hidden helper windows and tooltips are excluded).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

IS_VIEWABLE = 2


class _WindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int),
        ("height", ctypes.c_int), ("border_width", ctypes.c_int), ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p), ("root", ctypes.c_ulong), ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int), ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong), ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p),
    ]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_ignore_errors = _ERROR_HANDLER(lambda display, event: 0)  # a window vanished mid-query


@dataclass
class Window:
    id: int
    name: str
    width: int
    height: int


class Display:
    """An X client connection used only to list visible top-level windows."""

    def __init__(self, name: str) -> None:
        path = ctypes.util.find_library("X11")
        if path is None:
            raise OSError("libX11 is not installed")
        x = ctypes.CDLL(path)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                 ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong),
                                 ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                                 ctypes.POINTER(ctypes.c_uint)]
        x.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                           ctypes.POINTER(_WindowAttributes)]
        x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                 ctypes.POINTER(ctypes.c_char_p)]
        x.XInternAtom.restype = ctypes.c_ulong
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XGetWindowProperty.argtypes = [
            ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long,
            ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p)]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        x.XSetErrorHandler(_ignore_errors)
        self.x = x
        self.display = x.XOpenDisplay(name.encode())
        if not self.display:
            raise OSError(f"cannot open X display {name}")
        self.root = x.XDefaultRootWindow(self.display)
        self._net_wm_name = x.XInternAtom(self.display, b"_NET_WM_NAME", 0)
        self._utf8 = x.XInternAtom(self.display, b"UTF8_STRING", 0)

    def window_name(self, wid: int) -> str:
        """The UTF-8 title (_NET_WM_NAME, which Qt sets), else the legacy WM_NAME."""
        x, d = self.x, self.display
        kind, fmt = ctypes.c_ulong(), ctypes.c_int()
        items, after, prop = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p()
        status = x.XGetWindowProperty(d, wid, self._net_wm_name, 0, 1024, 0, self._utf8,
                                      ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(items),
                                      ctypes.byref(after), ctypes.byref(prop))
        if status == 0 and prop.value:
            try:
                if fmt.value == 8 and items.value:
                    return ctypes.string_at(prop.value, items.value).decode(errors="replace")
            finally:
                x.XFree(prop)
        raw = ctypes.c_char_p()
        if x.XFetchName(d, wid, ctypes.byref(raw)) and raw.value is not None:
            name = raw.value.decode(errors="replace")
            x.XFree(raw)
            return name
        return ""

    def visible_windows(self) -> list[Window]:
        x, d = self.x, self.display
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children = ctypes.POINTER(ctypes.c_ulong)()
        count = ctypes.c_uint()
        if not x.XQueryTree(d, self.root, ctypes.byref(root), ctypes.byref(parent),
                            ctypes.byref(children), ctypes.byref(count)):
            return []
        out = []
        try:
            for i in range(count.value):
                wid = children[i]
                attrs = _WindowAttributes()
                if not x.XGetWindowAttributes(d, wid, ctypes.byref(attrs)):
                    continue
                if (attrs.map_state != IS_VIEWABLE or attrs.override_redirect
                        or attrs.width <= 1 or attrs.height <= 1):
                    continue
                out.append(Window(wid, self.window_name(wid), attrs.width, attrs.height))
        finally:
            if children:
                x.XFree(children)
        return out

    def wait_for_window(self, timeout: float, alive: object = None) -> Window | None:
        """Poll every 5 ms until a window is visible; None on timeout or when ``alive()``
        (e.g. ``lambda: proc.poll() is None``) turns false."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            windows = self.visible_windows()
            if windows:
                return windows[0]
            if callable(alive) and not alive():
                return None
            time.sleep(0.005)
        return None

    def close(self) -> None:
        if self.display:
            self.x.XCloseDisplay(self.display)
            self.display = None


class Xvfb:
    """A private Xvfb; the server picks a free display number (-displayfd), so parallel runs
    never clash."""

    def __init__(self, size: str = "1280x800x24") -> None:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [exe, "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.stop()
            raise OSError("Xvfb did not start")
        self.display = f":{number}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
