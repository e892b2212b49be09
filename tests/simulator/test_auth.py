"""Login, the JWT and the four ways VoIPBIN takes credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER,
    DEMO_CUSTOMER_ID,
    DEMO_MANAGER_ID,
    OTHER_ACCESS_KEY,
)
from dashboard.simulator.server import SimServer
from dashboard.simulator.timestamps import parse_time
from tests.simulator.helpers import FIXED_TIME, TIMESTAMP, login


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert error["reason"] == "INVALID_CREDENTIALS"
    assert error["message"]
    assert error["request_id"]


async def test_login_returns_a_jwt_with_the_agent_and_a_string_expire_claim(sim):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post("/auth/login", json={"username": "manager", "password": "demo-password"})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "manager"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["agent"] == {
        "id": DEMO_MANAGER_ID,
        "customer_id": DEMO_CUSTOMER_ID,
        "username": "manager",
        "permission": 64,
    }
    assert "exp" not in claims
    assert isinstance(claims["expire"], str)
    lifetime = parse_time(claims["expire"]) - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)


async def test_the_expire_claim_always_has_six_fractional_digits(sim):
    """VoIPBIN compares ``expire`` as a string against its six-digit clock, so the form matters.

    A stamp whose microseconds end in zero is where a trimmed form shows; one in ten does.
    """
    expires = []
    for _ in range(500):
        claims = jwt.decode(sim.issue_token("agent1"), options={"verify_signature": False})
        expires.append(claims["expire"])
        if parse_time(claims["expire"]).microsecond % 10 == 0:
            break
    assert parse_time(expires[-1]).microsecond % 10 == 0
    assert all(FIXED_TIME.fullmatch(expire) for expire in expires), expires[-1]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "manager", "password": "wrong"},
        {"username": "nobody", "password": "demo-password"},
        {"username": "manager"},
        "not an object",
    ],
)
async def test_failed_login_is_400_with_an_empty_body(sim, body):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post("/auth/login", json=body)
    assert response.status_code == 400
    assert response.content == b""


async def test_every_credential_carrier_is_accepted(sim):
    """The three token carriers reach /me as agent1; the access key (refused by /me) lists Acme's agents."""
    token = await login(sim, "agent1")
    carriers = [
        {"params": {"token": token}},
        {"cookies": {"token": token}},
        {"headers": {"Authorization": f"Bearer {token}"}},
    ]
    for carrier in carriers:
        async with httpx.AsyncClient(base_url=sim.url, **carrier) as http:
            response = await http.get("/v1.0/me")
        assert response.status_code == 200, carrier
        assert (response.json()["id"], response.json()["customer_id"]) == (DEMO_AGENT1_ID, DEMO_CUSTOMER_ID)
    async with httpx.AsyncClient(base_url=sim.url, params={"accesskey": DEMO_ACCESS_KEY}) as http:
        response = await http.get("/v1.0/agents")
    assert response.status_code == 200
    assert {agent["id"] for agent in response.json()["result"]} == {
        agent.id for agent in DEMO_CUSTOMER.agents
    }


@pytest.mark.parametrize(
    "carrier",
    [
        {},
        {"params": {"token": "garbage"}},
        {"params": {"accesskey": "not-a-key"}},
        {"headers": {"Authorization": "Bearer garbage"}},
        {
            "params": {
                "token": jwt.encode(
                    {"agent": {}, "expire": "2099-01-01T00:00:00.000000Z"},
                    "another-signing-key-of-32-bytes-or-more",
                )
            }
        },
    ],
)
async def test_missing_or_bad_credentials_get_the_401_envelope(sim, carrier):
    async with httpx.AsyncClient(base_url=sim.url, **carrier) as http:
        response = await http.get("/v1.0/me")
    assert_unauthenticated(response)


async def test_expired_token_is_refused_on_rest_and_on_the_upgrade(sim):
    token = sim.issue_token("manager", lifetime=-1)
    async with httpx.AsyncClient(base_url=sim.url, params={"token": token}) as http:
        assert_unauthenticated(await http.get("/v1.0/me"))
        assert_unauthenticated(await http.get("/v1.0/calls"))
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{sim.ws_url}?token={token}", open_timeout=2)
    assert refused.value.response.status_code == 401
    assert b"INVALID_CREDENTIALS" in refused.value.response.body


async def test_configured_token_lifetime_applies_to_logins():
    async with SimServer(scenario=False, token_lifetime=-1) as short_lived:
        token = await login(short_lived, "agent1")
        async with httpx.AsyncClient(base_url=short_lived.url, params={"token": token}) as http:
            assert_unauthenticated(await http.get("/v1.0/me"))


async def test_me_describes_the_agent(sim):
    token = await login(sim, "agent2")
    async with httpx.AsyncClient(base_url=sim.url, params={"token": token}) as http:
        me = (await http.get("/v1.0/me")).json()
    assert me["username"] == "agent2"
    assert me["customer_id"] == DEMO_CUSTOMER_ID
    assert me["permission"] == 16
    assert set(me) >= {"id", "name", "status", "tag_ids", "addresses", "tm_create"}
    assert "tm_update" not in me  # never updated: VoIPBIN's agent omits a null tm_update
    assert TIMESTAMP.fullmatch(me["tm_create"])


async def test_me_carries_tm_update_once_the_agent_has_changed(sim):
    token = await login(sim, "agent2")
    async with httpx.AsyncClient(base_url=sim.url, params={"token": token}) as http:
        changed = (await http.put(f"/v1.0/agents/{DEMO_AGENT2_ID}/status", json={"status": "away"})).json()
        me = (await http.get("/v1.0/me")).json()
    assert me["status"] == "away"
    assert TIMESTAMP.fullmatch(me["tm_update"])
    assert me["tm_update"] == changed["tm_update"]
    assert parse_time(me["tm_update"]) > parse_time(me["tm_create"])


@pytest.mark.parametrize("key", [DEMO_ACCESS_KEY, OTHER_ACCESS_KEY])
async def test_me_with_an_access_key_is_403_agent_auth_required(sim, key):
    async with httpx.AsyncClient(base_url=sim.url, params={"accesskey": key}) as http:
        response = await http.get("/v1.0/me")
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["status"], error["reason"]) == ("PERMISSION_DENIED", "AGENT_AUTH_REQUIRED")
    assert error["message"]
    assert error["request_id"]
    assert set(response.json()) == {"error"}  # no customer or permission leaks out beside it
