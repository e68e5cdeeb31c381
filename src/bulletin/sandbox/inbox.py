"""How a bot receives updates: getUpdates (long polling) and the webhook methods."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bulletin.sandbox import answers
from bulletin.sandbox.updates import UPDATES_LIMIT, Update, UpdateQueue, Webhook

LONG_POLL_LIMIT_S = 50.0
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
TERMINATED = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)

Params = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Poll:
    """A getUpdates call waiting for updates until its timeout."""

    queue: UpdateQueue
    number: int
    limit: int
    timeout_s: float


def get_updates(queue: UpdateQueue, params: Params) -> tuple[list[Update], Poll | None]:
    """Confirm updates below the offset; return what is there, or a Poll to wait on."""
    if queue.webhook is not None:
        raise answers.conflict(WEBHOOK_ACTIVE)
    allowed = _string_list(params, "allowed_updates")
    if allowed is not None:
        queue.allowed_updates = frozenset(allowed) if allowed else None
    queue.confirm(_integer(params, "offset", 0))
    limit = _integer(params, "limit", UPDATES_LIMIT)
    timeout_s = min(float(_integer(params, "timeout", 0)), LONG_POLL_LIMIT_S)
    queue.polls += 1
    queue.wake()  # an older long poll of this bot ends with a conflict
    found = queue.take(limit)
    if found or timeout_s <= 0:
        return found, None
    return [], Poll(queue, queue.polls, limit, timeout_s)


async def finish(poll: Poll) -> list[Update]:
    """Wait until updates arrive or the poll times out; 409 if another poll replaced it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + poll.timeout_s
    while True:
        if poll.queue.polls != poll.number:
            raise answers.conflict(TERMINATED)
        if poll.queue.webhook is not None:
            raise answers.conflict(WEBHOOK_ACTIVE)
        found = poll.queue.take(poll.limit)
        remaining_s = deadline - loop.time()
        if found or remaining_s <= 0:
            return found
        try:
            async with asyncio.timeout(remaining_s):
                await poll.queue.arrived.wait()
        except TimeoutError:
            pass


def set_webhook(queue: UpdateQueue, params: Params) -> str:
    """Set (or, with an empty url, remove) the webhook; return Telegram's description."""
    url = str(params.get("url") or "")
    if not url:
        return delete_webhook(queue, params)
    if not url.startswith(("https://", "http://")):
        raise answers.bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = str(params.get("secret_token") or "")
    if secret and not SECRET_TOKEN.fullmatch(secret):
        raise answers.bad_request("secret token contains unallowed characters")
    allowed = _string_list(params, "allowed_updates")
    if allowed is not None:
        queue.allowed_updates = frozenset(allowed) if allowed else None
    if _flag(params, "drop_pending_updates"):
        queue.updates.clear()
    queue.webhook = Webhook(url, secret, _integer(params, "max_connections", 40))
    queue.wake()
    return "Webhook was set"


def delete_webhook(queue: UpdateQueue, params: Params) -> str:
    if _flag(params, "drop_pending_updates"):
        queue.updates.clear()
    was_set = queue.webhook is not None
    queue.webhook = None
    queue.wake()
    return "Webhook was deleted" if was_set else "Webhook is already deleted"


def webhook_info(queue: UpdateQueue) -> dict[str, object]:
    """getWebhookInfo's WebhookInfo object."""
    hook = queue.webhook
    info: dict[str, object] = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(queue.updates),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    if queue.allowed_updates is not None:
        info["allowed_updates"] = sorted(queue.allowed_updates)
    return info


def _string_list(params: Params, name: str) -> list[str] | None:
    """A list parameter, sent as JSON text in a form or as a list in a JSON body."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise answers.bad_request(f"can't parse {name} JSON array") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise answers.bad_request(f"{name} must be an array of strings")
    return value


def _integer(params: Params, name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError:
        raise answers.bad_request(f'field "{name}" must be of type Integer') from None


def _flag(params: Params, name: str) -> bool:
    return str(params.get(name) or "").lower() in {"true", "1"}
