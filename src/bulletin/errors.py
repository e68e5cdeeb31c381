"""The whole exception tree: every error bulletin reports is a one-line BulletinError."""

from __future__ import annotations


class BulletinError(Exception):
    """bulletin failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(BulletinError):
    """The configuration is invalid."""


class InputError(BulletinError):
    """An input file or value is invalid."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")
        self.source = source
        self.line = line


class InvalidLines(InputError):
    """A file has invalid lines; `told` names the first few, one line each, for a report."""

    def __init__(self, message: str, told: list[str], *, source: str | None = None) -> None:
        super().__init__(message, source=source)
        self.told = tuple(told)


class NotFound(BulletinError):
    """The named thing does not exist."""


class AlreadyExists(BulletinError):
    """The named thing already exists."""


class ContentError(BulletinError):
    """The message content cannot be sent."""


class MessageTooLong(ContentError):
    """The rendered message is longer than Telegram allows."""


class RenderBudgetExceeded(ContentError):
    """The template takes more steps, time or output than one message may."""


class DatabaseError(BulletinError):
    """The database cannot be reached or used."""


class DatabaseUnavailable(DatabaseError):
    """The database is unreachable for now (the driver's error is the __cause__)."""


class SchemaTooNew(DatabaseError):
    """The database schema is newer than this version of bulletin; upgrade bulletin."""


class SchemaMissing(DatabaseError):
    """The database has no bulletin schema yet; run `bulletin init`."""


class NothingToDo(BulletinError):
    """This worker cannot do anything useful until an operator acts."""


class TelegramError(BulletinError):
    """The Bot API refused the request."""


class TokenRejected(TelegramError):
    """The Bot API rejected the bot token."""


class NotAllowed(BulletinError):
    """The campaign's or run's state does not allow this."""


class RunUnfinished(NotAllowed):
    """The campaign has a run that is not finished."""


class NothingToSend(BulletinError):
    """Every chat of the segment has had this campaign already: no run was started."""
