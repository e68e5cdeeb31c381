"""Logs as a user configures them: --log-format json, --log-file with rotation, [log] config."""

from __future__ import annotations

import json
from pathlib import Path

from bulletin.sandbox import Sandbox
from tests.cli import test_cli as cli_tests
from tests.cli.test_cli import add_bot, token_of
from tests.support import run_cli

sandbox = cli_tests.sandbox


async def test_logs__json_to_rotating_file__json_lines_with_fields_and_rotated(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    log_file = tmp_path / "logs" / "bulletin.log"
    settings_file = tmp_path / "bulletin.toml"
    settings_file.write_text("[log]\nmax_bytes = 150\nbackup_count = 3\n")
    await add_bot(sandbox, cli_env)
    flags = ["--config", str(settings_file), "--log-format", "json", "--log-file", str(log_file)]
    for args in (
        ["audience", "import", str(audience), "--bot", "news"],
        ["campaign", "create", "launch", "--bot", "news", "--text", "Hi"],
        ["-vv", "run", "launch"],
    ):
        code, _, err = await run_cli(*flags, *args, env=cli_env)
        assert code == 0, err
        assert '"level"' not in err  # the log lines went to the file, not to stderr

    files = sorted(log_file.parent.iterdir())
    assert log_file.with_name("bulletin.log.1") in files
    assert len(files) <= 4
    lines = [line for path in files for line in path.read_text().splitlines()]
    records = [json.loads(line) for line in lines]
    assert all({"at", "level", "logger", "message"} <= record.keys() for record in records)
    assert any("action" in record for record in records)
    assert all(token_of(sandbox) not in line for line in lines)


async def test_logs__text_format_from_config__plain_lines(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    log_file = tmp_path / "bulletin.log"
    settings_file = tmp_path / "bulletin.toml"
    settings_file.write_text(f'[log]\nformat = "text"\nfile = "{log_file}"\n')
    await add_bot(sandbox, cli_env)
    code, _, err = await run_cli("--config", str(settings_file), "-vv", "stats", env=cli_env)
    assert code == 0, err
    text = log_file.read_text()
    assert " DEBUG " in text
    assert not text.startswith("{")
