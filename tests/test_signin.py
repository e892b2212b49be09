"""Signing in with VoIPBIN credentials (against the simulator over real sockets), and signing out.

Personas come from the simulator's demo accounts: ``manager`` (VoIPBIN manager →
supervisor here), ``admin`` (VoIPBIN admin), ``agent1`` (a plain agent), all
with ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from channels.db import database_sync_to_async
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.shortcuts import resolve_url
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Role, User
from dashboard.signin import SignInRefused, sign_in
from dashboard.simulator.accounts import (
    DEMO_ADMIN_ID,
    DEMO_AGENT1_ID,
    DEMO_CUSTOMER_ID,
    DEMO_MANAGER_ID,
    DEMO_PASSWORD,
)
from dashboard.voipbin.rest import InvalidCredentials, token_expiry
from dashboard.voipbin.topics import Permission

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/login/"


@pytest.fixture
def voipbin(sim, settings):
    """The simulator as the VoIPBIN the dashboard signs in with."""
    settings.VOIPBIN_BASE_URL = sim.url
    return sim


@pytest.fixture
def fast_hashing(settings):
    """Tests that give someone a local password need not pay for a real password hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def misbehaving_voipbin(settings):
    """A local HTTP server answering ``/auth/login`` with ``state["status"]``, or not at all when it hangs."""
    state = {"status": 503, "hang": False}

    async def handler(request: web.Request) -> web.StreamResponse:
        if state["hang"]:
            await asyncio.sleep(5)
        body = {"error": {"status": "UNAVAILABLE", "reason": "TEST", "message": "maintenance window"}}
        return web.json_response(body, status=state["status"])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    settings.VOIPBIN_BASE_URL = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield state
    await runner.cleanup()


async def post_login(
    client: AsyncClient, username: str, password: str = DEMO_PASSWORD, *, next_url: str = "", query: str = ""
):
    data = {"username": username, "password": password} | ({"next": next_url} if next_url else {})
    return await client.post(LOGIN + query, data)


async def session_user_pk(client: AsyncClient) -> str | None:
    session = await client.asession()
    return await session.aget(SESSION_KEY)


# --- signing in --------------------------------------------------------------------------------


async def test_login_page_shows_an_accessible_form():
    response = await AsyncClient().get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html
    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html
    assert "csrfmiddlewaretoken" in html
    assert 'role="alert"' not in html


async def test_manager_signs_in_as_supervisor_with_identity_from_me(voipbin):
    client = AsyncClient()
    response = await post_login(client, "manager")
    assert response.status_code == 302
    assert response["Location"] == resolve_url("calls")
    user = await User.objects.aget(username="manager")
    assert user.agent_id == DEMO_MANAGER_ID
    assert user.customer_id == DEMO_CUSTOMER_ID
    assert user.permission == Permission.MANAGER
    assert user.role == Role.SUPERVISOR
    assert (user.first_name, user.last_name) == ("Lee", "Morgan")
    assert not user.has_usable_password()
    assert user.voipbin_token
    assert await session_user_pk(client) == str(user.pk)


@pytest.mark.parametrize(
    ("username", "agent_id", "role"),
    [("agent1", DEMO_AGENT1_ID, Role.AGENT), ("admin", DEMO_ADMIN_ID, Role.ADMIN)],
)
async def test_role_follows_voipbin_permission(voipbin, username, agent_id, role):
    user = await sign_in(username=username, password=DEMO_PASSWORD)
    assert user.agent_id == agent_id
    assert user.role == role
    assert user.is_supervisor == (role == Role.ADMIN)


async def test_second_sign_in_updates_the_same_user_and_clears_a_rejection(voipbin):
    first = await sign_in(username="agent1", password=DEMO_PASSWORD)
    await User.objects.filter(pk=first.pk).aupdate(
        token_rejected_at=datetime.now(UTC), permission=0, first_name="Stale"
    )
    second = await sign_in(username="agent1", password=DEMO_PASSWORD)
    assert second.pk == first.pk
    assert await User.objects.filter(agent_id=DEMO_AGENT1_ID).acount() == 1
    fresh = await User.objects.aget(pk=first.pk)
    assert fresh.token_rejected_at is None
    assert fresh.permission == Permission.AGENT
    assert fresh.first_name == "Jamie"
    assert fresh.voipbin_token == second.voipbin_token != first.voipbin_token
    assert not fresh.voipbin_session_expired


async def test_sign_in_removes_a_local_password(voipbin, fast_hashing):
    user = await sign_in(username="agent1", password=DEMO_PASSWORD)
    user.set_password("local-secret-123")
    await user.asave()
    await sign_in(username="agent1", password=DEMO_PASSWORD)
    assert not (await User.objects.aget(pk=user.pk)).has_usable_password()


async def test_a_local_account_with_the_same_username_is_not_taken_over(voipbin, fast_hashing):
    local = await User.objects.acreate_user("admin", password="local-admin-password", is_superuser=True)
    response = await post_login(AsyncClient(), "admin")
    assert response.status_code == 200
    assert "belongs to another account" in response.content.decode()
    local = await User.objects.aget(pk=local.pk)
    assert local.agent_id == ""
    assert local.voipbin_token == ""
    assert local.has_usable_password()
    with pytest.raises(SignInRefused):
        await sign_in(username="admin", password=DEMO_PASSWORD)


async def test_a_disabled_user_cannot_sign_in(voipbin):
    user = await sign_in(username="agent1", password=DEMO_PASSWORD)
    await User.objects.filter(pk=user.pk).aupdate(is_active=False, voipbin_token="")
    client = AsyncClient()
    response = await post_login(client, "agent1")
    assert response.status_code == 200
    assert "disabled" in response.content.decode()
    assert await session_user_pk(client) is None
    assert (await User.objects.aget(pk=user.pk)).voipbin_token == ""


async def test_wrong_password_rerenders_the_form_and_creates_nobody(voipbin):
    client = AsyncClient()
    response = await post_login(client, "manager", "not-the-password")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Wrong username or password" in html
    assert 'value="manager"' in html
    assert "not-the-password" not in html
    assert not await User.objects.aexists()
    assert await session_user_pk(client) is None
    with pytest.raises(InvalidCredentials):
        await sign_in(username="manager", password="not-the-password")


async def test_empty_fields_are_form_errors_without_asking_voipbin(settings, closed_port):
    settings.VOIPBIN_BASE_URL = f"http://127.0.0.1:{closed_port}"
    response = await post_login(AsyncClient(), "", "")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert "cannot be reached" not in html


async def test_unreachable_voipbin_is_explained_on_the_form(settings, closed_port):
    settings.VOIPBIN_BASE_URL = f"http://127.0.0.1:{closed_port}"
    client = AsyncClient()
    response = await post_login(client, "manager")
    assert response.status_code == 200
    assert "VoIPBIN cannot be reached right now (" in response.content.decode()
    assert not await User.objects.aexists()
    assert await session_user_pk(client) is None


async def test_voipbin_server_error_is_explained_on_the_form(misbehaving_voipbin):
    response = await post_login(AsyncClient(), "manager")
    assert response.status_code == 200
    assert "VoIPBIN cannot be reached right now (maintenance window)" in response.content.decode()


async def test_voipbin_timeout_is_explained_on_the_form(misbehaving_voipbin, settings):
    misbehaving_voipbin["hang"] = True
    settings.VOIPBIN_HTTP_TIMEOUT = 0.2
    response = await post_login(AsyncClient(), "manager")
    assert response.status_code == 200
    assert "VoIPBIN cannot be reached right now (no answer within 0.2 seconds)" in response.content.decode()


async def test_login_is_csrf_protected(voipbin):
    client = AsyncClient(enforce_csrf_checks=True)
    response = await post_login(client, "manager")
    assert response.status_code == 403
    assert not await User.objects.aexists()


# --- where sign-in leads -----------------------------------------------------------------------


async def test_safe_next_is_followed(voipbin):
    page = await AsyncClient().get(LOGIN + "?next=/calls/%3Fq%3D1")
    assert 'name="next" value="/calls/?q=1"' in page.content.decode()
    response = await post_login(AsyncClient(), "agent1", next_url="/somewhere/?q=1")
    assert response.status_code == 302
    assert response["Location"] == "/somewhere/?q=1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
async def test_unsafe_next_is_ignored(voipbin, target):
    page = await AsyncClient().get(LOGIN, {"next": target})
    assert "evil.example" not in page.content.decode()
    response = await post_login(AsyncClient(), "agent1", next_url=target)
    assert response.status_code == 302
    assert response["Location"] == resolve_url("calls")


# --- the token at rest and in output ---------------------------------------------------------


def raw_token_column(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT voipbin_token FROM dashboard_user WHERE id = %s", [pk])
        return cursor.fetchone()[0]


async def test_token_is_encrypted_at_rest_and_never_shown_or_logged(voipbin, caplog):
    caplog.set_level(logging.DEBUG)
    client = AsyncClient()
    response = await post_login(client, "manager", query="?next=/login/")
    user = await User.objects.aget(username="manager")
    token = user.voipbin_token
    assert token.count(".") == 2  # a JWT, decrypted by the field
    raw = await database_sync_to_async(raw_token_column)(user.pk)
    assert raw
    assert token not in raw
    assert token.split(".")[1] not in raw  # not even the claims part
    page = await client.get(response["Location"])
    assert page.status_code == 200
    assert token not in page.content.decode()
    assert token not in caplog.text
    assert "signed in" in caplog.text  # the sign-in was logged, just not the token


async def test_token_expiry_comes_from_the_jwt_expire_claim(voipbin):
    before = datetime.now(UTC)
    user = await sign_in(username="manager", password=DEMO_PASSWORD)
    assert user.token_expires_at == token_expiry(user.voipbin_token)
    lifetime = timedelta(seconds=voipbin.config.token_lifetime)
    assert abs(user.token_expires_at - (before + lifetime)) < timedelta(seconds=5)
    assert not user.voipbin_session_expired


async def test_session_counts_as_expired_after_expiry_or_rejection(voipbin):
    user = await sign_in(username="agent1", password=DEMO_PASSWORD)
    assert not user.voipbin_session_expired
    user.token_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert user.voipbin_session_expired
    user.token_expires_at = token_expiry(voipbin.issue_token("agent1"))
    user.token_rejected_at = datetime.now(UTC)
    assert user.voipbin_session_expired


# --- signing out -------------------------------------------------------------------------------


async def test_logout_is_post_only(voipbin):
    client = AsyncClient()
    await post_login(client, "agent1")
    response = await client.get("/logout/")
    assert response.status_code == 405
    assert await session_user_pk(client) is not None


async def test_logout_ends_the_live_session_then_the_django_session(voipbin, monkeypatch):
    ended = []

    async def end_user_session(user_pk: int) -> None:
        ended.append((user_pk, await session_user_pk(client)))

    monkeypatch.setattr("dashboard.signin.end_user_session", end_user_session)
    client = AsyncClient()
    await post_login(client, "agent1")
    user = await User.objects.aget(username="agent1")
    response = await client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert ended == [(user.pk, str(user.pk))]  # called while still signed in
    assert await session_user_pk(client) is None
    await user.arefresh_from_db()
    assert user.voipbin_token == ""  # no credentials stay at rest after sign-out
    assert user.voipbin_session_expired


async def test_logout_signs_out_even_when_ending_the_live_session_fails(voipbin, monkeypatch):
    async def broken(user_pk: int) -> None:
        raise RuntimeError("relay down")

    monkeypatch.setattr("dashboard.signin.end_user_session", broken)
    client = AsyncClient()
    await post_login(client, "agent1")
    response = await client.post("/logout/")
    assert response.status_code == 302
    assert await session_user_pk(client) is None


async def test_signing_in_after_a_refused_token_ends_the_dead_sessions(voipbin, monkeypatch):
    ended = []

    async def end_user_session(user_pk: int) -> None:
        ended.append(user_pk)

    monkeypatch.setattr("dashboard.signin.end_user_session", end_user_session)
    client = AsyncClient()
    await post_login(client, "manager")
    assert ended == []  # a first sign-in has nothing to end
    user = await User.objects.aget(username="manager")
    user.token_rejected_at = timezone.now()
    await user.asave()
    await post_login(client, "manager")
    assert ended == [user.pk]
    await user.arefresh_from_db()
    assert user.token_rejected_at is None
