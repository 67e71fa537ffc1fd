"""Keep signed-link tokens out of the access log: uvicorn logs every request's path."""

from __future__ import annotations

import logging

from notifications.links import redact

ACCESS_LOGGER = "uvicorn.access"


class RedactLinkTokens(logging.Filter):
    """Replaces the token in /links/<token> with a mark in every access-log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
        logger.addFilter(RedactLinkTokens())
