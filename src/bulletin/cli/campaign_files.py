"""`bulletin campaign apply | show | edit`: campaigns as files kept in version control."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from bulletin import errors, models
from bulletin.app import campaigns
from bulletin.app.database import database
from bulletin.campaign import document
from bulletin.campaign.spec import CampaignSpec
from bulletin.cli.campaigns import read_text
from bulletin.cli.context import Options, run
from bulletin.cli.output import console


class Format(enum.StrEnum):
    YAML = "yaml"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)
    app.command("show")(show)
    app.command("edit")(edit)


def apply(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A campaign file (.yaml, .yml or .toml)")],
) -> None:
    """Create or update a campaign from a file: content, variants, segment, schedule, caps."""
    settings = ctx.ensure_object(Options).settings()
    parsed = document.load(path)

    async def go() -> tuple[models.Campaign, str]:
        async with database(settings) as pool:
            return await campaigns.apply(pool, parsed)

    campaign, outcome = run(go())
    variants = len(parsed.spec.variants)
    console.print(f"{outcome} campaign [bold]{campaign.name}[/] ({variants} variant(s))")


def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    output: Annotated[Format, typer.Option("--format", help="yaml (for apply) or json")] = (
        Format.YAML
    ),
) -> None:
    """Print a campaign as a file that `campaign apply` reads back unchanged."""
    spec = run(_design(ctx, name))
    if output is Format.JSON:
        print(json.dumps(spec.document(), indent=2))
    else:
        print(document.dump(spec), end="")


def edit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    variant: Annotated[str, typer.Option(help="The variant to change")] = "a",
    text: Annotated[str | None, typer.Option(help="New text or caption")] = None,
    text_file: Annotated[Path | None, typer.Option(help="Read the new text from a file")] = None,
    parse_mode: Annotated[models.ParseMode | None, typer.Option(help="New parse mode")] = None,
    weight: Annotated[int | None, typer.Option(min=1, help="New weight")] = None,
) -> None:
    """Change a variant of a draft campaign (files: edit and `campaign apply` instead)."""
    settings = ctx.ensure_object(Options).settings()
    changes: dict[str, object] = {}
    if text is not None or text_file is not None:
        changes["text"] = read_text(text, text_file)
    if parse_mode is not None:
        changes["parse_mode"] = parse_mode
    if weight is not None:
        changes["weight"] = weight
    if not changes:
        raise errors.InputError(
            "nothing to change: give --text, --text-file, --parse-mode or --weight"
        )

    async def go() -> str:
        async with database(settings) as pool:
            return await campaigns.edit(pool, name, variant, changes)

    outcome = run(go())
    console.print(f"{outcome} variant {variant} of {name}")


async def _design(ctx: typer.Context, name: str) -> CampaignSpec:
    settings = ctx.ensure_object(Options).settings()
    async with database(settings) as pool:
        return await campaigns.design(pool, name)
