"""Wake-ups from PostgreSQL: one LISTEN connection per process for outbox messages and opt-outs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from bulletin.db.pool import TRANSIENT_ERRORS, Pool

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "bulletin_outbox"  # payload: bot id
OPTOUT_CHANNEL = "bulletin_optout"  # payload: "<bot id>:<chat id>"
RECONNECT_FIRST_S = 0.1
RECONNECT_CAP_S = 5.0


class Handler(Protocol):
    """What a process does when the database tells it something (engine.ports.NoticeHandler)."""

    def outbox(self, bot_id: int) -> None: ...

    def opted_out(self, bot_id: int, chat_id: int) -> None: ...

    def reconnected(self) -> None: ...


class PostgresNotices:
    """LISTENs on a connection of its own, and on a new one after the database comes back."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def listen(self, handler: Handler, stop: asyncio.Event) -> None:
        """Call handler for every notification until stop is set."""
        delay_s = RECONNECT_FIRST_S
        first = True
        while not stop.is_set():
            try:
                await self._listen_once(handler, stop, reconnected=not first)
                delay_s = RECONNECT_FIRST_S
            except TRANSIENT_ERRORS as exc:
                log.warning("action=listen_failed error=%s delay_s=%.1f", exc, delay_s)
                try:
                    async with asyncio.timeout(delay_s):
                        await stop.wait()
                except TimeoutError:
                    pass
                delay_s = min(delay_s * 2, RECONNECT_CAP_S)
            first = False

    async def _listen_once(
        self, handler: Handler, stop: asyncio.Event, *, reconnected: bool
    ) -> None:
        lost = asyncio.Event()

        def received(connection: Any, pid: int, channel: str, payload: object) -> None:
            _dispatch(handler, channel, str(payload))

        def terminated(connection: Any) -> None:
            lost.set()

        connection = await self._pool.acquire()
        try:
            connection.add_termination_listener(terminated)
            await connection.add_listener(OUTBOX_CHANNEL, received)
            await connection.add_listener(OPTOUT_CHANNEL, received)
            if reconnected:
                # Notifications sent while no connection listened are lost: look again.
                handler.reconnected()
            await _until_either(stop, lost)
        finally:
            await self._give_back(connection, received, terminated, alive=not lost.is_set())
        if lost.is_set() and not stop.is_set():
            raise ConnectionResetError("the LISTEN connection was lost")

    async def _give_back(
        self, connection: Any, received: Any, terminated: Any, *, alive: bool
    ) -> None:
        """Hand the connection back to the pool without its listeners (a dead one is replaced)."""
        connection.remove_termination_listener(terminated)
        with contextlib.suppress(*TRANSIENT_ERRORS):
            if alive:
                await connection.remove_listener(OUTBOX_CHANNEL, received)
                await connection.remove_listener(OPTOUT_CHANNEL, received)
            else:
                connection.terminate()
            await self._pool.release(connection)


def _dispatch(handler: Handler, channel: str, payload: str) -> None:
    try:
        if channel == OUTBOX_CHANNEL:
            handler.outbox(int(payload))
        elif channel == OPTOUT_CHANNEL:
            bot_id, chat_id = payload.split(":", 1)
            handler.opted_out(int(bot_id), int(chat_id))
    except ValueError:
        log.warning("action=notification_unreadable channel=%s payload=%s", channel, payload)


async def _until_either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
