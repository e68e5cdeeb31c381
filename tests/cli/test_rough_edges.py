"""The rough edges a newcomer hit (issue 9), each as the command a user typed, its exit code and line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bulletin.sandbox import Sandbox, World
from bulletin.sandbox.world import Bot as SandboxBot
from tests.cli.faults import assert_one_line_error, closed_port, run_bulletin, unwritable_dir
from tests.cli.faults import not_a_bot_api as not_a_bot_api
from tests.support import register_bot

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    world = World.generate(5, seed=21)
    world.add_bot(rate_per_s=500)
    async with Sandbox(world) as running:
        yield running


def only_bot(sandbox: Sandbox) -> SandboxBot:
    return next(iter(sandbox.world.bots.values()))


async def registered(sandbox: Sandbox, env: dict[str, str], name: str = "news") -> None:
    async with asyncpg.create_pool(env["BULLETIN_DATABASE_URL"], min_size=1, max_size=1) as pool:
        await register_bot(pool, sandbox, only_bot(sandbox), name, 500)


async def fetchval(env: dict[str, str], query: str, *args: object) -> Any:
    connection = await asyncpg.connect(env["BULLETIN_DATABASE_URL"])
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def standalone_sandbox(env: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    """`bulletin sandbox` in another terminal, as the demo's next steps say; its ready line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from bulletin.cli.main import main; main()",
        "sandbox", "--port", "0", "--users", "5", "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            ready = json.loads(await process.stdout.readline())
        yield ready
    finally:
        process.send_signal(signal.SIGINT)
        await process.communicate()


# 1. The demo's "go on by hand" steps.


async def test_sandbox__after_the_demo__bot_add_registers_its_bot(
    cli_env: dict[str, str],
) -> None:
    code, out, err = await run_bulletin("demo", "--users", "20", "--rate", "500", env=cli_env)
    assert code == 0, err
    async with standalone_sandbox(cli_env) as ready:
        code, out, err = await run_bulletin(
            "bot", "add", ready["tokens"][0], "--name", "mine", "--api-url", ready["url"],
            env=cli_env,
        )  # fmt: skip
    assert code == 0, err
    assert "added bot mine" in out
    assert await fetchval(cli_env, "SELECT count(*) FROM bots") == 2


async def test_sandbox__two_invocations__bots_with_different_ids(cli_env: dict[str, str]) -> None:
    async with standalone_sandbox(cli_env) as first, standalone_sandbox(cli_env) as second:
        first_id = first["tokens"][0].partition(":")[0]
        second_id = second["tokens"][0].partition(":")[0]
    assert first_id != second_id
    assert "7000000001" not in (first_id, second_id)  # the demo's


async def test_bot_set__api_url__checked_with_get_me_then_moved(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await registered(sandbox, cli_env)
    await fetchval(cli_env, "UPDATE bots SET api_url = 'http://127.0.0.1:1' RETURNING id")

    code, out, err = await run_bulletin("bot", "set", "news", "--api-url", sandbox.url, env=cli_env)

    assert code == 0, err
    assert f"API {sandbox.url}" in out
    assert await fetchval(cli_env, "SELECT api_url FROM bots") == sandbox.url


async def test_bot_set__api_url_not_answering__refused_and_unchanged(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await registered(sandbox, cli_env)
    dead = f"http://127.0.0.1:{closed_port()}"

    code, out, err = await run_bulletin("bot", "set", "news", "--api-url", dead, env=cli_env)

    assert_one_line_error(code, out, err, containing="getMe failed")
    assert await fetchval(cli_env, "SELECT api_url FROM bots") == sandbox.url


async def test_bot_set__api_url_not_knowing_the_token__refused_and_unchanged(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await registered(sandbox, cli_env)
    async with Sandbox(World()) as elsewhere:  # a Bot API server without this bot
        code, out, err = await run_bulletin(
            "bot", "set", "news", "--api-url", elsewhere.url, env=cli_env
        )
    assert_one_line_error(code, out, err, containing="rejected token")
    assert await fetchval(cli_env, "SELECT api_url FROM bots") == sandbox.url


async def import_audience(sandbox: Sandbox, env: dict[str, str], folder: Path) -> None:
    audience = folder / "audience.csv"
    sandbox.world.write_audience_csv(audience)
    code, _, err = await run_bulletin("audience", "import", str(audience), "--bot", "news", env=env)
    assert code == 0, err


async def create_campaign(env: dict[str, str], name: str = "hello") -> None:
    code, _, err = await run_bulletin(
        "campaign", "create", name, "--bot", "news", "--text", "Hello!", env=env
    )
    assert code == 0, err


async def test_campaign_delete__unfinished_run__refused_naming_it(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await registered(sandbox, cli_env)
    await import_audience(sandbox, cli_env, tmp_path)
    await create_campaign(cli_env)
    code, _, err = await run_bulletin("campaign", "start", "hello", env=cli_env)
    assert code == 0, err
    run_id = await fetchval(cli_env, "SELECT id FROM runs")

    code, out, err = await run_bulletin("campaign", "delete", "hello", "--yes", env=cli_env)

    line = assert_one_line_error(code, out, err, containing=f"run {run_id}, running")
    assert "campaign cancel hello" in line
    assert await fetchval(cli_env, "SELECT count(*) FROM campaigns") == 1


async def test_campaign_delete__finished__deletes_it_with_runs_and_deliveries(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await registered(sandbox, cli_env)
    await import_audience(sandbox, cli_env, tmp_path)
    await create_campaign(cli_env)
    code, _, err = await run_bulletin("run", "hello", env=cli_env)
    assert code == 0, err
    assert await fetchval(cli_env, "SELECT count(*) FROM deliveries") == 5

    code, out, err = await run_bulletin("campaign", "delete", "hello", "--yes", env=cli_env)

    assert code == 0, err
    assert "deleted campaign hello (1 run(s), 5 deliveries)" in out
    for table in ("campaigns", "variants", "runs", "deliveries"):
        assert await fetchval(cli_env, f"SELECT count(*) FROM {table}") == 0, table
    code, _, err = await run_bulletin("campaign", "create", "hello", "--bot", "news",
                                      "--text", "Again", env=cli_env)  # fmt: skip
    assert code == 0, err


async def test_campaign_delete__no_terminal_and_no_yes__refused(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await registered(sandbox, cli_env)
    await create_campaign(cli_env)

    code, out, err = await run_bulletin("campaign", "delete", "hello", env=cli_env)

    assert_one_line_error(code, out, err, containing="pass --yes")
    assert await fetchval(cli_env, "SELECT count(*) FROM campaigns") == 1


# 2. One line, whatever failed below.


async def test_bot_add__api_url_answering_non_json__one_line_naming_the_answer(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    wrong = sandbox.url + "/bot"  # a path the server answers with a plain-text 404
    code, out, err = await run_bulletin(
        "bot", "add", only_bot(sandbox).token, "--api-url", wrong, env=cli_env
    )
    line = assert_one_line_error(code, out, err, containing=wrong)
    assert "404: Not Found" in line
    assert "not Bot API JSON" in line


async def test_cli__existing_unwritable_data_dir__one_line_error(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in cli_env.items() if k != "BULLETIN_DATABASE_URL"}
    env["BULLETIN_DATA_DIR"] = str(unwritable_dir(tmp_path / "data"))

    code, out, err = await run_bulletin("bot", "list", env=env, unprivileged=True)

    assert_one_line_error(code, out, err, containing="Permission denied")


UNEXPECTED = (
    "import sys; from bulletin.db import bots\n"
    "async def broken(*args, **kwargs): raise {error}\n"
    "bots.list_with_counts = broken\n"
    "from bulletin.cli.main import main; sys.argv[1:] = {argv!r}; main()\n"
)


async def run_broken(env: dict[str, str], error: str, *argv: str) -> tuple[int, str, str]:
    """`bot list` with a bug of ours planted below it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", UNEXPECTED.format(error=error, argv=[*argv, "bot", "list"]),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli__unexpected_error__internal_error_line_and_traceback_only_with_v(
    cli_env: dict[str, str],
) -> None:
    code, out, err = await run_broken(cli_env, "RuntimeError('boom')")
    assert_one_line_error(
        code,
        out,
        err,
        containing="internal error: RuntimeError: boom; rerun with -v for the traceback",
    )

    code, out, err = await run_broken(cli_env, "RuntimeError('boom')", "-v")
    assert code == 1
    assert "Traceback" in err
    assert err.strip().splitlines()[-1] == "error: internal error: RuntimeError: boom"


async def test_cli__keyboard_interrupt__exit_130_quietly(cli_env: dict[str, str]) -> None:
    code, out, err = await run_broken(cli_env, "KeyboardInterrupt")
    assert code == 130
    assert "Traceback" not in out + err
    assert err.strip() in ("", "Aborted!")


# 3. CSV columns that look like misspelt known columns.


async def import_csv(sandbox: Sandbox, env: dict[str, str], folder: Path, text: str) -> str:
    await registered(sandbox, env)
    people = folder / "people.csv"
    people.write_text(text)
    code, out, err = await run_bulletin("audience", "import", str(people), "--bot", "news", env=env)
    assert code == 0, err
    return out


async def test_audience_import__misspelt_columns__named_as_custom_fields_with_the_known_name(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    header = "chat_id,firstname,lang,user_name,tag,plan\n1,Ann,en,ann,vip,gold\n"
    out = await import_csv(sandbox, cli_env, tmp_path, header)
    assert (
        "columns kept as custom fields: firstname (did you mean first_name?), "
        "lang (did you mean language_code?), user_name (did you mean username?), "
        "tag (did you mean tags?), plan\n"
    ) in out


async def test_audience_import__only_known_columns__no_custom_fields_line(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = await import_csv(sandbox, cli_env, tmp_path, "chat_id,first_name\n1,Ann\n")
    assert "custom fields" not in out


# 4. A misspelt top-level key in a campaign file.


@pytest.mark.parametrize(
    ("file_name", "text", "expected"),
    [
        (
            "hello.yaml",
            "name: hello\nbot: news\nvarients:\n  - text: Hi\n",
            "3: unknown key 'varients' (did you mean 'variants'?)",
        ),
        (
            "hello.toml",
            'name = "hello"\nbot = "news"\nsegmant = {}\n[[variants]]\ntext = "Hi"\n',
            "3: unknown key 'segmant' (did you mean 'segment'?)",
        ),
    ],
)
async def test_campaign_apply__misspelt_top_level_key__unknown_key_at_its_line(
    file_name: str, text: str, expected: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / file_name
    path.write_text(text)

    code, out, err = await run_bulletin("campaign", "apply", str(path), env=cli_env)

    assert_one_line_error(code, out, err, containing=f"{path}:{expected}")


# 5. The README.


def test_readme__links__point_inside_the_repository() -> None:
    text = (REPOSITORY / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)\)", text) + re.findall(r"`(\.\./[^`]+)`", text)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local, "the README links its docs"
    for target in local:
        assert not target.startswith(".."), target
        assert (REPOSITORY / target).is_file(), target


def test_readme__commands__work_from_a_fresh_venv() -> None:
    """Either every command says .venv/bin/bulletin, or the README activates the venv first."""
    text = (REPOSITORY / "README.md").read_text()
    first_bare = text.find("\nbulletin ")
    assert first_bare != -1
    assert ".venv/bin/activate" in text[:first_bare]


# 6. Output a script or a pipe reads.


async def test_bot_list__not_a_terminal__long_rows_unwrapped_and_ids_bare(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await registered(sandbox, cli_env)
    long_url = sandbox.url + "/" + "x" * 90
    await fetchval(cli_env, "UPDATE bots SET api_url = $1 RETURNING id", long_url)

    code, out, err = await run_bulletin("bot", "list", env=cli_env, terminal_width=False)

    assert code == 0, err
    bot_id = str(only_bot(sandbox).id)
    row = next(line for line in out.splitlines() if "news" in line)
    assert bot_id in row
    assert long_url in row
    assert f"{int(bot_id):,}" not in out


async def test_cli__error_not_a_terminal__one_unwrapped_line(cli_env: dict[str, str]) -> None:
    long_name = "a-campaign-name-" + "y" * 100
    code, out, err = await run_bulletin(
        "campaign", "status", long_name, env=cli_env, terminal_width=False
    )
    assert_one_line_error(code, out, err, containing=long_name)


async def test_campaign_list__json__whole_text(sandbox: Sandbox, cli_env: dict[str, str]) -> None:
    await registered(sandbox, cli_env)
    text = "Hello! " + "This is a long message. " * 5
    code, _, err = await run_bulletin(
        "campaign", "create", "hello", "--bot", "news", "--text", text, env=cli_env
    )
    assert code == 0, err

    code, out, err = await run_bulletin("campaign", "list", "--json", env=cli_env)

    assert code == 0, err
    assert json.loads(out)[0]["text"] == text


@pytest.mark.parametrize("command", [[], ["bot", "set"], ["campaign", "create"], ["run"]])
async def test_help__flags__show_no_metavar(command: list[str], cli_env: dict[str, str]) -> None:
    code, out, err = await run_bulletin(*command, "--help", env=cli_env)
    assert code == 0, err
    assert "<bool>" not in out
    assert "<int>" not in out or command != []
    for line in out.splitlines():
        if "--help" in line or "--verbose" in line:
            assert "<" not in line, line
