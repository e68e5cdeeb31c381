"""`bulletin listen` as a user runs it: a subprocess, by long polling and by webhook."""

from __future__ import annotations

import asyncio
import signal
import socket

import asyncpg
import pytest

from bulletin.sandbox import Sandbox
from tests.cli.test_cli import add_bot
from tests.support import start_cli, wait_for

PERSON = 100_000_333


@pytest.fixture
def sandbox(bare_sandbox: Sandbox) -> Sandbox:
    return bare_sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


COMMANDS = {
    "polling": ["listen"],
    "webhook": ["listen", "--port"],
    "serve": ["serve", "--webhook-port"],
    "supervised": ["serve", "--workers", "1", "--webhook-port"],
}


@pytest.mark.parametrize("mode", list(COMMANDS))
async def test_listen__start_then_sigterm__subscribed_and_clean_exit(
    sandbox: Sandbox, cli_env: dict[str, str], database_url: str, mode: str
) -> None:
    await add_bot(sandbox, cli_env)
    bot_id = next(iter(sandbox.world.bots))
    args = COMMANDS[mode]
    if mode != "polling":
        port = free_port()
        args = [*args, str(port), "--webhook-base", f"http://127.0.0.1:{port}"]
    listener = await start_cli(*args, env=cli_env, stdin=None, stdout=None)
    database = await asyncpg.connect(database_url)
    try:
        sandbox.actions.start(bot_id, PERSON, "cli")
        await wait_for(
            database,
            "SELECT status = 'subscribed' FROM subscribers WHERE chat_id = $1",
            PERSON,
        )
        webhook_url = sandbox.updates.queue(bot_id).webhook
    finally:
        await database.close()
        listener.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, errors = await listener.communicate()
    assert listener.returncode == 0, errors.decode()
    assert f"by {'long polling' if mode == 'polling' else 'webhook'}" in errors.decode()
    assert (webhook_url is not None) == (mode != "polling")
    assert sandbox.updates.queue(bot_id).webhook is None  # deleted on the way out
