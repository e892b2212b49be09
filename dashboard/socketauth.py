"""Who opened a browser socket: the user of the session cookie, resolved once in the handshake.

Channels' ``AuthMiddlewareStack`` is three middlewares (cookies, session, user): each copies the scope
and stays on the stack for the socket's life, with a session store and a lazy user per socket, and
its session wrapper sits under every frame the socket sends. A live socket needs the user and its
session's key once (it watches the session until it expires, ``dashboard.consumers``); a wall's
socket needs neither. This reads the cookie, then the user with Django's own ``aget_user`` (backend
check, session hash with the secret-key fallbacks), and puts ``user`` and ``session_key`` in one copy
of the scope.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import aget_user
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie


class _Handshake:
    """What ``aget_user`` reads of a request: its session."""

    def __init__(self, session: Any) -> None:
        self.session = session


def session_key_of(scope: dict[str, Any]) -> str:
    """The session cookie the browser sent with the handshake ("" if none)."""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME, "")
    return ""


class SessionUserMiddleware:
    """Sets ``scope["user"]`` (``AnonymousUser`` without a valid session) and ``scope["session_key"]``.

    A scope that already names a user (a test's ``WebsocketCommunicator``) is passed on as it is.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if "user" not in scope:
            key = session_key_of(scope)
            user: Any = AnonymousUser()
            if key:
                session = import_module(settings.SESSION_ENGINE).SessionStore(key)
                user = await aget_user(_Handshake(session))
            scope = {**scope, "user": user, "session_key": key if user.is_authenticated else ""}
        return await self.inner(scope, receive, send)
