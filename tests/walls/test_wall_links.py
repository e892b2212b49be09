"""Wall display links: the token opens its wall and nothing else, is hashed at rest, and can be revoked."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from dashboard.models import Account, WallDisplay
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, OTHER_CUSTOMER_ID
from dashboard.voipbin.topics import Permission
from dashboard.walls import tokens
from tests.walls.helpers import issue_link

pytestmark = pytest.mark.django_db


def _user(username: str, *, permission: Permission, customer_id: str = DEMO_CUSTOMER_ID):
    return get_user_model().objects.create(
        username=username, customer_id=customer_id, agent_id=f"id-{username}", permission=int(permission)
    )


@pytest.fixture
def wall(account):
    return issue_link(account, name="Support floor")


def test_only_a_hash_of_the_token_is_stored(wall):
    display, token = wall
    stored = WallDisplay.objects.filter(pk=display.pk).values().get()
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored)
    assert len(token) >= 43  # 256 random bits


def test_wall_page_opens_without_a_session_and_sets_no_cookie(client, wall):
    _, token = wall
    response = client.get(f"/wall/{token}/")
    assert response.status_code == 200
    assert "Support floor" in response.content.decode()
    assert f'ws-connect="/ws/wall/{token}/"' in response.content.decode()
    assert response.cookies == {}
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/calls/", "/walls/", "/admin/", "/", "/messages/", "/rules/", "/queues/", "/agents/"]
)
def test_the_token_grants_nothing_else(client, wall, path):
    _, token = wall
    client.cookies["sessionid"] = token
    response = client.get(f"{path}?token={token}", HTTP_AUTHORIZATION=f"Bearer {token}")
    # Pages for signed-in users send the browser to sign in; public ones show nothing of the account.
    assert response.status_code in (302, 404) or "Support floor" not in response.content.decode()
    if response.status_code == 302:
        assert "/login/" in response["Location"] or "/admin/login/" in response["Location"]
    assert "Acme" not in response.content.decode()


def test_revoked_and_expired_links_show_that_they_are_not_valid(client, account, wall):
    display, token = wall
    tokens.revoke(display)
    assert client.get(f"/wall/{token}/").status_code == 404
    _, expired = tokens.issue(
        name="Old",
        account=account,
        panels=["queues"],
        rotation_seconds=10,
        expires_at=timezone.now() - timedelta(minutes=1),
        created_by=None,
    )
    response = client.get(f"/wall/{expired}/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert client.get("/wall/not-a-token/").status_code == 404


def test_disabled_account_closes_its_walls(client, account, wall):
    _, token = wall
    Account.objects.filter(pk=account.pk).update(enabled=False)
    assert client.get(f"/wall/{token}/").status_code == 404


def test_admin_creates_a_link_shown_once_and_revokes_it(client, account):
    admin = _user("acme-admin", permission=Permission.ADMIN)
    client.force_login(admin)
    response = client.post(
        "/walls/", {"name": "Lobby TV", "panels": ["queues"], "rotation_seconds": "20", "expires_at": ""}
    )
    assert response.status_code == 200
    display = WallDisplay.objects.get(name="Lobby TV")
    link = response.context["link"]
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert tokens.find_active(token) == display
    assert display.created_by == admin
    assert token not in client.get("/walls/").content.decode()  # shown once
    client.post(f"/walls/{display.pk}/revoke/")
    assert tokens.find_active(token) is None


def test_rotation_below_five_seconds_is_refused_with_a_reason(client, account):
    client.force_login(_user("acme-admin", permission=Permission.ADMIN))
    response = client.post("/walls/", {"name": "Too fast", "panels": ["queues"], "rotation_seconds": "1"})
    assert response.status_code == 400
    assert "greater than or equal to 5" in response.content.decode()
    assert not WallDisplay.objects.exists()


@pytest.mark.parametrize("permission", [Permission.AGENT, Permission.MANAGER])
def test_only_admins_manage_wall_links(client, account, permission):
    client.force_login(_user("someone", permission=permission))
    assert client.get("/walls/").status_code == 403
    assert (
        client.post("/walls/", {"name": "x", "panels": ["queues"], "rotation_seconds": "10"}).status_code
        == 403
    )


def test_another_customers_admin_cannot_revoke_acmes_wall(client, account, wall):
    display, token = wall
    Account.objects.create(
        name="Globex", customer_id=OTHER_CUSTOMER_ID, access_key="k", numbers=["+15555550151"]
    )
    client.force_login(_user("globex-admin", permission=Permission.ADMIN, customer_id=OTHER_CUSTOMER_ID))
    assert client.post(f"/walls/{display.pk}/revoke/").status_code == 404
    assert tokens.find_active(token) is not None
    assert "Support floor" not in client.get("/walls/").content.decode()


def test_operators_revoke_links_from_the_django_admin_and_staff_see_only_their_own(client, account, wall):
    display, token = wall
    globex = Account.objects.create(
        name="Globex", customer_id=OTHER_CUSTOMER_ID, access_key="k", numbers=["+1"]
    )
    theirs, _ = tokens.issue(
        name="Globex lobby",
        account=globex,
        panels=["queues"],
        rotation_seconds=10,
        expires_at=None,
        created_by=None,
    )
    staff = _user("globex-staff", permission=Permission.ADMIN, customer_id=OTHER_CUSTOMER_ID)
    staff.is_staff = True
    staff.save()
    from django.contrib.auth.models import Permission as DjangoPermission

    staff.user_permissions.add(*DjangoPermission.objects.filter(codename__endswith="walldisplay"))
    client.force_login(staff)
    listing = client.get("/admin/dashboard/walldisplay/").content.decode()
    assert "Globex lobby" in listing
    assert "Support floor" not in listing
    assert "Acme" not in listing  # not even as a filter choice
    assert client.get("/admin/dashboard/walldisplay/add/").status_code == 403

    operator = get_user_model().objects.create_superuser("op", password="x")
    client.force_login(operator)
    client.post("/admin/dashboard/walldisplay/", {"action": "revoke", "_selected_action": [display.pk]})
    assert tokens.find_active(token) is None
    assert WallDisplay.objects.get(pk=theirs.pk).revoked_at is None
