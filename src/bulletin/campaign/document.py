"""Campaign files: YAML or TOML in, YAML out; every problem reported with its line and reason."""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from bulletin import errors, models
from bulletin.campaign.spec import TOP_LEVEL_KEYS, CampaignSpec
from bulletin.content import check, media

Location = Sequence[str | int]
FILE_LIMIT = 1024 * 1024  # bytes of a campaign file
DEPTH_LIMIT = 32  # levels of nesting
VALUE_COUNT_LIMIT = 100_000  # values in a campaign file, each use of a YAML alias counted


@dataclass(frozen=True)
class Lines:
    """Where each value of a campaign file was written."""

    source: str
    tree: yaml.Node | None
    text: str

    def line(self, location: Location) -> int | None:
        """The line a value was written on (or the nearest enclosing one)."""
        if self.tree is not None:
            return _yaml_line(self.tree, location)
        return _toml_line(self.text, location)

    def error(self, location: Location, reason: str) -> errors.InputError:
        where = ".".join(str(part) for part in location)
        return errors.InputError(f"{where}: {reason}", source=self.source, line=self.line(location))


@dataclass(frozen=True)
class Document:
    """A campaign file read and checked: the spec, and where each of its values was written."""

    spec: CampaignSpec
    lines: Lines

    def error(self, location: Location, reason: str) -> errors.InputError:
        return self.lines.error(location, reason)


def load(path: Path) -> Document:
    """Read a campaign file; InputError names the line and reason of its first problem."""
    text = read(path)
    return parse(text, str(path), toml=path.suffix.lower() == ".toml", folder=path.parent)


def read(path: Path) -> str:
    """The text of a campaign file: a regular file of at most FILE_LIMIT bytes, in UTF-8.

    Opened without blocking and checked before reading, so a FIFO, /dev/zero or a huge file
    is refused at once rather than read until memory runs out.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise errors.InputError(f"cannot read: {exc.strerror}", source=str(path)) from None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise errors.InputError(
                "not a regular file (a device, FIFO or folder)", source=str(path)
            )
        content = file.read(FILE_LIMIT + 1)
    if len(content) > FILE_LIMIT:
        raise errors.InputError(
            f"a campaign file is at most {FILE_LIMIT // 1024 // 1024} MB", source=str(path)
        )
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InputError(f"not UTF-8 text: {exc.reason}", source=str(path)) from None


def parse(text: str, source: str, *, toml: bool = False, folder: Path | None = None) -> Document:
    raw, tree = _read_toml(text, source) if toml else _read_yaml(text, source)
    if not isinstance(raw, dict):
        raise errors.InputError("a campaign file is a mapping of keys to values", source=source)
    _check_top_level_keys(raw, Lines(source, tree, text))
    raw = _with_shared_content(raw)
    lines = Lines(source, tree, text)
    _resolve_paths(raw, folder or Path.cwd(), lines)
    try:
        spec = CampaignSpec.model_validate(raw)
    except pydantic.ValidationError as exc:
        # An unknown key explains the rest (a misspelt key leaves the one it meant missing).
        found = exc.errors()
        first = next((e for e in found if e["type"] == "extra_forbidden"), found[0])
        raise lines.error(first["loc"], _reason(first)) from None
    _check_templates(spec, lines)
    return Document(spec, lines)


def _check_top_level_keys(raw: dict[str, Any], lines: Lines) -> None:
    """A misspelt key first: otherwise the key it meant is reported missing, a riddle."""
    for key in raw:
        if key in TOP_LEVEL_KEYS:
            continue
        close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(TOP_LEVEL_KEYS)}"
        raise errors.InputError(
            f"unknown key {key!r} ({hint})",
            source=lines.source,
            line=lines.line([str(key)]),
        )


def dump(spec: CampaignSpec) -> str:
    """The spec as YAML that `campaign apply` reads back to the same campaign."""
    return yaml.dump(spec.document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def _read_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_shape(tree, source)
        raw = yaml.SafeLoader("").construct_document(tree) if tree is not None else None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise errors.InputError(
            f"not valid YAML: {exc.problem}", source=source, line=line
        ) from None
    except RecursionError:
        raise _too_deep(source, None) from None
    return raw, tree


def _read_toml(text: str, source: str) -> tuple[Any, None]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found[1]) if found else None
        raise errors.InputError(f"not valid TOML: {exc}", source=source, line=line) from None
    except RecursionError:
        raise _too_deep(source, None) from None
    _check_shape(raw, source)
    return raw, None


def _check_shape(tree: Any, source: str) -> None:
    """At most DEPTH_LIMIT levels and VALUE_COUNT_LIMIT values, counting each use of a YAML
    alias again (a few lines of aliases can stand for billions of values)."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > DEPTH_LIMIT:
            line = node.start_mark.line + 1 if isinstance(node, yaml.Node) else None
            raise _too_deep(source, line)
        if count > VALUE_COUNT_LIMIT:
            raise errors.InputError(
                f"more than {VALUE_COUNT_LIMIT:,} values (counting each use of an alias)",
                source=source,
            )
        stack.extend((child, depth + 1) for child in _children(node))


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode | list):
        return list(node.value if isinstance(node, yaml.Node) else node)
    if isinstance(node, dict):
        return list(node.values())
    return []


def _too_deep(source: str, line: int | None) -> errors.InputError:
    return errors.InputError(
        f"nested more than {DEPTH_LIMIT} levels deep", source=source, line=line
    )


def _with_shared_content(raw: dict[str, Any]) -> dict[str, Any]:
    """`content` holds what every variant shares; a campaign without variants has one, `a`."""
    shared = raw.pop("content", None)
    if shared is None:
        return raw
    if not isinstance(shared, dict):
        shared = {}
    variants = raw.get("variants") or [{}]
    if isinstance(variants, list):
        raw["variants"] = [{**shared, **v} if isinstance(v, dict) else v for v in variants]
    return raw


def _resolve_paths(raw: dict[str, Any], folder: Path, lines: Lines) -> None:
    """Media paths are relative to the campaign file's folder, and stay inside it."""
    variants = raw.get("variants")
    for number, variant in enumerate(variants if isinstance(variants, list) else []):
        if not isinstance(variant, dict):
            continue
        album = variant.get("album")
        items: list[tuple[Location, Any]] = [(("variants", number, "media"), variant)]
        items += [
            (("variants", number, "album", position, "media"), item)
            for position, item in enumerate(album if isinstance(album, list) else [])
            if isinstance(item, dict)
        ]
        for location, item in items:
            source = item.get("media")
            if isinstance(source, str) and models.MediaOrigin.of(source) is models.MediaOrigin.PATH:
                try:
                    item["media"] = media_path(source, folder, item.get("kind"))
                except errors.ContentError as exc:
                    raise lines.error(location, str(exc)) from None


def media_path(source: str, folder: Path, kind: Any) -> str:
    """The file a media path names inside `folder`; ContentError for any way out of it
    (absolute, `~`, `..`, a symbolic link out), a device or FIFO, or a file too big."""
    path = Path(source)
    if source.startswith("~") or path.is_absolute() or ".." in path.parts:
        raise errors.ContentError(
            f"{source!r}: a media path is relative to the campaign file's folder, "
            "without ~, .. or a leading /"
        )
    inside = folder.resolve()
    resolved = (inside / path).resolve()
    if not resolved.is_relative_to(inside):
        raise errors.ContentError(f"{source!r} leads outside the campaign file's folder")
    if resolved.exists():
        kinds = {k.value: k for k in models.ContentKind}
        media.checked(str(resolved), kinds.get(kind, models.ContentKind.DOCUMENT))
    return str(resolved)


def _check_templates(spec: CampaignSpec, lines: Lines) -> None:
    """Templates that cannot work for anyone are refused with the line they are on."""
    for number, variant in enumerate(spec.variants):
        for problem in check.variant_template_problems(variant, spec.fields):
            raise lines.error(("variants", number, *problem.location), problem.reason)


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _yaml_line(tree: yaml.Node, location: Location) -> int | None:
    node, line = tree, tree.start_mark.line + 1
    path = list(location)
    if path[:1] == ["variants"] and len(path) > 2 and _step(tree, path) is None:
        shared = _step(tree, ["content", *path[2:]])  # a value shared by every variant
        if shared is not None:
            return shared.start_mark.line + 1
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        key, node = found
        line = (key or node).start_mark.line + 1
    return line


def _step(tree: yaml.Node, path: Location) -> yaml.Node | None:
    node: yaml.Node | None = tree
    for part in path:
        found = _child(node, part) if node is not None else None
        node = found[1] if found else None
    return node


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None


def _toml_line(text: str, location: Location) -> int | None:
    names = [part for part in location if isinstance(part, str)]
    for name in reversed(names):
        pattern = re.compile(
            rf'^\s*(\[+[^\]]*\b{re.escape(name)}\]+|"?{re.escape(name)}"?\s*=)', re.M
        )
        found = pattern.search(text)
        if found:
            return text.count("\n", 0, found.start()) + 1
    return None


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so a message reads as written."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)
