"""The one exception the import/export layer raises for a file it cannot use at all.

It subclasses ValueError so callers that already treat bad user input as ValueError (the CLI's
error reporting, for one) handle it without knowing about interop; the message always names
the file so a user importing several files knows which one to fix.
"""

from __future__ import annotations


class InteropError(ValueError):
    """A file that cannot be read or written; the message names the file and the problem."""
