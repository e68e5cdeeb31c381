"""ruff, mypy and import-linter are part of the suite, so the one test command checks them too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff__lint_and_format__clean() -> None:
    lint = _run("ruff", "check", "src", "tests", "bench")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatting = _run("ruff", "format", "--check", "src", "tests", "bench")
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


def test_mypy__strict_on_package_and_tests__clean() -> None:
    result = _run("mypy", "src/bulletin", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_linter__layers__kept() -> None:
    """The layer contracts in pyproject.toml: who may import aiogram, asyncpg, the CLI."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _lint_imports_with(tmp_path: Path, module: str, source: str) -> str:
    """lint-imports over a copy of the package with one more module in it: its report."""
    shutil.copytree(ROOT / "src" / "bulletin", tmp_path / "bulletin")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / Path(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "__init__.py").touch()
    path.write_text(source)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def test_import_linter__cli_imports_db__contract_broken(tmp_path: Path) -> None:
    report = _lint_imports_with(tmp_path, "bulletin.cli.probe", "from bulletin.db import pool\n")

    assert "only through app/ BROKEN" in report
    assert "bulletin.cli.probe -> bulletin.db.pool" in report


def test_import_linter__db_imports_app__layers_broken(tmp_path: Path) -> None:
    report = _lint_imports_with(tmp_path, "bulletin.db.probe", "from bulletin.app import runs\n")

    assert "bulletin.db is not allowed to import bulletin.app" in report
    assert "bulletin.db.probe -> bulletin.app.runs" in report


def test_import_linter__new_package_unplaced__layers_broken(tmp_path: Path) -> None:
    report = _lint_imports_with(tmp_path, "bulletin.newcomer.thing", "")

    assert "bulletin.newcomer" in report


def test_import_linter__engine_imports_prometheus__contract_broken(tmp_path: Path) -> None:
    report = _lint_imports_with(tmp_path, "bulletin.engine.probe", "import prometheus_client\n")

    assert "Only app/ and web/ talk to prometheus_client" in report
    assert "bulletin.engine.probe -> prometheus_client" in report


def test_cli__no_module__runs_sql() -> None:
    """cli/ parses, calls app/ and renders: no connection, query or transaction of its own."""
    database_calls = re.compile(r"\.(acquire|fetch\w*|execute\w*|transaction|cursor)\(|\bsql\(")
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((ROOT / "src" / "bulletin" / "cli").glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if database_calls.search(line)
    ]
    assert offenders == []
