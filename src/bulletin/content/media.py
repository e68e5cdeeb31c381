"""Local media files as Telegram may take them: regular files within its upload limits.

A path is looked at without following a symbolic link, and opened without blocking, so a
link swapped in, a FIFO or a device is refused rather than read.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat

from bulletin import errors, models

# Telegram's upload limits (api.telegram.org): 10 MB for a photo, 50 MB for other files.
UPLOAD_LIMITS = {models.ContentKind.PHOTO: 10 * 1024 * 1024}
UPLOAD_LIMIT = 50 * 1024 * 1024
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


UPLOAD_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def upload_digest(source: str) -> str:
    """The sha256 an `upload:<sha256>` source names; ContentError for anything else."""
    digest = source.removeprefix(models.UPLOAD_PREFIX)
    if not UPLOAD_DIGEST.match(digest):
        raise errors.ContentError(
            f"{source!r}: an upload is named {models.UPLOAD_PREFIX}<sha256 of 64 hex digits>"
        )
    return digest


def upload_limit(kind: models.ContentKind) -> int:
    return UPLOAD_LIMITS.get(kind, UPLOAD_LIMIT)


def checked(source: str, kind: models.ContentKind) -> os.stat_result:
    """The file's status; ContentError unless it is a regular file Telegram takes."""
    try:
        status = os.stat(source, follow_symlinks=False)
    except OSError as exc:
        raise errors.ContentError(f"cannot read {source}: {exc.strerror}") from None
    _check(source, kind, status)
    return status


def digest(source: str, kind: models.ContentKind) -> str:
    """The sha256 of a media file, read only if it is still what `checked` saw (blocking I/O)."""
    try:
        descriptor = os.open(source, OPEN_FLAGS)
    except OSError as exc:
        raise errors.ContentError(f"cannot read {source}: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        _check(source, kind, os.fstat(file.fileno()))
        return hashlib.file_digest(file, "sha256").hexdigest()


def _check(source: str, kind: models.ContentKind, status: os.stat_result) -> None:
    if stat.S_ISLNK(status.st_mode):
        raise errors.ContentError(f"{source} is a symbolic link; give the file itself")
    if not stat.S_ISREG(status.st_mode):
        raise errors.ContentError(f"{source} is not a regular file (a device, FIFO or folder)")
    limit = upload_limit(kind)
    if status.st_size == 0 or status.st_size > limit:
        raise errors.ContentError(
            f"{source} has {status.st_size:,} bytes; Telegram takes 1 to {limit:,} for a {kind}"
        )
