"""Logging filters: keep credentials that travel in URL paths out of the logs, and keep refusals short."""

from __future__ import annotations

import logging
import re

from django.utils.functional import LazyObject, empty

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


# Django logs every 4xx on django.request as a WARNING, with the exception's traceback for a
# PermissionDenied: about 35 lines for an agent who opened a supervisors' page.
ORDINARY_STATUSES = {403: "Forbidden", 404: "Not Found"}


def _who(request: object) -> str:
    """The user's name, without a session or database lookup the request has not made already."""
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, LazyObject) and user._wrapped is empty):
        return "-"
    if not user.is_authenticated:
        return "anonymous"
    return user.get_username()


class OrdinaryRefusals(logging.Filter):
    """django.request's 403 and 404: one INFO line (method, path, status, user), no traceback.

    Attached to the django.request logger (settings.LOGGING); other statuses, and 500s with their
    traceback at ERROR, pass unchanged. The path goes in as an argument, so the handler's
    RedactWallTokens still applies. Dropped when LOG_LEVEL (the root logger) is above INFO.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status not in ORDINARY_STATUSES or record.levelno > logging.WARNING:
            return True
        if not logging.getLogger().isEnabledFor(logging.INFO):
            return False
        request = getattr(record, "request", None)
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.msg = "%s %s %s %s (user %s)"
        record.args = (
            getattr(request, "method", "-"),
            getattr(request, "path", "-"),
            status,
            ORDINARY_STATUSES[status],
            _who(request),
        )
        return True
