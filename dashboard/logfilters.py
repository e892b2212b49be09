"""Logging filters: keep credentials that travel in URL paths out of the logs."""

from __future__ import annotations

import logging
import re

# A wall display link's token is its only credential and it is in the path: /wall/<token>/.
_WALL_TOKEN = re.compile(r"(/(?:ws/)?wall/)[^/\s\"']+")


def redact(text: str) -> str:
    return _WALL_TOKEN.sub(r"\1…", text)


class RedactWallTokens(logging.Filter):
    """Rewrites a record's message and string arguments so no wall token reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
