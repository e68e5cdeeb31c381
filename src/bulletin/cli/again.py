"""`--again` and `--yes`: sending a one-shot campaign to everyone again is asked for, twice."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bulletin import errors
from bulletin.app import runs
from bulletin.app.database import Pool

AgainOption = Annotated[
    bool,
    typer.Option(
        "--again", help="Send to every chat of the segment, also those that already had it"
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


async def confirm(pool: Pool, name: str, *, yes: bool) -> None:
    """Ask on a terminal before a campaign goes again to chats that had it; refuse elsewhere."""
    if yes:
        return
    reach = await runs.reach(pool, name)
    if not reach.reached:
        return  # nobody would hear it twice
    question = (
        f"send {name!r} again to all {reach.segment} chats of its segment, "
        f"{reach.reached} of which already had it?"
    )
    if not sys.stdin.isatty():
        raise errors.InputError(f"{question} Confirm with --yes (no terminal to ask on)")
    if not typer.confirm(question, default=False):
        raise errors.NotAllowed("not sent again")
