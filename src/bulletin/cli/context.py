"""What every command shares: resolved settings and a checked database connection."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bulletin import config, errors
from bulletin.cli import logs

T = TypeVar("T")

# app.run_log's logger, by name: setting its level must not import the database layer.
RUN_LOG = "bulletin.app.run_log"


@dataclass
class Options:
    """Global CLI flags, resolved into Settings by config.load (the only reader)."""

    config_path: Path | None = None
    data_dir: Path | None = None
    database_url: str | None = None
    verbose: int = 0
    log_format: str | None = None
    log_file: Path | None = None

    def child_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The global flags as environment for a child process; a URL never goes on a command line."""
        env = dict(environ)
        if self.config_path is not None:
            env["BULLETIN_CONFIG"] = str(self.config_path.resolve())
        if self.data_dir is not None:
            env["BULLETIN_DATA_DIR"] = str(self.data_dir.resolve())
        if self.database_url is not None:
            env["BULLETIN_DATABASE_URL"] = self.database_url
        if self.log_format is not None:
            env["BULLETIN_LOG__FORMAT"] = self.log_format
        if self.log_file is not None:
            env["BULLETIN_LOG__FILE"] = str(self.log_file.resolve())
        return env

    def settings(self) -> config.Settings:
        return config.load(
            self.config_path,
            os.environ,
            {
                "data_dir": self.data_dir,
                "database_url": self.database_url,
                "log": {
                    key: value
                    for key, value in (("format", self.log_format), ("file", self.log_file))
                    if value is not None
                }
                or None,
            },
        )


def configure_logging(settings: config.Settings, verbose: int) -> None:
    configured = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.WARNING)
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else configured
    try:
        chosen = logs.handler(settings.log)
    except OSError as error:
        raise errors.ConfigError(
            f"cannot write log file {settings.log.file}: {error.strerror or error}"
        ) from None
    logging.basicConfig(level=level, handlers=[chosen], force=True)
    # A run starting, pausing, finishing is what an operator watches serve for: shown at the
    # default level too (log_level ERROR hides it).
    if level <= logging.WARNING:
        logging.getLogger(RUN_LOG).setLevel(min(level, logging.INFO))
    # aiogram logs each request at INFO; keep the engine's own lines readable.
    logging.getLogger("aiogram").setLevel(max(logging.WARNING, level))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM ask for a graceful stop; a second SIGINT interrupts at once."""
    loop = asyncio.get_running_loop()

    def request_stop(signum: int) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            loop.remove_signal_handler(signal.SIGINT)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_stop, signum)
