"""The suite's token grep can fail: a token planted in a log file or an output is caught and
named, and the session's grep sees the tokens, outputs and folders the suite really uses."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulletin.sandbox import World
from tests import leaks
from tests.support import run_cli

# Made here, never given to the sandbox: the session's own grep does not know it.
PLANTED = "4242424242:AAHplantedSecretForTheGrepsOwnTest_0"


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside this process's base temp, so a planted token never reaches the
    session's own grep."""
    folder = Path(tempfile.mkdtemp(prefix="bulletin-grep-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("serve.log", f"action=send url=http://127.0.0.1:1/bot{PLANTED}/sendMessage\n"),
        ("bulletin.log.2", f"action=poll url=http://h/bot{PLANTED.replace(':', '%3A')}/x\n"),
        ("log", f"DETAIL: Key (token)=({PLANTED}) already exists.\n"),
        ("listen.log", f"secret={PLANTED.partition(':')[2]}\n"),
    ],
)
def test_grep__token_planted_in_a_log_file__caught_naming_the_file(
    outside: Path, name: str, line: str
) -> None:
    grep = leaks.TokenGrep(folders=[outside])
    grep.used(PLANTED)
    (outside / "nested").mkdir()
    (outside / "nested" / "clean.log").write_text("action=send bot=4242424242:***\n")
    (outside / "nested" / name).write_text("action=start\n" + line)

    assert [str(leak) for leak in grep.leaks()] == [
        f"the token of bot 4242424242 in {outside / 'nested' / name}"
    ]


def test_grep__token_only_in_other_files__not_a_log_so_not_read(outside: Path) -> None:
    grep = leaks.TokenGrep(folders=[outside])
    grep.used(PLANTED)
    (outside / "bulletin.toml").write_text(f'token = "{PLANTED}"\n')  # a config file holds it

    assert grep.leaks() == []


def test_grep__token_in_captured_output__caught_naming_it() -> None:
    grep = leaks.TokenGrep()
    grep.used_in(["bot", "add", PLANTED])
    grep.captured("the output of `bulletin bot list`", f"news  {PLANTED[:14]}***\n")
    grep.captured("the output of `bulletin bot add`", f"error: bad token {PLANTED}\n")

    assert [str(leak) for leak in grep.leaks()] == [
        "the token of bot 4242424242 in the output of `bulletin bot add`"
    ]


def test_grep__made_up_token_of_one_letter__only_with_its_bot_id() -> None:
    token = "123456:" + "a" * 35
    grep = leaks.TokenGrep()
    grep.used(token)
    grep.captured("a name", "a" * 100)
    grep.captured("a url", f"http://h/bot{token.replace(':', '%3A')}/getMe")

    assert [leak.where for leak in grep.leaks()] == ["a url"]


async def test_grep__this_session__records_sandbox_tokens_outputs_and_this_tmp_path(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    bot = World.generate(0, seed=77).add_bot()
    outputs = len(leaks.SESSION.outputs)

    code, _, err = await run_cli("bot", "list", env=cli_env)

    assert code == 0, err
    assert bot.token in leaks.SESSION.tokens
    assert len(leaks.SESSION.outputs) == outputs + 1
    planted = tmp_path / "planted.log"
    planted.write_text(f"url=/bot{bot.token}/getMe\n")
    try:
        assert f"the token of bot {bot.id} in {planted}" in map(str, leaks.SESSION.leaks())
    finally:
        planted.unlink()  # caught: this session must not fail for it
    assert str(planted) not in map(str, leaks.SESSION.leaks())
