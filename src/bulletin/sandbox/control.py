"""The control API under /sandbox/: read the ledger and stats, change the world and faults."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from bulletin.sandbox import inbox
from bulletin.sandbox.actions import Actions
from bulletin.sandbox.faults import Faults
from bulletin.sandbox.methods import BotApi
from bulletin.sandbox.world import ChatKind, ChatState

FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(Faults) if f.init)
ACTIONS = frozenset(
    {"send_text", "start", "stop", "block", "unblock", "add_to_chat", "change_rights",
     "remove_from_chat", "migrate"}
)  # fmt: skip


class ControlApi:
    """JSON endpoints that let tests and the demo drive the sandbox."""

    def __init__(self, api: BotApi, actions: Actions) -> None:
        self.api = api
        self.actions = actions

    def routes(self) -> list[web.RouteDef]:
        """Return the control routes."""
        return [
            web.get("/sandbox/ledger", self.ledger),
            web.get("/sandbox/stats", self.stats),
            web.post("/sandbox/reset-stats", self.reset_stats),
            web.get("/sandbox/bots", self.bots),
            web.post("/sandbox/bots", self.add_bot),
            web.post("/sandbox/bots/{bot_id}/revoke", self.revoke_bot),
            web.post("/sandbox/chats", self.set_chat),
            web.get("/sandbox/faults", self.faults),
            web.post("/sandbox/faults", self.set_faults),
            web.post("/sandbox/limits", self.set_limits),
            web.get("/sandbox/audience.csv", self.audience_csv),
            web.post("/sandbox/updates", self.act),
            web.get("/sandbox/updates", self.pending_updates),
        ]

    async def ledger(self, request: web.Request) -> web.Response:
        """List ledger entries from index `since`, optionally for one `bot_id`."""
        since = _int_query(request, "since") or 0
        bot_id = _int_query(request, "bot_id")
        entries = self.api.ledger[since:]
        if bot_id is not None:
            entries = [entry for entry in entries if entry.bot_id == bot_id]
        body = {"entries": [e.as_dict() for e in entries], "next": len(self.api.ledger)}
        return web.json_response(body)

    async def stats(self, request: web.Request) -> web.Response:
        """Return the request counters."""
        return web.json_response(self.api.stats.as_dict())

    async def reset_stats(self, request: web.Request) -> web.Response:
        """Set the counters back to zero."""
        self.api.stats.reset()
        return web.json_response(self.api.stats.as_dict())

    async def bots(self, request: web.Request) -> web.Response:
        """List the bots with their tokens."""
        return web.json_response([bot.as_dict() for bot in self.api.world.bots.values()])

    async def add_bot(self, request: web.Request) -> web.Response:
        """Add a bot from {"rate_per_s", "paid_rate_per_s", "token"}, all optional."""
        body = await _body(request)
        try:
            bot = self.api.world.add_bot(
                rate_per_s=float(body.get("rate_per_s", 30.0)),
                paid_rate_per_s=float(body.get("paid_rate_per_s", 1000.0)),
                token=body.get("token"),
            )
        except (TypeError, ValueError) as error:
            raise _invalid(str(error)) from None
        return web.json_response(bot.as_dict(), status=201)

    async def revoke_bot(self, request: web.Request) -> web.Response:
        """Revoke a bot so every call with its token answers 401."""
        try:
            bot = self.api.world.revoke_bot(int(request.match_info["bot_id"]))
        except (KeyError, ValueError):
            raise web.HTTPNotFound(
                text=json.dumps({"error": "no such bot"}), content_type="application/json"
            ) from None
        return web.json_response(bot.as_dict())

    async def set_chat(self, request: web.Request) -> web.Response:
        """Create or change a chat from {"chat_id", "kind", "state", "migrate_to"}."""
        body = await _body(request)
        try:
            migrate_to = body.get("migrate_to")
            chat = self.api.world.set_chat(
                int(body["chat_id"]),
                ChatKind(body.get("kind", ChatKind.PRIVATE)),
                ChatState(body.get("state", ChatState.REACHABLE)),
                None if migrate_to is None else int(migrate_to),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise _invalid(f"bad chat: {error}") from None
        return web.json_response(chat.as_dict())

    async def faults(self, request: web.Request) -> web.Response:
        """Return the fault rates in force."""
        return web.json_response(self.api.faults.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        """Replace the faults with the given rates, starting a fresh seeded sequence."""
        body = await _body(request)
        unknown = set(body) - FAULT_FIELDS
        if unknown:
            raise _invalid(f"unknown fault fields: {sorted(unknown)}")
        try:
            numbers = {name: float(value) for name, value in body.items() if name != "seed"}
            self.api.faults = Faults(**numbers, seed=int(body.get("seed", 0)))
        except (TypeError, ValueError) as error:
            raise _invalid(str(error)) from None
        return web.json_response(self.api.faults.as_dict())

    async def set_limits(self, request: web.Request) -> web.Response:
        """Turn rate limiting off or on with {"unlimited": bool}."""
        body = await _body(request)
        self.api.limiter.unlimited = bool(body.get("unlimited", False))
        return web.json_response({"unlimited": self.api.limiter.unlimited})

    async def act(self, request: web.Request) -> web.Response:
        """Script what a person or admin does: {"action", "bot_id", ...that action's fields}.

        Actions: send_text(user_id, text), start(user_id, payload), stop(user_id),
        block(user_id), unblock(user_id), add_to_chat(chat_id, kind, title, admin, can_post),
        change_rights(chat_id, admin, can_post), remove_from_chat(chat_id, kicked),
        migrate(chat_id, new_chat_id).
        """
        body = await _body(request)
        action = body.pop("action", None)
        if action not in ACTIONS:
            raise _invalid(f"unknown action {action!r}; one of {sorted(ACTIONS)}")
        try:
            update_ids = getattr(self.actions, action)(**body)
        except (KeyError, TypeError, ValueError) as error:
            raise _invalid(f"bad {action}: {error}") from None
        listed = update_ids if isinstance(update_ids, list) else [update_ids]
        return web.json_response({"update_ids": listed}, status=201)

    async def pending_updates(self, request: web.Request) -> web.Response:
        """Return a bot's queued updates and webhook ({"bot_id"} in the query)."""
        bot_id = _int_query(request, "bot_id")
        if bot_id is None:
            raise _invalid("bot_id is required")
        queue = self.api.updates.queue(bot_id)
        return web.json_response({"updates": queue.updates, **inbox.webhook_info(queue)})

    async def audience_csv(self, request: web.Request) -> web.Response:
        """Return the generated audience as CSV."""
        return web.Response(text=self.api.world.audience_csv(), content_type="text/csv")


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise _invalid("body is not JSON") from None
    if not isinstance(body, dict):
        raise _invalid("body is not a JSON object")
    return body


def _int_query(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise _invalid(f"{name} is not an integer") from None


def _invalid(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")
