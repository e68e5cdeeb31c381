"""Audiences in and out through the CLI: export, tags, forget, --resubscribe, malformed files."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bulletin.sandbox import Sandbox
from tests.cli.test_cli import add_bot
from tests.support import run_cli

PEOPLE_CSV = """chat_id,first_name,language_code,tags,city,plan,score
1001,Ann,en,news;vip,Oslo,gold,7
1002,Bob,de,news,Bonn,free,3
-1001234567890,,,,,,
1003,Cy,en,,Rome,free,
"""


@pytest.fixture
def sandbox(bare_sandbox: Sandbox) -> Sandbox:
    return bare_sandbox


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def row_versions(database: asyncpg.Connection) -> dict[int, str]:
    """Each chat's row version (xmin): unchanged when an import left the row alone."""
    rows = await database.fetch("SELECT chat_id, xmin::text FROM subscribers")
    return {row["chat_id"]: row["xmin"] for row in rows}


async def imported(sandbox: Sandbox, env: dict[str, str], folder: Path, *args: str) -> str:
    await add_bot(sandbox, env)
    people = folder / "people.csv"
    people.write_text(PEOPLE_CSV)
    code, out, err = await run_cli(
        "audience", "import", str(people), "--bot", "news", *args, env=env
    )
    assert code == 0, err
    return out


async def test_export__csv_and_jsonl_with_filters__import_back_unchanged(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    out_csv = tmp_path / "out.csv"

    code, _, err = await run_cli(
        "audience", "export", "--bot", "news", "-o", str(out_csv), env=cli_env
    )
    assert code == 0, err
    assert "exported 4 subscribers" in err
    code, jsonl, err = await run_cli(
        "audience", "export", "--bot", "news", "--format", "jsonl", "--tag", "news",
        "--language", "EN", env=cli_env,
    )  # fmt: skip
    assert code == 0, err

    rows = {row["chat_id"]: row for row in csv.DictReader(io.StringIO(out_csv.read_text()))}
    assert sorted(rows) == ["-1001234567890", "1001", "1002", "1003"]
    ann = rows["1001"]
    assert ann["tags"] == "news;vip"
    assert (ann["city"], ann["plan"], ann["score"], ann["status"]) == (
        "Oslo",
        "gold",
        "7",
        "subscribed",
    )
    assert rows["-1001234567890"]["chat_type"] == "supergroup"
    (only,) = [json.loads(line) for line in jsonl.splitlines()]
    assert (only["chat_id"], only["tags"], only["city"]) == (1001, ["news", "vip"], "Oslo")

    rows_now = "SELECT chat_id, tags, fields, xmin::text, updated_at FROM subscribers ORDER BY id"
    before = await database.fetch(rows_now)
    code, out, err = await run_cli("audience", "import", str(out_csv), "--bot", "news", env=cli_env)
    assert code == 0, err
    assert "imported 0 new and merged 4 known subscribers (0 changed)" in out
    after = await database.fetch(rows_now)
    # Read-only columns (status, source, …) did not become fields, and no row was rewritten.
    assert after == before


async def test_tag_untag__by_ids_and_from_a_file(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("1003\n-1001234567890\n")

    code, out, err = await run_cli(
        "audience", "tag", "Spring,late", "--bot", "news", "--file", str(ids_file), "--",
        "1002", "999", env=cli_env,
    )  # fmt: skip
    assert code == 0, err
    assert "tagged 3 subscribers (late, spring)" in out
    assert "1 chat ids are not subscribers" in err
    code, out, err = await run_cli(
        "audience", "untag", "news", "--bot", "news", "1001", env=cli_env
    )
    assert code == 0, err

    tags = {row[0]: row[1] for row in await database.fetch("SELECT chat_id, tags FROM subscribers")}
    assert tags == {
        1001: ["vip"],
        1002: ["late", "news", "spring"],
        1003: ["late", "spring"],
        -1001234567890: ["late", "spring"],
    }


async def test_forget__erased_with_a_tombstone_and_not_reimported(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    await database.execute("INSERT INTO events (kind, chat_id, detail) VALUES ('x', 1001, 'Ann')")
    await database.execute("UPDATE events SET bot_id = (SELECT id FROM bots)")

    code, out, err = await run_cli("audience", "forget", "1001", env=cli_env)
    assert code == 0, err
    assert "forgot chat 1001" in out
    code, out, err = await run_cli(
        "audience", "import", str(tmp_path / "people.csv"), "--bot", "news", env=cli_env
    )
    assert code == 0, err
    assert "left out 1 forgotten chats" in out
    code, _, err = await run_cli("audience", "forget", "424242", env=cli_env)
    assert code == 1
    assert "nothing to forget" in err

    assert await database.fetchval("SELECT count(*) FROM subscribers WHERE chat_id = 1001") == 0
    assert await database.fetchval("SELECT count(*) FROM events WHERE chat_id = 1001") == 0
    assert await database.fetchval("SELECT count(*) FROM events WHERE detail = 'Ann'") == 0
    assert await database.fetchval("SELECT count(*) FROM forgotten_chats") == 1
    kinds = await database.fetch("SELECT kind FROM events ORDER BY id")
    assert [row["kind"] for row in kinds] == ["x", "subscriber.forgotten"]


async def test_import__resubscribe__only_unsubscribed_chats_and_logged(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    await database.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE chat_id = 1001")
    await database.execute("UPDATE subscribers SET status = 'blocked' WHERE chat_id = 1002")
    people = str(tmp_path / "people.csv")

    code, out, err = await run_cli("audience", "import", people, "--bot", "news", env=cli_env)
    assert code == 0, err
    assert "re-subscribed" not in out
    code, out, err = await run_cli(
        "audience", "import", people, "--bot", "news", "--resubscribe", env=cli_env
    )
    assert code == 0, err
    assert "re-subscribed 1 chats that had unsubscribed" in out

    statuses = {
        row[0]: row[1] for row in await database.fetch("SELECT chat_id, status FROM subscribers")
    }
    assert (statuses[1001], statuses[1002]) == ("subscribed", "blocked")
    events = await database.fetch("SELECT kind, chat_id, detail FROM events")
    assert [tuple(row) for row in events] == [
        ("subscriber.resubscribed", 1001, "audience import --resubscribe")
    ]


TEN_MB_LINE = "chat_id,note\n1,ok\n2," + "x" * 10_000_000 + "\n3,ok\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"chat_id,name\n1,Ann\n2,Bj\xf6rn\n", "people.csv:3: not valid UTF-8", id="encoding"),
        pytest.param(b"chat_id,name\n1,Ann\n2\n3,Cy,extra\n", "people.csv:3: row has 1 fields", id="ragged"),
        pytest.param(b"chat_id\n1\nabc\n1e5\n", "people.csv:3: chat_id 'abc' is not an integer", id="ids"),
        pytest.param(TEN_MB_LINE.encode(), "people.csv:3: line is longer than", id="10mb-line"),
        pytest.param(b"", "people.csv: file is empty", id="empty"),
    ],
)  # fmt: skip
async def test_import__malformed_file__clear_error_with_line_and_nothing_imported(
    sandbox: Sandbox,
    cli_env: dict[str, str],
    tmp_path: Path,
    database: asyncpg.Connection,
    content: bytes,
    expected: str,
) -> None:
    await add_bot(sandbox, cli_env)
    people = tmp_path / "people.csv"
    people.write_bytes(content)

    code, _out, err = await run_cli("audience", "import", str(people), "--bot", "news", env=cli_env)

    assert code == 1
    assert expected in err
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert await database.fetchval("SELECT count(*) FROM subscribers") == 0


async def test_import__chat_listed_twice__last_line_wins_and_tags_unite(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await add_bot(sandbox, cli_env)
    twice = tmp_path / "twice.csv"
    twice.write_text("chat_id,first_name,tags,city\n7,Al,b;a,Oslo\n8,Bo,,\n7,Alf,c;a,Rome\n")

    code, out, err = await run_cli(
        "audience", "import", str(twice), "--bot", "news", "--tag", "Z", env=cli_env
    )

    assert code == 0, err
    assert "imported 2 new" in out
    rows = await database.fetch("SELECT chat_id, first_name, tags, fields FROM subscribers")
    assert sorted(tuple(row) for row in rows) == [
        (7, "Alf", ["a", "b", "c", "z"], '{"city": "Rome"}'),
        (8, "Bo", ["z"], "{}"),
    ]


async def test_import__field_text_with_quotes_escapes_and_unicode__stored_exactly(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await add_bot(sandbox, cli_env)
    tricky = 'say "hi" \\ back\\slash\ttab\nnew line \u2713 \U0001f600 \x7f </script>'
    people = tmp_path / "people.jsonl"
    people.write_text(json.dumps({"chat_id": 5, "note": tricky, "n": 3, "ok": True}) + "\n")

    code, _out, err = await run_cli("audience", "import", str(people), "--bot", "news", env=cli_env)

    assert code == 0, err
    fields = json.loads(await database.fetchval("SELECT fields FROM subscribers"))
    assert fields == {"note": tricky, "n": "3", "ok": "true"}


async def test_import__known_chats__only_changed_rows_rewritten_and_counted(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    code, _, err = await run_cli("audience", "forget", "1003", env=cli_env)
    assert code == 0, err
    versions = await row_versions(database)
    again = tmp_path / "again.csv"
    again.write_text(
        "chat_id,first_name,tags,city\n"
        "1001,Ann,vip,Oslo\n"  # nothing new: tags and city already there
        "1002,Bob,news,Berlin\n"  # moved
        "-1001234567890,,extra,\n"  # a new tag
        "1003,Cy,,Rome\n"  # forgotten: stays out
        "1004,Di,,\n"  # new
    )

    code, out, err = await run_cli("audience", "import", str(again), "--bot", "news", env=cli_env)

    assert code == 0, err
    assert "imported 1 new and merged 3 known subscribers (2 changed)" in out
    assert "left out 1 forgotten chats" in out
    rows = {row["chat_id"]: row for row in await database.fetch("SELECT * FROM subscribers")}
    assert sorted(rows) == [-1001234567890, 1001, 1002, 1004]
    now = await row_versions(database)
    assert now[1001] == versions[1001]
    assert now[1002] != versions[1002]
    assert json.loads(rows[1002]["fields"])["city"] == "Berlin"
    assert rows[-1001234567890]["tags"] == ["extra"]


SEGMENTED_CAMPAIGN = """name: regulars
bot: news
variants:
  - name: a
    text: Hi {{ first_name }}
segment:
  tags: {any: [news, vip], none: [vip]}
  languages: [de]
  chat_types: [private]
"""


async def export_ids(env: dict[str, str], *filters: str) -> list[int]:
    code, jsonl, err = await run_cli(
        "audience", "export", "--bot", "news", "--format", "jsonl", *filters, env=env
    )
    assert code == 0, err
    return [json.loads(line)["chat_id"] for line in jsonl.splitlines()]


async def test_export__segment_filters__select_what_a_campaign_segment_selects(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    await database.execute(
        "UPDATE subscribers SET created_at = '2026-01-01T00:00Z' WHERE chat_id = 1001"
    )
    campaign = tmp_path / "regulars.yaml"
    campaign.write_text(SEGMENTED_CAMPAIGN)
    code, _, err = await run_cli("campaign", "apply", str(campaign), env=cli_env)
    assert code == 0, err
    code, out, err = await run_cli("campaign", "preview", "regulars", env=cli_env)
    assert code == 0, err
    assert "a run now would reach 1 chat(s)" in out

    same_as_segment = await export_ids(
        cli_env, "--status", "subscribed", "--any-tag", "news", "--any-tag", "vip",
        "--without-tag", "VIP", "--language", "de", "--chat-type", "private",
    )  # fmt: skip

    assert same_as_segment == [1002]
    assert await export_ids(cli_env, "--tag", "news", "--tag", "vip") == [1001]
    assert await export_ids(cli_env, "--chat-type", "supergroup") == [-1001234567890]
    assert await export_ids(cli_env, "--subscribed-before", "2026-01-02") == [1001]
    assert await export_ids(cli_env, "--subscribed-after", "2026-01-01T01:00+00:00") == [
        1002, -1001234567890, 1003,
    ]  # fmt: skip
    code, _, err = await run_cli(
        "audience", "export", "--bot", "news", "--subscribed-after", "last week", env=cli_env
    )
    assert code == 1
    assert err.strip() == (
        "error: --subscribed-after 'last week' is not an ISO 8601 date or time "
        "(like 2026-05-01 or 2026-05-01T09:00+02:00)"
    )


async def test_import__dry_run__reports_what_would_change_and_keeps_nothing(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await imported(sandbox, cli_env, tmp_path)
    await database.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE chat_id = 1001")
    before = await database.fetch("SELECT *, xmin::text FROM subscribers ORDER BY id")
    events = await database.fetchval("SELECT count(*) FROM events")
    changed = tmp_path / "changed.csv"
    changed.write_text("chat_id,first_name,city\n1001,Ann,Oslo\n1002,Robert,\n1005,Eve,Lima\n")

    code, out, err = await run_cli(
        "audience", "import", str(changed), "--bot", "news", "--dry-run", "--resubscribe",
        env=cli_env,
    )  # fmt: skip

    assert code == 0, err
    assert out.splitlines() == [
        "would have imported 1 new and merged 2 known subscribers (1 changed)",
        "would have re-subscribed 1 chats that had unsubscribed",
        "columns kept as custom fields: city",
        "dry run: nothing was kept",
    ]
    assert await database.fetch("SELECT *, xmin::text FROM subscribers ORDER BY id") == before
    assert await database.fetchval("SELECT count(*) FROM events") == events


async def test_import__many_bad_lines__first_ones_shown_the_rest_counted(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database: asyncpg.Connection
) -> None:
    await add_bot(sandbox, cli_env)
    bad = tmp_path / "bad.csv"
    bad.write_text("chat_id\n" + "x\n" * 30 + "7\n")

    code, _, err = await run_cli("audience", "import", str(bad), "--bot", "news", env=cli_env)

    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0] == f"{bad}:2: chat_id 'x' is not an integer"
    assert len([line for line in lines if "is not an integer" in line]) == 20
    assert lines[-2:] == [
        "… and 10 more invalid lines",
        f"error: {bad}: 30 invalid line(s); nothing imported (fix them or pass --skip-invalid)",
    ]
    assert await database.fetchval("SELECT count(*) FROM subscribers") == 0
