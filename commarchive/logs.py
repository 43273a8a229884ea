"""How ``serve`` writes its log: human lines, or one JSON object per line for collectors.

A log shipper (Loki, Elasticsearch, journald's JSON export) should not parse
free text; ``COMMARCHIVE_LOG_FORMAT=json`` gives it ``time``, ``level``,
``logger`` and ``message`` fields (and ``exception`` with the traceback). Log
messages name item ids and components, never content, either way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Final

from commarchive.settings import LogFormat

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: LogFormat, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON
                         else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
