"""aiohttp's log line for a request its parser refuses, made safe to show."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class MalformedRequests(logging.Filter):
    """aiohttp logs a request its parser refuses with a traceback and the offending raw bytes,
    which can be a header line holding a token or write key: keep a one-line warning with the
    reason only."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            reason = (error.message or "").split("\n", 1)[0]
            reason = reason.split("'", 1)[0].split('"', 1)[0].rstrip(": ")
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "refused a malformed request from %s: %s %s"
            record.args = (peer, error.code, reason)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def http_logger(name: str) -> logging.Logger:
    """The logger a server hands aiohttp for its connection-level messages, filtered."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, MalformedRequests) for f in logger.filters):
        logger.addFilter(MalformedRequests())
    return logger
