"""Settings: a TOML file, then BULLETIN_* environment variables, then CLI flags; read only here."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bulletin import errors, redact

ENV_PREFIX = "BULLETIN_"
CONFIG_FILE_NAME = "bulletin.toml"


def comma_separated(value: object) -> object:
    """A comma-separated string (from the environment) is a list too."""
    if isinstance(value, str):
        return tuple(part for part in (p.strip() for p in value.split(",")) if part)
    return value


Words = Annotated[tuple[str, ...], pydantic.BeforeValidator(comma_separated)]
"""A list setting, also written as one comma-separated string."""

ProxyUrls = Annotated[
    tuple[Annotated[str, pydantic.AfterValidator(redact.check_proxy)], ...],
    pydantic.BeforeValidator(comma_separated),
]
"""Proxy URLs (scheme://[user:password@]host:port, or `direct`), checked when read."""


class WorkerSettings(BaseModel):
    """How a worker claims, sends and records deliveries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=500, ge=1, le=10_000)
    max_in_flight: int = Field(default=64, ge=1, le=10_000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_cap_s: float = Field(default=300.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)
    lease_s: float = Field(default=15.0, gt=1)
    flush_interval_s: float = Field(default=0.1, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0)
    resend_uncertain: bool = False


class TelegramSettings(BaseModel):
    """How bulletin reaches the Bot API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Tried in order ("direct" for no proxy); a bot's own list replaces this one.
    proxies: ProxyUrls = Field(default=(), repr=False)  # credentials: never in a repr
    proxy_retry_s: float = Field(default=30.0, gt=0)


class ListenerSettings(BaseModel):
    """How the listener answers the people who opt in and out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    welcome_text: str = "You're subscribed. Send /stop to unsubscribe at any time."
    stop_confirmation: str = "You're unsubscribed and won't hear from us again. /start to rejoin."
    stop_keywords: Words = ("stop", "unsubscribe")
    poll_timeout_s: int = Field(default=30, ge=0, le=50)
    reply_timeout_s: float = Field(default=10.0, gt=0)


class LogSettings(BaseModel):
    """Where logs go and how they look: `[log]` in the config, --log-format and --log-file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["text", "json"] = "text"
    file: Path | None = None  # None: stderr
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)  # rotate the file at this size
    backup_count: int = Field(default=5, ge=0)  # rotated files kept


class WebSettings(BaseModel):
    """The HTTP server of `serve`: `[web]` in the config, --http and --no-http."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = "127.0.0.1:8080"  # HOST:PORT
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)  # larger request bodies: 413
    # The Bot API servers an API client may point a bot at: a server talks to no other URL
    # because a client asked (the CLI, run by whoever holds this config, may name any).
    bot_api_urls: Words = ("https://api.telegram.org",)


class Settings(BaseModel):
    """Everything bulletin reads from its environment, resolved once and passed down."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=lambda: default_data_dir(os.environ))
    log_level: str = "WARNING"
    worker: WorkerSettings = WorkerSettings()
    telegram: TelegramSettings = TelegramSettings()
    listener: ListenerSettings = ListenerSettings()
    log: LogSettings = LogSettings()
    web: WebSettings = WebSettings()

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "postgres"


ROOT_DATA_DIR = Path("/var/lib/bulletin")


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """~/.local/share/bulletin, or under $XDG_DATA_HOME when set; /var/lib/bulletin for root.

    Root's home is closed to other users, and the embedded PostgreSQL, which refuses to run
    as root, runs as a user of its own that must reach its files: never by opening up /root.
    """
    if environ.get("XDG_DATA_HOME"):
        return Path(environ["XDG_DATA_HOME"]) / "bulletin"
    if os.geteuid() == 0:
        return ROOT_DATA_DIR
    return Path.home() / ".local" / "share" / "bulletin"


def load(
    path: Path | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings from file, environment and flags (later wins)."""
    from_environ = _from_environ(environ)
    if not from_environ.get("data_dir"):
        from_environ.pop("data_dir", None)  # an empty BULLETIN_DATA_DIR means unset
    from_flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    data_dir = Path(
        from_flags.get("data_dir") or from_environ.get("data_dir") or default_data_dir(environ)
    ).expanduser()
    file_path = path or _env_config_path(environ)
    if file_path is None and (data_dir / CONFIG_FILE_NAME).is_file():
        file_path = data_dir / CONFIG_FILE_NAME
    values: dict[str, Any] = {"data_dir": data_dir}
    if file_path is not None:
        _merge(values, _read_file(file_path))
    _merge(values, from_environ)
    _merge(values, from_flags)
    try:
        settings = Settings.model_validate(values)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise errors.ConfigError(f"invalid setting {where}: {first['msg']}") from None
    return settings.model_copy(update={"data_dir": settings.data_dir.expanduser()})


def _env_config_path(environ: Mapping[str, str]) -> Path | None:
    raw = environ.get(ENV_PREFIX + "CONFIG")
    return Path(raw) if raw else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise errors.ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise errors.ConfigError(f"config file {path}: {exc}") from None


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """BULLETIN_WORKER__BATCH_SIZE=10 becomes {"worker": {"batch_size": "10"}}."""
    values: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        parts = key.removeprefix(ENV_PREFIX).lower().split("__")
        if parts[0] not in Settings.model_fields:
            continue
        target = values
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return values


def _merge(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value
