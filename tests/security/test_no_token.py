"""No secret in any text: a Bot API that redirects forever or echoes the request URL in
its errors, and not one token in the database, the output or the logs."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from bulletin import config, models, redact
from tests.support import run_cli, start_cli

NEWS_TOKEN = "7001234567:AAHfakeTokenSecretPartForNews_12345xy"
LATE_TOKEN = "7007654321:AAHfakeTokenSecretPartForLate-67890zw"
SECRETS = (NEWS_TOKEN.split(":")[1], LATE_TOKEN.split(":")[1])


async def bot_api(request: web.Request) -> web.Response:
    """/loop: every call redirects to itself; /echo: getMe works, the rest fail naming the
    URL; /late: getMe works, the rest redirect forever."""
    mode, method = request.match_info["mode"], request.match_info["method"]
    if mode == "loop" or (mode == "late" and method != "getMe"):
        raise web.HTTPTemporaryRedirect(str(request.url))
    if method == "getMe":
        bot_id = int(request.match_info["token"].split(":")[0])
        user = {"id": bot_id, "is_bot": True, "first_name": "Echo", "username": f"b{bot_id}"}
        return web.json_response({"ok": True, "result": user})
    description = f"Bad Request: chat not found at {request.url} ({request.url.raw_path})"
    return web.json_response({"ok": False, "error_code": 400, "description": description})


@pytest.fixture
async def api_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{mode}/bot{token}/{method}", bot_api)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def database_text(database_url: str) -> str:
    """Every row of every table but bots (which must hold the token) as text."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'bots'"
        )
        rows = []
        for table in tables:
            rows += await connection.fetch(f"SELECT t::text AS row FROM {table['name']} t")
        return "\n".join(row["row"] for row in rows)
    finally:
        await connection.close()


async def listen_until_both_failed(env: dict[str, str]) -> str:
    """Run `bulletin listen` until each bot's polling failed once; its stderr."""
    listener = await start_cli("listen", env=env, stdin=None, stdout=None)
    assert listener.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not {"bot=news", "bot=late"} <= {w for line in seen for w in line.split()}:
                line = (await listener.stderr.readline()).decode()
                assert line, "".join(seen)
                seen.append(line if "poll_failed" in line else f"- {line}")
    finally:
        listener.send_signal(signal.SIGTERM)
        rest = await listener.stderr.read()
        await listener.wait()
    return "".join(seen) + rest.decode()


async def test_no_token__redirecting_and_echoing_api__nowhere_in_database_output_or_logs(
    api_url: str, cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    env = {**cli_env, "BULLETIN_WORKER__MAX_ATTEMPTS": "2", "BULLETIN_LOG_LEVEL": "INFO"}
    audience = tmp_path / "people.csv"
    audience.write_text("chat_id,first_name\n100001,Ann\n100002,Bob\n")
    outputs = []
    code, out, err = await run_cli(
        "bot", "add", NEWS_TOKEN, "--api-url", f"{api_url}/loop", env=env
    )
    outputs.append(out + err)
    assert code == 1, out
    # Each step's commands concern one bot each, so they run side by side.
    for step in (
        [
            ("bot", "add", NEWS_TOKEN, "--name", "news", "--api-url", f"{api_url}/echo"),
            ("bot", "add", LATE_TOKEN, "--name", "late", "--api-url", f"{api_url}/late"),
        ],
        [
            ("audience", "import", str(audience), "--bot", "news"),
            ("audience", "import", str(audience), "--bot", "late"),
            ("campaign", "create", "launch", "--bot", "news", "--text", "Hi"),
            ("campaign", "create", "later", "--bot", "late", "--text", "Hi"),
        ],
        [("run", "launch"), ("run", "later")],
        [("campaign", "status", "launch"), ("campaign", "status", "later"), ("bot", "list")],
    ):
        for code, out, err in await asyncio.gather(*(run_cli(*args, env=env) for args in step)):
            outputs.append(out + err)
            assert code == 0, err
    outputs.append(await listen_until_both_failed(env))
    stored = await database_text(database_url)

    assert "chat not found" in stored  # the echoed descriptions were kept, masked
    assert "Redirect" in stored
    assert "poll_failed" in outputs[-1]
    assert leaks("\n".join(outputs)) == []
    assert leaks(stored) == []


def test_no_token__reprs_of_bot_and_settings__masked() -> None:
    bot = models.Bot(
        id=7001234567, name="news", username="news_bot", token=NEWS_TOKEN,
        api_url="https://api.telegram.org", rate_per_s=30, status=models.BotStatus.ACTIVE,
        created_at=None,  # type: ignore[arg-type]
        proxies=("socks5://alice:s3cret-pass@127.0.0.1:1080",),
    )  # fmt: skip
    settings = config.load(
        None,
        {"BULLETIN_TELEGRAM__PROXIES": "http://bob:hunter2-pass@127.0.0.1:3128,direct"},
        {"database_url": "postgresql://u:db-pass-123@127.0.0.1/x"},
    )

    assert leaks(repr(bot)) == []
    assert "s3cret-pass" not in repr(bot)
    assert "hunter2-pass" not in repr(settings)
    assert "db-pass-123" not in repr(settings)
    assert settings.telegram.proxies[0].startswith("http://bob:hunter2-pass@")
    assert bot.token == NEWS_TOKEN


@pytest.mark.parametrize(
    "text",
    [
        f"url='http://h/bot{NEWS_TOKEN}/getMe'",
        f"http://h/bot{NEWS_TOKEN.replace(':', '%3A')}/getMe",
        f"token {NEWS_TOKEN} in a description",
    ],
)
def test_no_token__redact_text__masks_plain_and_url_encoded(text: str) -> None:
    assert leaks(redact.text(text)) == []
    assert leaks(redact.text(text, [NEWS_TOKEN])) == []
    assert "7001234567" in redact.text(text)
