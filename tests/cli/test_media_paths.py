"""Campaign files as an operator gives them: media from the file's folder only, files read
with limits, templates that cannot work refused at `campaign apply` and `campaign check`."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from bulletin.sandbox import Sandbox
from tests.support import run_cli
from tests.unit.test_template_budget import BOMBS

PHOTO_CAMPAIGN = """\
name: spring
bot: news
content:
  kind: photo
  media: {media}
  text: Hello {{{{ first_name }}}}
"""
TEMPLATE_CAMPAIGN = """\
name: spring
bot: news
variants:
  - name: a
    text: |
      Hello
      {text}
"""


async def apply_error(env: dict[str, str], path: Path) -> str:
    """The one line `campaign apply` fails with."""
    code, _, err = await run_cli("campaign", "apply", str(path), env=env)
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def photo_file(folder: Path, media: str) -> Path:
    path = folder / "campaign.yaml"
    path.write_text(PHOTO_CAMPAIGN.format(media=media))
    return path


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        ("/etc/passwd", "a media path is relative to the campaign file's folder"),
        ("../secret.jpg", "a media path is relative to the campaign file's folder"),
        ("photos/../../secret.jpg", "a media path is relative to the campaign file's folder"),
        ("~/photo.jpg", "a media path is relative to the campaign file's folder"),
        ("link.jpg", "leads outside the campaign file's folder"),
        ("pipe.jpg", "is not a regular file"),
        ("big.jpg", "has 11,534,336 bytes; Telegram takes 1 to 10,485,760 for a photo"),
    ],
)
async def test_apply__media_path_outside_or_unfit__refused_with_line(
    cli_env: dict[str, str], tmp_path: Path, media: str, reason: str
) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "link.jpg").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.jpg")
    with (folder / "big.jpg").open("wb") as big:
        big.truncate(11 * 1024 * 1024)

    error = await apply_error(cli_env, photo_file(folder, media))

    assert error.startswith(f"{folder / 'campaign.yaml'}:5: variants.0.media: ")
    assert reason in error


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("big.yaml", "name: x\n" + "# padding\n" * 210_000, "a campaign file is at most 1 MB"),
        ("deep.yaml", "name: " + "[" * 1000 + "]" * 1000, "nested more than 32 levels deep"),
        ("deep.toml", "name = " + "[" * 1000 + "]" * 1000, "nested more than 32 levels deep"),
        ("wide.yaml", "name: x\n" + "\n".join(
            f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 9)
        ).replace("*l0", "x"), "more than 100,000 values"),
    ],
)  # fmt: skip
async def test_apply__file_too_big_deep_or_wide__one_line_error(
    cli_env: dict[str, str], tmp_path: Path, name: str, content: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_text(content)

    error = await apply_error(cli_env, path)

    assert error.startswith(str(path))
    assert reason in error


async def test_apply__fifo_or_device__refused_without_reading(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    fifo = tmp_path / "campaign.yaml"
    os.mkfifo(fifo)

    for path in (fifo, Path("/dev/zero")):
        error = await apply_error(cli_env, path)
        assert error == f"{path}: not a regular file (a device, FIFO or folder)"


@pytest.mark.parametrize(
    "name", ["nested range", "percent width", "center", "lipsum", "self-recursive macro"]
)
async def test_apply__template_bomb__refused_with_its_line(
    cli_env: dict[str, str], tmp_path: Path, name: str
) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_text(TEMPLATE_CAMPAIGN.format(text=BOMBS[name]))

    error = await apply_error(cli_env, path)

    assert error.startswith(f"{path}:5: variants.0.text: template line 2: ")
    assert "over the rendering budget" in error


async def test_apply__unknown_name__refused_with_its_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_text(TEMPLATE_CAMPAIGN.format(text="Code {{ campaign.promo }} {{ frist_name }}"))

    error = await apply_error(cli_env, path)

    assert error.startswith(f"{path}:5: variants.0.text: template line 2: unknown name")
    assert "'frist_name'" in error


@pytest.fixture
async def news(bare_sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path) -> Path:
    """A bot named news with one subscriber, and a folder with a photo campaign applied."""
    token = next(iter(bare_sandbox.world.bots.values())).token
    people = tmp_path / "people.csv"
    people.write_text("chat_id,first_name\n1001,Ada\n")
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(b"\xff\xd8 a photo")
    for args in (
        ("bot", "add", token, "--name", "news", "--api-url", bare_sandbox.url),
        ("audience", "import", str(people), "--bot", "news"),
        ("campaign", "apply", str(photo_file(folder, "photo.jpg"))),
    ):
        code, _, err = await run_cli(*args, env=cli_env)
        assert code == 0, err
    return folder


async def test_check_test_chat__media_swapped_for_a_link_out__refused_nothing_sent(
    bare_sandbox: Sandbox, cli_env: dict[str, str], news: Path
) -> None:
    (news / "photo.jpg").unlink()
    (news / "photo.jpg").symlink_to("/etc/passwd")

    code, _, err = await run_cli("campaign", "check", "spring", "--test-chat", "1001", env=cli_env)

    assert code != 0
    assert "photo.jpg is a symbolic link" in err
    assert "Traceback" not in err
    assert len(bare_sandbox.ledger) == 0


async def test_check__bomb_stored_past_apply__refused_under_the_same_budget(
    cli_env: dict[str, str], database_url: str, news: Path
) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("UPDATE variants SET text = $1", BOMBS["shallow fan-out macro"])
    finally:
        await connection.close()

    code, _, err = await run_cli("campaign", "check", "spring", env=cli_env)

    assert code != 0
    assert "check failed: variant a: text: template line 1: over the rendering budget" in err
    assert "Traceback" not in err
