"""Credentials as VoIPBIN takes them: an agent JWT or an account access key.

The JWT is HS256 with claims ``{"agent": {…}, "expire": "<RFC 3339>"}``: the
expiry is a string claim, not ``exp``, so the server checks it itself.
Credentials are read from ``?token=``, ``?accesskey=``, a ``token`` cookie or
``Authorization: Bearer``; the first one present is the one judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web

from dashboard.simulator.errors import ApiError
from dashboard.simulator.state import State
from dashboard.simulator.timestamps import format_page_token, parse_time
from dashboard.voipbin.topics import Permission, Principal

_ALGORITHM = "HS256"
_AGENT_CLAIMS = ("id", "customer_id", "username", "permission")


class InvalidCredentials(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(401, message, "INVALID_CREDENTIALS")


def issue_token(agent: Mapping[str, Any], *, secret: str, lifetime: timedelta) -> str:
    claims = {
        "agent": {key: agent[key] for key in _AGENT_CLAIMS},
        "expire": format_page_token(datetime.now(UTC) + lifetime),  # VoIPBIN's ISO8601Layout: six digits
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def principal_from_token(token: str, *, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM])
        agent = claims["agent"]
        expire = parse_time(claims["expire"])
        principal = Principal(
            customer_id=str(agent["customer_id"]),
            agent_id=str(agent["id"]),
            permission=int(agent["permission"]),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as error:
        raise InvalidCredentials("the token is not valid") from error
    if expire <= datetime.now(UTC):
        raise InvalidCredentials("the token has expired")
    return principal


def principal_from_access_key(access_key: str, state: State) -> Principal:
    customer = state.customer_for_access_key(access_key)
    if customer is None:
        raise InvalidCredentials("unknown access key")
    return Principal(customer_id=customer.id, permission=int(Permission.ADMIN), access_key=True)


def authenticate(request: web.Request, state: State, *, secret: str) -> Principal:
    """Who is calling, or :class:`InvalidCredentials` (401)."""
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return principal_from_token(authorization[7:].strip(), secret=secret)
    if token := request.query.get("token"):
        return principal_from_token(token, secret=secret)
    if access_key := request.query.get("accesskey"):
        return principal_from_access_key(access_key, state)
    if token := request.cookies.get("token"):
        return principal_from_token(token, secret=secret)
    raise InvalidCredentials("no credentials: pass ?token=, ?accesskey=, a token cookie or a bearer token")
