"""One base class for the errors that are the user's input or the data's state.

Such an error is shown as its one-line message (the CLI on stderr, the desktop app in a
message box); anything else is a fault of Bullpen's. The app's own one-line errors subclass
:class:`UserError`, so a front end needs no list of error classes. The layers below (crdt/,
sync/) do not import app/, so their few user-facing errors cannot subclass it: they are named
here by module and looked up only once that module is loaded. An error of a module never
imported cannot have been raised, so classifying a failure imports nothing (naming sync's
errors used to import libp2p: a second on every failing command).
"""

from __future__ import annotations

import sys


class UserError(Exception):
    """A failure of the input or of the data's state, with a message saying what to do."""


# (module, class) of user-facing errors that cannot subclass UserError: the lower layers'
# (keep this list short).
_ELSEWHERE = (
    ("bullpen.crdt.checks", "ValidationError"),
    ("bullpen.sync.join", "JoinRefused"),
    ("bullpen.sync.node", "DialError"),
    ("multiaddr.exceptions", "ParseError"),
)


def user_error_types() -> tuple[type[BaseException], ...]:
    """:class:`UserError` and those of :data:`_ELSEWHERE` whose module is loaded."""
    found: list[type[BaseException]] = [UserError]
    for module_name, name in _ELSEWHERE:
        module = sys.modules.get(module_name)
        error = getattr(module, name, None) if module is not None else None
        if isinstance(error, type) and issubclass(error, BaseException):
            found.append(error)
    return tuple(found)


def first_of(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``types`` in ``exc`` (trio wraps task errors in groups)."""
    if isinstance(exc, types):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_of(inner, types)
            if found is not None:
                return found
    return None


def user_error(exc: BaseException) -> BaseException | None:
    """The user error in ``exc`` (itself or inside trio's groups), or None."""
    return first_of(exc, user_error_types())
