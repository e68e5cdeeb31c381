"""`bulletin token`: the API's tokens, made (shown once), listed and revoked."""

from __future__ import annotations

from typing import Annotated

import typer

from bulletin.app import tokens
from bulletin.app.database import database
from bulletin.cli.context import Options, run
from bulletin.cli.output import console, error_console, print_json, print_table

app = typer.Typer(help="Tokens for the HTTP API of `bulletin serve`.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[tokens.Role, typer.Option("--role", help="admin (writes) or viewer (reads)")],
    name: Annotated[str | None, typer.Option("--name", help="Name (default: made up)")] = None,
) -> None:
    """Make a token and print it once: only its hash is kept."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> tuple[tokens.Token, str]:
        async with database(settings) as pool:
            return await tokens.create(pool, role, name)

    token, secret = run(go())
    print(secret)  # stdout alone, for `$(bulletin token create …)`
    error_console.print(
        f"created {token.role.value} token {token.name!r}: shown this once, keep it safe",
        markup=False,
        highlight=False,
    )


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Every token: name, role, created, last used (never the secret)."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[tokens.Token]:
        async with database(settings) as pool:
            return await tokens.list_all(pool)

    rows = [
        {
            "name": t.name,
            "role": t.role.value,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
        }
        for t in run(go())
    ]
    if as_json:
        print_json(rows)
    elif not rows:
        console.print("no tokens yet (`bulletin token create --role admin`)", markup=False)
    else:
        print_table("API tokens", list(rows[0]), [list(row.values()) for row in rows])


@app.command("revoke")
def revoke(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Token name")]) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> None:
        async with database(settings) as pool:
            await tokens.revoke(pool, name)

    run(go())
    console.print(f"revoked token {name!r}", markup=False, highlight=False)
