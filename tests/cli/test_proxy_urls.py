"""Proxy URLs: checked where they come in (bot add/set, the config), masked wherever shown."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bulletin.sandbox import Sandbox
from tests.cli.test_cli import add_bot
from tests.support import run_cli


@pytest.fixture
def sandbox(bare_sandbox: Sandbox) -> Sandbox:
    return bare_sandbox


BAD_PROXIES = {
    "alice:s3cret-pw@127.0.0.1:1080": "needs a scheme",
    "ftp://127.0.0.1:21": "needs a scheme",
    "socks5://alice:s3cret-pw@127.0.0.1:99999": "port from 1 to 65535",
    "socks5://alice:s3cret-pw@127.0.0.1": "port from 1 to 65535",
    "socks5://alice:s3cret-pw@127.0.0.1:0": "port from 1 to 65535",
    "http://alice:s3cret-pw@:8080": "has no host",
    "http://127.0.0.1:x": "port from 1 to 65535",
}


@pytest.mark.parametrize("proxy", list(BAD_PROXIES))
async def test_proxy__bad_url_at_bot_set__one_line_error_without_the_password(
    sandbox: Sandbox, cli_env: dict[str, str], proxy: str
) -> None:
    await add_bot(sandbox, cli_env)
    code, out, err = await run_cli("bot", "set", "news", "--proxy", proxy, env=cli_env)

    assert code == 1, out
    assert err.startswith("error: proxy "), err
    assert err.count("\n") == 1, err
    assert BAD_PROXIES[proxy] in err
    assert "s3cret-pw" not in out + err


async def test_proxy__bad_url_in_config__one_line_error(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "BULLETIN_TELEGRAM__PROXIES": "direct,bob:hunter2-pw@127.0.0.1:3128"}
    code, out, err = await run_cli("bot", "list", env=env)

    assert code == 1, out
    assert err.startswith("error: invalid setting telegram.proxies"), err
    assert err.count("\n") == 1, err
    assert "hunter2-pw" not in err


async def test_proxy__credentials__masked_in_bot_list(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await add_bot(sandbox, cli_env)
    proxies = ["socks5://alice:s3cret-pw@127.0.0.1:1080", "http://tokenuser-pw@127.0.0.1:3128"]
    arguments = [part for proxy in [*proxies, "direct"] for part in ("--proxy", proxy)]
    code, _out, err = await run_cli("bot", "set", "news", *arguments, env=cli_env)
    assert code == 0, err
    code, table, err = await run_cli("bot", "list", env=cli_env)
    assert code == 0, err
    code, listed, err = await run_cli("bot", "list", "--json", env=cli_env)
    assert code == 0, err

    assert "alice:***@127.0.0.1:1080" in listed
    assert "http://***@127.0.0.1:3128" in listed
    for shown in (table, listed):
        assert "s3cret-pw" not in shown
        assert "tokenuser-pw" not in shown


async def test_proxy__bad_url_saved_before__run_fails_in_one_line(
    sandbox: Sandbox, cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    await add_bot(sandbox, cli_env)
    audience = tmp_path / "people.csv"
    audience.write_text("chat_id,first_name\n100001,Ann\n")
    code, _out, err = await run_cli(
        "audience", "import", str(audience), "--bot", "news", env=cli_env
    )
    assert code == 0, err
    database = await asyncpg.connect(database_url)
    try:  # what `bot set` accepted before proxies were checked
        await database.execute("UPDATE bots SET proxies = '{alice:s3cret-pw@127.0.0.1:1080}'")
    finally:
        await database.close()
    code, _out, err = await run_cli(
        "campaign", "create", "launch", "--bot", "news", "--text", "Hi", env=cli_env
    )
    assert code == 0, err
    code, out, err = await run_cli("run", "launch", env=cli_env, timeout_s=60)

    assert code == 1, out
    assert "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("error: proxy "), err
    assert "s3cret-pw" not in out + err
