"""ruff, mypy and import-linter are part of the suite, so the one test command checks them too."""

from __future__ import annotations

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
