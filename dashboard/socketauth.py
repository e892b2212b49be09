"""Who opened a browser socket: the user of the session cookie, resolved once in the handshake.

Channels' ``AuthMiddlewareStack`` is three middlewares (cookies, session, user): each copies the scope
and stays on the stack for the socket's life, with a session store and a lazy user per socket, and
its session wrapper sits under every frame the socket sends. A live socket needs the user, its
session's key and when that session expires, once (it watches the session until then,
``dashboard.consumers``); a wall's socket needs none of it. This reads the cookie, then, in one hop
to the database thread (a thousand tabs reconnect at once after a restart), the user with Django's
own ``get_user`` (backend check, session hash with the secret-key fallbacks) and the session's
expiry, and puts ``user``, ``session_key`` and ``session_expires_at`` in one copy of the scope.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils import timezone


class _Handshake:
    """What ``get_user`` reads of a request: its session."""

    def __init__(self, session: Any) -> None:
        self.session = session


def session_key_of(scope: dict[str, Any]) -> str:
    """The session cookie the browser sent with the handshake ("" if none)."""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME, "")
    return ""


def session_state(session_key: str) -> tuple[str | None, datetime | None]:
    """The user id a stored Django session names and when it expires; ``(None, None)`` once it is gone.

    Database-backed engines (``db``, ``cached_db``) are read from their row: its ``expire_date`` is
    when the session really ends, while ``get_expiry_date()`` answers "now + SESSION_COOKIE_AGE" for
    a session saved without an explicit expiry. Other engines only offer that upper bound.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if hasattr(store_class, "get_model_class"):
        row = (
            store_class.get_model_class()
            .objects.filter(session_key=session_key, expire_date__gt=timezone.now())
            .first()
        )
        if row is None:
            return None, None
        return row.get_decoded().get(SESSION_KEY), row.expire_date
    store = store_class(session_key)
    user_id = store.get(SESSION_KEY)
    if user_id is None:
        return None, None
    return user_id, store.get_expiry_date()


async def read_session(session_key: str) -> tuple[str | None, datetime | None]:
    """``session_state`` from async code (a socket's timer, when its session is due to expire)."""
    return await database_sync_to_async(session_state)(session_key)


def signed_in(session_key: str) -> tuple[Any, datetime | None]:
    """The session's user as Django's ``get_user`` checks it, and when the session expires; an
    ``AnonymousUser`` (and None) for a session that ended, or whose user left or changed password."""
    user = get_user(_Handshake(import_module(settings.SESSION_ENGINE).SessionStore(session_key)))
    if not user.is_authenticated:
        return user, None
    user_id, expires_at = session_state(session_key)
    if user_id != str(user.pk) or expires_at is None:
        return AnonymousUser(), None
    return user, expires_at


class SessionUserMiddleware:
    """Sets ``scope["user"]`` (``AnonymousUser`` without a valid session), ``scope["session_key"]``
    and ``scope["session_expires_at"]``.

    A scope that already names a user (a test's ``WebsocketCommunicator``) is passed on as it is.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if "user" not in scope:
            key = session_key_of(scope)
            user, expires_at = (AnonymousUser(), None)
            if key:
                user, expires_at = await database_sync_to_async(signed_in)(key)
            scope = {
                **scope,
                "user": user,
                "session_key": key if expires_at else "",
                "session_expires_at": expires_at,
            }
        return await self.inner(scope, receive, send)
