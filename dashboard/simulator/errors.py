"""VoIPBIN's error envelope, for every failure except a failed login (empty 400)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

_STATUS_WORDS = {
    400: ("INVALID_ARGUMENT", "BAD_REQUEST"),
    401: ("UNAUTHENTICATED", "INVALID_CREDENTIALS"),
    402: ("RESOURCE_EXHAUSTED", "INSUFFICIENT_BALANCE"),
    403: ("PERMISSION_DENIED", "PERMISSION_DENIED"),
    404: ("NOT_FOUND", "RESOURCE_NOT_FOUND"),
    405: ("INVALID_ARGUMENT", "METHOD_NOT_ALLOWED"),
    429: ("RESOURCE_EXHAUSTED", "RATE_LIMITED"),
    500: ("INTERNAL", "INTERNAL_ERROR"),
    503: ("UNAVAILABLE", "SERVICE_UNAVAILABLE"),
}


class ApiError(Exception):
    """Raised by a handler; the middleware answers with the envelope."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def error_response(status: int, message: str, reason: str | None = None) -> web.Response:
    word, default_reason = _STATUS_WORDS.get(
        status, ("INTERNAL" if status >= 500 else "INVALID_ARGUMENT", "ERROR")
    )
    envelope = {
        "error": {
            "status": word,
            "reason": reason or default_reason,
            "message": message,
            "request_id": str(uuid.uuid4()),
        }
    }
    return web.json_response(envelope, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.message, error.reason)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, error.reason)
    except Exception:
        logger.exception("simulator handler failed: %s %s", request.method, request.path)
        return error_response(500, "internal error")
