"""What the command line writes to a terminal: never control sequences from record text.

Record text comes from teammates, guests and imported files, so a contact named
``ctl\\x1b[31mred`` would otherwise colour (or retitle, or hide lines of) the user's terminal.
Every line the CLI prints passes through :class:`SafeText`, which drops C0/C1 control
characters (keeping newline and tab), DEL, the bidirectional overrides that make text read in
another order than it is stored ("Trojan Source"), and lone surrogates (undecodable bytes
from the command line). JSON output escapes the same characters instead, so scripts lose
nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
# In JSON the C0 controls are already escaped by json.dumps; these are the rest.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """``text`` without characters that a terminal would act on instead of showing."""
    return _UNSAFE_RE.sub("", text)


def escape_json(text: str) -> str:
    """JSON text (from json.dumps with ensure_ascii=False) with the remaining terminal
    controls written as \\u escapes: the same value for a parser, inert on a screen."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SafeText:
    """A text stream that strips :func:`strip_controls` characters from what is written."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(strip_controls(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self._inner, name)


@contextmanager
def safe_terminal() -> Iterator[None]:
    """Route stdout and stderr through :class:`SafeText` for the duration of a command."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeText(sys.stdout), SafeText(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
