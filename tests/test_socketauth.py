"""The browser socket's handshake: the session cookie's user, checked as Django checks a request's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from dashboard.models import User
from dashboard.socketauth import SessionUserMiddleware

pytestmark = pytest.mark.django_db(transaction=True)


async def resolved(cookie: str | None, **scope: Any) -> dict[str, Any]:
    """The scope the inner application gets for a handshake sending ``cookie``."""
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)

    headers = [(b"origin", b"http://127.0.0.1:8000")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    await SessionUserMiddleware(inner)({"type": "websocket", "headers": headers, **scope}, None, None)
    return seen


@pytest.fixture
def signed_in(client) -> tuple[User, str]:
    """A user signed in through Django's own login, and the session cookie the browser holds."""
    user = User.objects.create_user("supervisor1", password="a long password")
    client.force_login(user)
    return user, client.cookies[settings.SESSION_COOKIE_NAME].value


async def test_the_session_cookie_names_the_user_and_when_the_session_ends(signed_in):
    user, key = signed_in
    scope = await resolved(f"csrftoken=x; {settings.SESSION_COOKIE_NAME}={key}; theme=dark")
    assert scope["user"].pk == user.pk
    assert scope["session_key"] == key
    stored = await Session.objects.aget(session_key=key)
    assert scope["session_expires_at"] == stored.expire_date


async def test_an_expired_session_is_anonymous(signed_in):
    _, key = signed_in
    await Session.objects.filter(session_key=key).aupdate(expire_date=timezone.now() - timedelta(seconds=1))
    scope = await resolved(f"{settings.SESSION_COOKIE_NAME}={key}")
    assert not scope["user"].is_authenticated
    assert scope["session_expires_at"] is None


@pytest.mark.parametrize("cookie", [None, "theme=dark", f"{settings.SESSION_COOKIE_NAME}=not-a-session"])
async def test_no_session_is_anonymous(cookie):
    scope = await resolved(cookie)
    assert not scope["user"].is_authenticated
    assert scope["session_key"] == ""
    assert scope["session_expires_at"] is None


async def test_a_session_from_before_a_password_change_is_refused_and_ended(signed_in):
    user, key = signed_in
    user.set_password("another long password")
    await user.asave()

    scope = await resolved(f"{settings.SESSION_COOKIE_NAME}={key}")

    assert not scope["user"].is_authenticated
    assert not await SessionStore(key).aexists(key)  # flushed, as Django does for a request


async def test_a_session_without_its_hash_is_refused(signed_in):
    _, key = signed_in
    session = SessionStore(key)
    await session.apop(HASH_SESSION_KEY)
    await session.asave()
    assert not (await resolved(f"{settings.SESSION_COOKIE_NAME}={key}"))["user"].is_authenticated


async def test_an_inactive_user_is_anonymous(signed_in):
    user, key = signed_in
    user.is_active = False
    await user.asave()
    assert not (await resolved(f"{settings.SESSION_COOKIE_NAME}={key}"))["user"].is_authenticated


async def test_a_user_already_in_the_scope_is_kept(signed_in):
    _, key = signed_in
    scope = await resolved(f"{settings.SESSION_COOKIE_NAME}={key}", user="placed by a test")
    assert scope["user"] == "placed by a test"
    assert "session_key" not in scope
