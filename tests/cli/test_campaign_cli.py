"""`bulletin campaign` for designed campaigns: apply, show, preview, check, start, pause, cancel."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bulletin.sandbox import Sandbox, World
from tests.support import run_cli, start_cli, wait_for

CAMPAIGN = """\
name: spring
bot: news
fields:
  promo: SPRING24
content:
  parse_mode: html
  buttons:
    - - text: Shop
        url: https://example.org/shop?c={{ chat_id }}
variants:
  - name: a
    text: |
      Hi <b>{{ first_name }}</b>!
      Code {{ campaign.promo }}
  - name: b
    weight: 2
    text: Hello {{ first_name | upper }}, code {{ campaign.promo }}
  - name: de
    language: de
    text: Hallo {{ first_name }}
segment:
  tags:
    any: [spring]
    all: [spring]
schedule:
  cron: "0 9 * * mon-fri"
  timezone: Europe/Berlin
  quiet_hours:
    start: "22:00"
    end: "08:00"
caps:
  per_hour_per_bot: 1000
  per_run: 5000
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    world = World.generate(30, seed=41)
    world.add_bot(rate_per_s=300)
    async with Sandbox(world) as running:
        yield running


@pytest.fixture
async def env(sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A bot named news and an audience tagged spring, through the CLI."""
    token = next(iter(sandbox.world.bots.values())).token
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    for args in (
        ("bot", "add", token, "--name", "news", "--api-url", sandbox.url, "--rate", "300"),
        ("audience", "import", str(audience), "--bot", "news", "--tag", "spring"),
    ):
        code, _, err = await run_cli(*args, env=cli_env)
        assert code == 0, err
    return cli_env


async def test_apply_show_apply__unchanged_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "spring.yaml"
    path.write_text(CAMPAIGN)

    code, out, err = await run_cli("campaign", "apply", str(path), env=env)
    assert code == 0, err
    assert "created campaign spring (3 variant(s))" in out
    code, shown, err = await run_cli("campaign", "show", "spring", "--format", "yaml", env=env)
    assert code == 0, err
    assert "Code {{ campaign.promo }}" in shown
    assert "start: '22:00'" in shown
    (tmp_path / "shown.yaml").write_text(shown)

    code, out, err = await run_cli("campaign", "apply", str(tmp_path / "shown.yaml"), env=env)
    assert code == 0, err
    assert "unchanged campaign spring" in out
    code, again, err = await run_cli("campaign", "show", "spring", env=env)
    assert again == shown

    path.write_text(CAMPAIGN.replace("weight: 2", "weight: 3"))
    code, out, err = await run_cli("campaign", "apply", str(path), env=env)
    assert "updated campaign spring" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  - name: b\n", "  - name: b\n    colour: red\n"), "spring.yaml:16: variants.1.colour: unknown key"),
        (('cron: "0 9 * * mon-fri"', 'cron: "0 25 * * *"'),
         "spring.yaml:26: schedule.cron: bad cron expression '0 25 * * *': Bad hour"),
        (("any: [spring]", "any: [sprnig]"),
         "spring.yaml:23: segment.tags.any.0: no subscriber of news has the tag 'sprnig'"),
        (("bot: news", "bot: olds"), "spring.yaml:2: bot: no bot named 'olds'"),
        (("Hallo {{ first_name }}", "\"{{ ''.__class__.__mro__ }}\""),
         "spring.yaml:20: variants.2.text: template line 1: '__mro__' is not allowed"),
        (("Hallo {{ first_name }}", "Hallo {{ first_name }"),
         "spring.yaml:20: variants.2.text: template line 1: unexpected '}'"),
        (("Hallo {{ first_name }}", "Hallo {{ frist_name }}"),
         "spring.yaml:20: variants.2.text: template line 1: unknown name 'frist_name'"),
    ],
)  # fmt: skip
async def test_apply__bad_file__line_and_reason_and_nothing_written(
    env: dict[str, str], tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "spring.yaml"
    path.write_text(CAMPAIGN.replace(*change))

    code, _, err = await run_cli("campaign", "apply", str(path), env=env)

    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: "), err
    assert f"/{expected}" in err
    code, _, err = await run_cli("campaign", "show", "spring", env=env)
    assert code == 1
    assert "no campaign named 'spring'" in err


async def test_preview_check_start_pause_cancel(
    env: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "spring.yaml"
    path.write_text(CAMPAIGN.replace("schedule:", "unused:").split("unused:")[0])
    code, out, err = await run_cli("campaign", "apply", str(path), env=env)
    assert code == 0, err

    code, out, err = await run_cli("campaign", "preview", "spring", "--samples", "2", env=env)
    assert code == 0, err
    assert "a run now would reach 30 chat(s)" in out
    assert "Code SPRING24" in out or "code SPRING24" in out

    chat = next(iter(sandbox.world.chats))
    code, out, err = await run_cli("campaign", "check", "spring", "--test-chat", str(chat), env=env)
    assert code == 0, err
    assert "check passed" in out
    assert len(sandbox.ledger) == 3  # every variant, to the test chat

    code, out, err = await run_cli("campaign", "start", "spring", env=env)
    assert code == 0, err
    assert "30 deliveries pending" in out
    code, out, err = await run_cli("campaign", "pause", "spring", env=env)
    assert "1 run(s) stopped sending" in out
    code, out, err = await run_cli("campaign", "cancel", "spring", env=env)
    assert code == 0, err
    assert "1 run(s) ended, 30 pending deliveries skipped" in out
    code, out, err = await run_cli("campaign", "status", "spring", "--json", env=env)
    status = json.loads(out)
    assert status["status"] == "cancelled"
    assert sum(v["total"] for v in status["variants"]) == 30
    assert {v["variant"] for v in status["variants"]} <= {"a", "b", "de"}


async def test_two_serve_processes__scheduled_campaign__one_run_per_slot(
    env: dict[str, str], sandbox: Sandbox, tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "pulse.yaml"
    path.write_text(
        "name: pulse\nbot: news\ncontent: {text: 'Hi {{ first_name }}'}\n"
        "schedule: {every: 2m, max_runs: 3}\n"
    )
    code, _, err = await run_cli("campaign", "apply", str(path), env=env)
    assert code == 0, err
    serves = [await start_cli("serve", env=env, stdin=None) for _ in range(2)]
    try:
        code, out, err = await run_cli("campaign", "start", "pulse", env=env)
        assert code == 0, err
        assert "scheduled pulse: first run at" in out
        connection = await asyncpg.connect(database_url)
        try:
            # The first slot is due now; the next is two minutes away.
            await wait_for(
                connection, "SELECT count(*) = 1 AND bool_and(status = 'done') FROM runs"
            )
            runs = await connection.fetchval("SELECT count(*) FROM runs")
        finally:
            await connection.close()
        # Started twice: arming again would add an occurrence; it is refused instead.
        code, _, err = await run_cli("campaign", "start", "pulse", env=env)
        assert code == 1
        assert "error: campaign 'pulse' is scheduled already: its next run is at" in err
    finally:
        for serve in serves:
            serve.send_signal(signal.SIGTERM)
        for serve in serves:
            async with asyncio.timeout(30):
                await serve.communicate()
    assert runs == 1
    reachable = [c for c in sandbox.world.chats.values() if c.state == "reachable"]
    assert Counter(e.chat_id for e in sandbox.ledger) == Counter({c.id: 1 for c in reachable})
    assert all(serve.returncode == 0 for serve in serves)


async def test_apply__delivery_section__paid_broadcast_sent_as_paid_and_round_trips(
    env: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    plain = CAMPAIGN.replace("schedule:", "unused:").split("unused:")[0]
    paid = plain.replace("name: spring", "name: paid") + (
        "delivery:\n  paid_broadcast: true\n  resend_uncertain: true\n"
    )
    for name, text in (("spring", plain), ("paid", paid)):
        (tmp_path / f"{name}.yaml").write_text(text)
        code, _, err = await run_cli("campaign", "apply", str(tmp_path / f"{name}.yaml"), env=env)
        assert code == 0, err
    code, shown, err = await run_cli("campaign", "show", "paid", env=env)
    assert code == 0, err
    assert "delivery:\n  paid_broadcast: true\n  resend_uncertain: true\n" in shown
    code, shown, err = await run_cli("campaign", "show", "spring", env=env)
    assert "delivery" not in shown  # defaults are left out of the file

    code, _, err = await run_cli("run", "paid", "--quiet", env=env)
    assert code == 0, err
    code, _, err = await run_cli("run", "spring", "--quiet", env=env)
    assert code == 0, err

    assert [entry.paid for entry in sandbox.ledger] == [True] * 30 + [False] * 30
