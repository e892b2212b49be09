"""The REST client against the simulator, and its retry rules against a flaky real server."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_CUSTOMER_ID,
    DEMO_PASSWORD,
    DEMO_SMS_NUMBER,
    OTHER_ACCESS_KEY,
)
from dashboard.voipbin.rest import (
    BadRequest,
    Forbidden,
    InvalidCredentials,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    Unauthenticated,
    Unreachable,
    VoipbinClient,
    VoipbinTimeout,
)


async def control(sim, path: str, body: dict | None = None):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/{path}", json=body or {})
        response.raise_for_status()
        return response.json()


async def login_client(sim, username: str) -> VoipbinClient:
    async with VoipbinClient(sim.url) as anonymous:
        result = await anonymous.login(username, DEMO_PASSWORD)
    return VoipbinClient(sim.url, token=result.token)


async def test_login_returns_token_with_expiry_and_me_describes_the_agent(sim):
    async with VoipbinClient(sim.url) as client:
        result = await client.login("manager", DEMO_PASSWORD)
    assert result.username == "manager"
    assert result.expire is not None
    assert result.expire > datetime.now(UTC)
    async with VoipbinClient(sim.url, token=result.token) as client:
        me = await client.me()
    assert me["username"] == "manager"
    assert me["customer_id"] == DEMO_CUSTOMER_ID
    assert me["permission"] & 64


async def test_wrong_password_is_invalid_credentials(sim):
    async with VoipbinClient(sim.url) as client:
        with pytest.raises(InvalidCredentials, match="Wrong username or password"):
            await client.login("manager", "wrong")


async def test_bad_token_is_unauthenticated_with_the_envelope_message(sim):
    async with VoipbinClient(sim.url, token="garbage") as client:
        with pytest.raises(Unauthenticated) as info:
            await client.me()
    assert info.value.status_code == 401
    assert info.value.reason == "INVALID_CREDENTIALS"


async def test_lists_follow_pages_newest_first(sim):
    created = [await control(sim, "calls", {"customer_id": DEMO_CUSTOMER_ID}) for _ in range(7)]
    async with VoipbinClient(sim.url, accesskey=DEMO_ACCESS_KEY) as client:
        calls = [c async for c in client.iter_list("calls", page_size=3)]
        limited = await client.list("calls", limit=2)
    ids = [c["id"] for c in calls]
    assert [c["id"] for c in reversed(created)] == ids[: len(created)]
    assert len(ids) == len(set(ids))
    stamps = [c["tm_create"] for c in calls]
    assert stamps == sorted(stamps, reverse=True)
    assert [c["id"] for c in limited] == ids[:2]


async def test_lists_are_scoped_to_the_callers_customer(sim):
    await control(sim, "calls", {"customer_id": DEMO_CUSTOMER_ID})
    async with VoipbinClient(sim.url, accesskey=OTHER_ACCESS_KEY) as client:
        calls = await client.list("calls")
    assert all(c["customer_id"] != DEMO_CUSTOMER_ID for c in calls)


async def test_agent_may_not_list(sim):
    client = await login_client(sim, "agent1")
    async with client:
        with pytest.raises(Forbidden):
            await client.list("calls")


async def test_unknown_list_is_a_programming_error(sim):
    async with VoipbinClient(sim.url, accesskey=DEMO_ACCESS_KEY) as client:
        with pytest.raises(ValueError, match="unknown list"):
            await client.list("spaceships")


async def test_send_message_then_402_and_400(sim):
    async with VoipbinClient(sim.url, accesskey=DEMO_ACCESS_KEY) as client:
        sent = await client.send_message(source=DEMO_SMS_NUMBER, destinations=["+15557770001"], text="hello")
        assert sent["direction"] == "outbound"
        assert sent["text"] == "hello"
        await control(sim, "balance", {"customer_id": DEMO_CUSTOMER_ID, "insufficient": True})
        with pytest.raises(PaymentRequired):
            await client.send_message(source=DEMO_SMS_NUMBER, destinations=["+15557770001"], text="again")
        await control(sim, "balance", {"customer_id": DEMO_CUSTOMER_ID, "insufficient": False})
        with pytest.raises(BadRequest):
            await client.send_message(source=DEMO_SMS_NUMBER, destinations=[], text="nobody")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        recorded = (await http.get("/_sim/sent")).json()
    assert [m["text"] for m in _sent_bodies(recorded)] == ["hello"]


def _sent_bodies(recorded) -> list[dict]:
    items = recorded["result"] if isinstance(recorded, dict) else recorded
    return [item.get("body", item) for item in items]


async def test_hangup_needs_supervisor_and_an_own_call(sim):
    call = await control(sim, "calls", {"customer_id": DEMO_CUSTOMER_ID})
    agent = await login_client(sim, "agent1")
    async with agent:
        with pytest.raises(Forbidden):
            await agent.hangup_call(call["id"])
    async with VoipbinClient(sim.url, accesskey=OTHER_ACCESS_KEY) as outsider:
        with pytest.raises(NotFound):
            await outsider.hangup_call(call["id"])
    manager = await login_client(sim, "manager")
    async with manager:
        answer = await manager.hangup_call(call["id"])
    assert answer["id"] == call["id"]


async def test_agent_sets_own_status_but_not_anothers(sim):
    agent = await login_client(sim, "agent1")
    async with agent:
        me = await agent.me()
        assert (await agent.set_agent_status(me["id"], "away"))["status"] == "away"
        with pytest.raises(BadRequest):
            await agent.set_agent_status(me["id"], "sleeping")
    other = await login_client(sim, "agent2")
    async with other:
        with pytest.raises(Forbidden):
            await other.set_agent_status(me["id"], "available")


# --- retry rules, against a real local server that misbehaves on purpose ------------------------


@pytest.fixture
async def flaky():
    """A server whose first ``failures`` answers are ``status``; it counts requests per path.

    A 429 carries ``retry_after``; with ``garbage`` set, the answers after the failures are a 200
    with that text, which is not the JSON object asked for.
    """
    state = {"failures": 2, "status": 503, "retry_after": "0", "garbage": None, "hits": {}}

    async def handler(request: web.Request) -> web.StreamResponse:
        hits = state["hits"]
        hits[request.path] = hits.get(request.path, 0) + 1
        if hits[request.path] <= state["failures"]:
            headers = {"Retry-After": state["retry_after"]} if state["status"] == 429 else {}
            body = {
                "error": {
                    "status": "UNAVAILABLE",
                    "reason": "TEST",
                    "message": "try later",
                    "request_id": "r1",
                }
            }
            return web.json_response(body, status=state["status"], headers=headers)
        if state["garbage"] is not None:
            return web.Response(text=state["garbage"], content_type="application/json")
        return web.json_response({"id": "ok", "result": [], "next_page_token": ""})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    state["url"] = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


async def test_get_is_retried_on_5xx_and_429(flaky):
    async with VoipbinClient(flaky["url"], accesskey="k", backoff=0.01) as client:
        assert (await client.me())["id"] == "ok"
        flaky["status"] = 429
        assert await client.list("calls") == []
    assert flaky["hits"] == {"/v1.0/me": 3, "/v1.0/calls": 3}


async def test_get_gives_up_after_the_retry_budget(flaky):
    flaky["failures"] = 10
    async with VoipbinClient(flaky["url"], accesskey="k", retries=2, backoff=0.01) as client:
        with pytest.raises(ServerError, match="try later") as info:
            await client.me()
    assert flaky["hits"]["/v1.0/me"] == 3
    assert info.value.attempts == 3
    flaky["status"] = 429
    flaky["hits"].clear()
    async with VoipbinClient(flaky["url"], accesskey="k", retries=1, backoff=0.01) as client:
        with pytest.raises(RateLimited):
            await client.me()


async def test_post_is_never_retried(flaky):
    async with VoipbinClient(flaky["url"], accesskey="k", backoff=0.01) as client:
        with pytest.raises(ServerError):
            await client.send_message(source="+1", destinations=["+2"], text="once")
        with pytest.raises(ServerError):
            await client.hangup_call("c1")
    assert flaky["hits"] == {"/v1.0/messages": 1, "/v1.0/calls/c1/hangup": 1}


async def test_post_opting_in_is_retried_while_refused_and_counts_its_attempts(flaky):
    async with VoipbinClient(flaky["url"], accesskey="k", backoff=0.01) as client:
        sent = await client.send_message(source="+1", destinations=["+2"], text="hi", retry_refusals=True)
        flaky.update(status=429, hits={})
        again = await client.send_message(source="+1", destinations=["+3"], text="hi", retry_refusals=True)
    assert (sent["id"], sent.attempts, again.attempts) == ("ok", 3, 3)
    assert flaky["hits"] == {"/v1.0/messages": 3}


async def test_post_waits_as_long_as_retry_after_says(flaky):
    """With a backoff of a millisecond, only the header can make the client wait a second."""
    flaky.update(status=429, failures=1, retry_after="1")
    loop = asyncio.get_running_loop()
    async with VoipbinClient(flaky["url"], accesskey="k", backoff=0.001) as client:
        started = loop.time()
        sent = await client.send_message(source="+1", destinations=["+2"], text="hi", retry_refusals=True)
    assert sent.attempts == 2
    assert loop.time() - started >= 0.99


async def test_a_retry_after_beyond_the_limit_fails_at_once(flaky):
    flaky.update(status=429, failures=1, retry_after="3600")
    async with VoipbinClient(flaky["url"], accesskey="k", max_retry_after=30) as client:
        with pytest.raises(RateLimited) as refused:
            await client.send_message(source="+1", destinations=["+2"], text="hi", retry_refusals=True)
        with pytest.raises(RateLimited):
            await client.me()
    assert (refused.value.retry_after, refused.value.attempts) == (3600, 1)
    assert flaky["hits"] == {"/v1.0/messages": 1, "/v1.0/me": 1}


async def test_post_opting_in_gives_up_after_the_retry_budget(flaky):
    flaky["failures"] = 10
    async with VoipbinClient(flaky["url"], accesskey="k", retries=2, backoff=0.01) as client:
        with pytest.raises(ServerError) as refused:
            await client.send_message(source="+1", destinations=["+2"], text="hi", retry_refusals=True)
    assert (refused.value.status_code, refused.value.attempts) == (503, 3)
    assert refused.value.outcome_unknown is False
    assert flaky["hits"] == {"/v1.0/messages": 3}


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_is_not_retried_on_server_errors_that_may_follow_the_work(flaky, status):
    flaky["status"] = status
    async with VoipbinClient(flaky["url"], accesskey="k", backoff=0.01) as client:
        with pytest.raises(ServerError) as failed:
            await client.send_message(source="+1", destinations=["+2"], text="hi", retry_refusals=True)
    assert (failed.value.status_code, failed.value.attempts) == (status, 1)
    assert flaky["hits"] == {"/v1.0/messages": 1}


@pytest.mark.parametrize("garbage", ["<html>sent?</html>", "[]"])
async def test_an_unreadable_success_is_not_retried_and_may_have_been_sent(flaky, garbage):
    flaky.update(failures=0, garbage=garbage)
    async with VoipbinClient(flaky["url"], accesskey="k", backoff=0.01) as client:
        with pytest.raises(ServerError, match=r"unreadable|not a message") as unreadable:
            await client.send_message(source="+1", destinations=["+2"], text="hi", retry_refusals=True)
    assert unreadable.value.outcome_unknown is True
    assert flaky["hits"] == {"/v1.0/messages": 1}


async def test_unreachable_and_timeout_are_typed():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    async with VoipbinClient(f"http://127.0.0.1:{closed_port}", retries=0) as client:
        with pytest.raises(Unreachable):
            await client.me()

    released = asyncio.Event()
    connections = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await released.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with VoipbinClient(f"http://127.0.0.1:{port}", timeout=0.2, backoff=0.01) as client:
            with pytest.raises(VoipbinTimeout, match="may or may not") as lost:
                await client.send_message(source="+1", destinations=["+2"], text="lost?", retry_refusals=True)
        assert (lost.value.attempts, lost.value.outcome_unknown) == (1, True)
        assert connections == 1  # opting in to retries never repeats a send whose answer was lost
    finally:
        released.set()
        server.close()
        await server.wait_closed()
