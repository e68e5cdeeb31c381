"""Log lines as text or as JSON objects, to stderr or to a rotating file."""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
from datetime import UTC, datetime

from bulletin import config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The house style's `key=value` fields (action=run_finished run=3 …), lifted into JSON keys.
FIELD = re.compile(r"(?<!\S)([a-z_]+)=(\S*)")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message and its key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        document: dict[str, object] = dict(FIELD.findall(message))
        document.update(
            at=datetime.fromtimestamp(record.created, UTC).isoformat(),
            level=record.levelname.lower(),
            logger=record.name,
            message=message,
        )
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def handler(settings: config.LogSettings) -> logging.Handler:
    """The handler the settings ask for, its formatter set."""
    chosen: logging.Handler
    if settings.file is None:
        chosen = logging.StreamHandler()
    else:
        settings.file.expanduser().parent.mkdir(parents=True, exist_ok=True)
        chosen = logging.handlers.RotatingFileHandler(
            settings.file.expanduser(),
            maxBytes=settings.max_bytes,
            backupCount=settings.backup_count,
            encoding="utf-8",
        )
    json_lines = settings.format == "json"
    chosen.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    return chosen
