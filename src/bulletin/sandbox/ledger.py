"""What the sandbox saw: the ledger of accepted messages and the request counters."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

# Options a sending call may carry, kept in the ledger as sent (JSON values decoded).
OPTIONAL_FIELDS = (
    "disable_notification",
    "protect_content",
    "reply_markup",
    "link_preview_options",
    "message_thread_id",
)


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
    method: str = "sendMessage"
    fields: dict[str, object] = field(default_factory=dict)  # what else the call carried

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


def optional_fields(params: Mapping[str, object]) -> dict[str, object]:
    """The options among a call's parameters, with JSON-encoded values decoded."""
    found: dict[str, object] = {}
    for name in OPTIONAL_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and (value[:1] in "{[" or value in ("true", "false")):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if value is not None:
            found[name] = value
    return found
