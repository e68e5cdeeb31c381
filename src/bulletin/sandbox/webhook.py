"""Pushing queued updates to each bot's webhook, in order, until its server answers 2xx."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from bulletin.sandbox.updates import Update, UpdateQueue, Updates, now, update_id_of

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REQUEST_TIMEOUT_S = 10.0
RETRY_FIRST_S = 0.05
RETRY_CAP_S = 2.0


class WebhookSender:
    """Delivers updates by POST like Telegram: one at a time per bot, retried on failure."""

    def __init__(self, updates: Updates) -> None:
        self.updates = updates
        self.delivered = 0
        self.failed = 0

    async def run(self) -> None:
        """Deliver until cancelled."""
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            retry_s = RETRY_FIRST_S
            while True:
                self.updates.changed.clear()
                results = [await self._deliver(session, q) for _, q in self.updates.with_webhooks()]
                if all(results):
                    retry_s = RETRY_FIRST_S
                    if not results:
                        await self.updates.changed.wait()
                    continue
                # Back off after a failure, but wake for a new webhook or update.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(retry_s):
                        await self.updates.changed.wait()
                retry_s = min(retry_s * 2, RETRY_CAP_S)

    async def _deliver(self, session: aiohttp.ClientSession, queue: UpdateQueue) -> bool:
        hook = queue.webhook
        if hook is None or not queue.updates:
            return True
        update = queue.updates[0]
        error = await _post(session, hook.url, hook.secret_token, update)
        if error is None:
            self.delivered += 1
            queue.drop(update_id_of(update))
            return True
        self.failed += 1
        hook.last_error_date, hook.last_error_message = now(), error
        return False


async def _post(
    session: aiohttp.ClientSession, url: str, secret: str, update: Update
) -> str | None:
    """POST one update; None on a 2xx answer, else Telegram's last_error_message."""
    headers = {SECRET_HEADER: secret} if secret else {}
    try:
        async with session.post(url, json=update, headers=headers) as answer:
            if 200 <= answer.status < 300:
                return None
            return f"Wrong response from the webhook: {answer.status} {answer.reason}"
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return f"Connection failed: {error or type(error).__name__}"
