"""The one exception the import/export layer raises for a file it cannot use at all.

It is a UserError (shown as its one line by the CLI and the app) and a ValueError, so callers
that treat bad input as ValueError handle it without knowing about interop; the message always
names the file so a user importing several files knows which one to fix.
"""

from __future__ import annotations

from bullpen.app.errors import UserError


class InteropError(UserError, ValueError):
    """A file that cannot be read or written; the message names the file and the problem."""
