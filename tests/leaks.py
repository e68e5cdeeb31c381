"""The suite's token grep (issue 10): every bot token a test used, searched for in every log
file and every captured command output the suite wrote. One `TokenGrep` per test process
(each xdist worker has its own), checked when its session ends."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# A bot token as Telegram shapes it, also with its colon URL-encoded (as in a logged URL).
TOKEN = re.compile(r"(\d{3,}):([A-Za-z0-9_-]{20,})")
# Where a needle can start: a run of the characters tokens (and their encodings) are made of.
KEY_LENGTH = 16
_RUN = re.compile(rf"[A-Za-z0-9_%:-]{{{KEY_LENGTH},}}")
# A secret with fewer distinct characters ("a" * 35, a test's made-up token) could be ordinary
# text, so it counts only beside its bot id.
DISTINCT_ENOUGH = 8


def is_log(path: Path) -> bool:
    """A log file: `*.log`, a rotated `*.log.1`, or the embedded PostgreSQL's `log`."""
    return path.name == "log" or ".log" in path.name


def needles(token: str) -> tuple[str, ...]:
    """The strings that give a token away: the secret alone, or the whole token, plain or
    URL-encoded."""
    bot_id, _, secret = token.partition(":")
    whole = (token, f"{bot_id}%3A{secret}", f"{bot_id}%3a{secret}")
    return (secret, *whole) if len(set(secret)) >= DISTINCT_ENOUGH else whole


@dataclass
class Leak:
    """A token found where no token may be."""

    bot_id: str
    where: str

    def __str__(self) -> str:
        return f"the token of bot {self.bot_id} in {self.where}"


@dataclass
class TokenGrep:
    """The tokens a session used, the outputs it captured, the folders its logs are in."""

    tokens: set[str] = field(default_factory=set)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)

    def used(self, token: str) -> None:
        self.tokens.add(token)

    def used_in(self, texts: Iterable[str]) -> None:
        """Every token written in these texts (a command line's arguments) counts as used."""
        for text in texts:
            self.tokens.update(match.group() for match in TOKEN.finditer(text))

    def captured(self, where: str, text: str) -> None:
        """Output a test captured (a command's stdout and stderr), checked at the end."""
        self.outputs.append((where, text))

    def captured_logs(self, folder: Path) -> None:
        """The log files of a folder about to be removed, kept to be checked at the end."""
        for path in log_files(folder):
            self.captured(str(path), _read(path))

    def leaks(self) -> list[Leak]:
        """Every captured output and every log file under the folders holding a used token."""
        finder = _Finder(self.tokens)
        found = [Leak(bot_id, where) for where, text in self.outputs for bot_id in finder(text)]
        for folder in self.folders:
            for path in log_files(folder):
                found += [Leak(bot_id, str(path)) for bot_id in finder(_read(path))]
        return found


def log_files(folder: Path) -> Iterator[Path]:
    for root, _, names in os.walk(folder):
        yield from (Path(root, name) for name in names if is_log(Path(name)))


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:  # rotated away between the walk and the read
        return ""


class _Finder:
    """Finds many needles in one pass: each run of token characters is looked up by the
    first KEY_LENGTH characters at each of its offsets, so the cost barely grows with the
    number of tokens."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.keyed: dict[str, list[tuple[str, str]]] = {}
        for token in tokens:
            for needle in needles(token):
                if len(needle) < KEY_LENGTH:  # too short to be told from ordinary text
                    continue
                entry = (needle, token.partition(":")[0])
                self.keyed.setdefault(needle[:KEY_LENGTH], []).append(entry)

    def __call__(self, text: str) -> list[str]:
        """The bot ids of the tokens in text."""
        found: set[str] = set()
        for run in _RUN.finditer(text):
            chars = run.group()
            for offset in range(len(chars) - KEY_LENGTH + 1):
                for needle, bot_id in self.keyed.get(chars[offset : offset + KEY_LENGTH], ()):
                    if chars.startswith(needle, offset):
                        found.add(bot_id)
        return sorted(found)


SESSION = TokenGrep()
"""This test process's grep: tests.support and the sandbox record into it."""
