"""What the user reads when a command fails: one line, whatever the exception was."""

from __future__ import annotations

from bulletin import errors
from bulletin.db import failures as database_failures

# Libraries whose errors mean "the network or the API server misbehaved", named by module
# so that a command which never talked to Telegram does not import them just to check.
_NETWORK_LIBRARIES = {
    "aiohttp": "the HTTP request failed",
    "aiohttp_socks": "the proxy failed",
    "python_socks": "the proxy failed",
    "aiogram": "the Bot API answer could not be used",
}


def describe(error: BaseException) -> tuple[str, bool]:
    """The one line to print, and whether the failure was expected (not a bug of ours)."""
    if isinstance(error, BaseExceptionGroup):  # a task group's: its first unexpected failure
        described = [describe(leaf) for leaf in _leaves(error)]
        return next((d for d in described if not d[1]), described[0])
    if isinstance(error, errors.BulletinError):
        return str(error), True
    said = database_failures.describe(error)
    if said is not None:
        return said, True
    library = type(error).__module__.partition(".")[0]
    if library in _NETWORK_LIBRARIES:
        return f"{_NETWORK_LIBRARIES[library]}: {_first_line(error)}", True
    if isinstance(error, TimeoutError):
        return "timed out waiting for an answer", True
    if isinstance(error, OSError):
        return _os_error(error), True
    return f"internal error: {type(error).__name__}: {_first_line(error)}", False


def _os_error(error: OSError) -> str:
    reason = error.strerror or _first_line(error)
    if error.filename is not None:
        return f"cannot use {error.filename}: {reason}"
    return reason


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found += _leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner]
    return found
