"""What the sandbox saw: the ledger of accepted messages and the request counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass
class LedgerEntry:
    """One message Telegram would have shown to a chat."""

    bot_id: int
    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    paid: bool
    at: float
    answered: bool = True

    def as_dict(self) -> dict[str, object]:
        """Return the entry as JSON for the control API."""
        return asdict(self)


@dataclass
class Stats:
    """Counters over every Bot API request since the last reset."""

    requests: int = 0
    accepted: int = 0
    too_many_requests: int = 0
    bot_limit_429: int = 0
    chat_limit_429: int = 0
    requests_during_retry_after: int = 0
    errors_5xx: int = 0
    slow: int = 0
    record_then_fail: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """Return the counters as JSON for the control API."""
        counters = asdict(self)
        counters["errors"] = dict(self.errors)
        return counters

    def reset(self) -> None:
        """Set every counter back to zero."""
        fresh = Stats()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
