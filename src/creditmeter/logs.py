"""Logging: one JSON object per line (or plain text), never a secret.

Both formats carry the same fields, taken from one place (`fields`): a line's time, level,
logger, pid and message, then whatever the caller passed in `extra` (request id, route,
status, key id, ...), then the exception, if any.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from .settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def fields(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, Any]:
    """Every field of a log line, in the order both formats write them."""
    line: dict[str, Any] = {
        "time": formatter.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "pid": record.process,  # which worker, when `serve --workers N` runs several
        "message": record.getMessage(),
    }
    line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if record.exc_info:
        line["exception"] = formatter.formatException(record.exc_info)
    return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields(self, record), default=str)


def _text_value(value: Any) -> str:
    """A value as logfmt writes it: bare when it is one plain word, else a JSON string."""
    text = "-" if value is None else str(value)
    if text and text.isprintable() and not any(c in text for c in ' "=\\'):
        return text
    return json.dumps(text)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`: the JSON line's fields, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = fields(self, record)
        exception = line.pop("exception", None)
        head = " ".join(
            (line.pop("time"), line.pop("level").upper(), line.pop("logger"), line.pop("message"))
        )
        text = " ".join([head, *(f"{k}={_text_value(v)}" for k, v in line.items())])
        return text if exception is None else f"{text}\n{exception}"


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger("creditmeter")
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    root.propagate = False
