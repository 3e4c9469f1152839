"""Structured logs: one JSON object per line on standard error.

Each line has ``time``, ``level``, ``logger`` and ``message``; lines written
while a web request is handled also carry its ``request_id`` (the caller's
``X-Request-Id`` when it sent a sane one), and the request's own summary line
adds ``method``, ``route`` (the route template, never the raw path or query
string, so no ids or search words), ``status`` and ``duration_ms``.

What must never reach a log: tokens, contributors' names, private details,
request bodies. So requests are logged by route template only, uvicorn's own
access log (raw paths and query strings) is switched off, and SQLAlchemy
engines are built with ``hide_parameters`` so a database error does not echo
the values it was given.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: the current request's id, for every line logged while handling it
request_id_var: ContextVar[str | None] = ContextVar("yswd_request_id", default=None)

REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
#: an incoming X-Request-Id is used only if it looks like an id (no injection into logs)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: loggers whose lines go through the root handler instead of their own
_ADOPTED = ("uvicorn", "uvicorn.error", "uvicorn.access")


def sane_request_id(value: str | None) -> str | None:
    return value if value is not None and _SANE_ID.match(value) else None


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the same facts on one readable line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{name}={getattr(record, name)}" for name in REQUEST_FIELDS if hasattr(record, name)
        ]
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            extras.insert(0, f"request_id={request_id}")
        return f"{line} {' '.join(extras)}" if extras else line


def configure_logging(log_format: str = "json", level: int = logging.INFO) -> None:
    """Send every log line (ours, uvicorn's, libraries') to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _ADOPTED:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True


#: the logger that writes one line per handled request
access_log = logging.getLogger("yswd.access")
