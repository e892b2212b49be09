"""The ``/_sim/`` test controls, driven over HTTP as other test suites drive them."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_AGENT1_ID,
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_CUSTOMER_ID,
    OTHER_SMS_NUMBER,
    SUPPORT_QUEUE_ID,
)
from dashboard.simulator.server import SimServer
from dashboard.simulator.timestamps import parse_time
from tests.simulator.helpers import (
    UNOWNED_CALL_ZEROS,
    ZERO_ID,
    agent_topic,
    control,
    customer_topic,
    expect_dropped,
    frames_until,
    login,
    next_frame,
    open_socket,
    subscribed,
    until,
)

A_CALLS = customer_topic(DEMO_CUSTOMER_ID, "call")
A_CALL_PREFIX = customer_topic(DEMO_CUSTOMER_ID, "call", None)
CALL_ID = "0b4f3f9e-7d6a-4c1e-9a55-3d2f1e0c9b8a"


async def test_controls_are_404_unless_enabled():
    async with SimServer(scenario=False) as plain, httpx.AsyncClient(base_url=plain.url) as http:
        for response in (await http.get("/_sim/stats"), await http.post("/_sim/drop", json={})):
            assert response.status_code == 404
            assert response.json()["error"]["status"] == "NOT_FOUND"


async def test_inject_creates_then_merges_a_resource_stamping_tm_update_on_the_merge(sim):
    async with subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "call", CALL_ID)) as ws:
        created = await control(
            sim, "inject", {"resource": "call", "data": {"id": CALL_ID, "status": "ringing"}}
        )
        merged = await control(
            sim, "inject", {"resource": "call", "data": {"id": CALL_ID, "status": "progressing"}}
        )
        first, second = await frames_until(ws, lambda frame: frame["status"] == "progressing")
    assert created["customer_id"] == DEMO_CUSTOMER_ID
    assert "tm_update" not in created  # VoIPBIN leaves it null until the first update
    assert merged["tm_create"] == created["tm_create"]
    assert parse_time(merged["tm_update"]) > parse_time(created["tm_create"])
    zeros = {**UNOWNED_CALL_ZEROS, "flow_id": ZERO_ID}
    assert (first, second) == ({**zeros, **created}, {**zeros, **merged})


@pytest.mark.parametrize("sim", ["legacy"], indirect=True)
async def test_inject_keeps_a_given_tm_update_and_event_name(sim):
    async with subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "call", CALL_ID)) as ws:
        stale = "2020-01-01T00:00:00.000000Z"
        body = {
            "resource": "call",
            "data": {"id": CALL_ID, "status": "hangup", "tm_update": stale},
            "event": "call_deleted",
        }
        await control(sim, "inject", body)
        frame = await next_frame(ws)
    assert frame["type"] == "call_deleted"
    assert frame["data"]["tm_update"] == stale


async def test_inject_raw_and_binary_frames_reach_every_socket_verbatim(sim):
    async with subscribed(sim) as ws:
        answer = await control(sim, "inject", {"raw": "{not json"})
        await control(sim, "inject", {"binary_base64": base64.b64encode(b"\x00\x01\x02").decode()})
        assert answer == {"sent_to": 1}
        assert await asyncio.wait_for(ws.recv(), 2) == "{not json"
        assert await asyncio.wait_for(ws.recv(), 2) == b"\x00\x01\x02"


async def test_calls_control_creates_incoming_outgoing_and_queued_calls(sim):
    incoming = await control(sim, "calls", {})
    outgoing = await control(
        sim, "calls", {"direction": "outgoing", "owner_id": DEMO_AGENT1_ID, "destination": "+12025550123"}
    )
    queued = await control(sim, "calls", {"queue_id": SUPPORT_QUEUE_ID, "id": CALL_ID})
    assert (incoming["direction"], incoming["status"], incoming["customer_id"]) == (
        "incoming",
        "ringing",
        DEMO_CUSTOMER_ID,
    )
    assert incoming["tm_ringing"] == incoming["tm_create"]
    assert (outgoing["status"], outgoing["owner_type"], outgoing["owner_id"]) == (
        "dialing",
        "agent",
        DEMO_AGENT1_ID,
    )
    assert outgoing["destination"] == {"type": "tel", "target": "+12025550123"}
    assert queued["id"] == CALL_ID
    assert sim.state.get("queue", SUPPORT_QUEUE_ID)["total_incoming_count"] == 1
    async with httpx.AsyncClient(base_url=sim.url) as http:
        unknown_queue = await http.post("/_sim/calls", json={"queue_id": CALL_ID})
        bad_direction = await http.post("/_sim/calls", json={"direction": "sideways"})
    assert unknown_queue.status_code == 404
    assert bad_direction.status_code == 400


async def test_call_status_control_moves_a_call_and_stamps_it(sim):
    call = await control(sim, "calls", {})
    answered = await control(sim, f"calls/{call['id']}/status", {"status": "progressing"})
    ended = await control(
        sim,
        f"calls/{call['id']}/status",
        {"status": "hangup", "hangup_by": "remote", "hangup_reason": "busy"},
    )
    assert answered["tm_progressing"] == answered["tm_update"]
    assert (ended["status"], ended["hangup_by"], ended["hangup_reason"]) == ("hangup", "remote", "busy")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        missing = await http.post(f"/_sim/calls/{CALL_ID}/status", json={"status": "hangup"})
    assert missing.status_code == 404


async def test_sms_control_delivers_an_inbound_message(sim):
    async with subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "message", None)) as ws:
        fixed = "9a4c1d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
        message = await control(
            sim, "sms", {"source": "+12025550111", "text": "what are your hours?", "id": fixed}
        )
        other = await control(
            sim, "sms", {"source": "+12025550111", "text": "hi", "customer_id": OTHER_CUSTOMER_ID}
        )
        frame = await next_frame(ws)
    assert message["id"] == fixed
    assert (message["direction"], message["type"]) == ("inbound", "sms")
    assert message["targets"] == [
        {
            "destination": {"type": "tel", "target": DEMO_SMS_NUMBER},
            "status": "received",
            "parts": 1,
            "tm_update": message["tm_create"],
        }
    ]
    assert other["targets"][0]["destination"]["target"] == OTHER_SMS_NUMBER
    assert frame == {**message, "tm_update": None, "tm_delete": None}


async def test_sent_lists_accepted_messages_in_order_and_delete_clears_it(sim):
    body = {
        "source": {"type": "tel", "target": DEMO_SMS_NUMBER},
        "destinations": [{"type": "tel", "target": "+12025550123"}],
    }
    token = await login(sim, "agent1")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        first = await http.post("/v1.0/messages", params={"token": token}, json={**body, "text": "one"})
        await http.post("/v1.0/messages", params={"accesskey": DEMO_ACCESS_KEY}, json={**body, "text": "two"})
        sent = (await http.get("/_sim/sent")).json()["result"]
        cleared = await http.delete("/_sim/sent")
        after = (await http.get("/_sim/sent")).json()["result"]
    assert [(entry["body"]["text"], entry["agent_id"]) for entry in sent] == [
        ("one", DEMO_AGENT1_ID),
        ("two", None),
    ]
    assert sent[0]["message_id"] == first.json()["id"]
    assert cleared.status_code == 200
    assert after == []


async def test_drop_aborts_every_socket(sim):
    async with subscribed(sim) as first, subscribed(sim) as second:
        assert await control(sim, "drop") == {"dropped": 2}
        for ws in (first, second):
            closed = await expect_dropped(ws)
            assert closed.rcvd is None
    await until(lambda: not sim.stats()["open_connections"])


@pytest.mark.parametrize("status", [401, 403, 429, 503])
async def test_refuse_answers_every_upgrade_with_the_status_and_counts_the_attempts(sim, status):
    await control(sim, "refuse", {"status": status})
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(sim, accesskey=DEMO_ACCESS_KEY)
        assert refused.value.response.status_code == status
        assert json.loads(refused.value.response.body)["error"]["message"]
    await control(sim, "refuse", {"status": None})
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY):
        pass
    stats = sim.stats()
    assert (stats["upgrade_attempts"], stats["connections_accepted"]) == (3, 1)


async def test_refuse_rejects_statuses_it_does_not_simulate(sim):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post("/_sim/refuse", json={"status": 500})
    assert response.status_code == 400


async def test_accept_then_close_upgrades_and_closes_at_once(sim):
    await control(sim, "accept_then_close", {"enabled": True})
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws:
        closed = await expect_dropped(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1001
    await control(sim, "accept_then_close", {"enabled": False})
    async with subscribed(sim, A_CALLS):
        pass  # held() inside proves the socket stayed open
    assert sim.stats()["connections_accepted"] == 2


async def test_stall_stops_pongs_and_frames_until_lifted(sim):
    async with subscribed(sim, A_CALL_PREFIX) as ws:
        await asyncio.wait_for(await ws.ping(), 1)
        await control(sim, "stall", {"enabled": True})
        pong = await ws.ping()
        call = await control(sim, "calls", {})
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pong), 0.2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.05)
        await control(sim, "stall", {"enabled": False})
        assert (await next_frame(ws))["id"] == call["id"]
        await asyncio.wait_for(await ws.ping(), 1)


async def test_slow_delays_each_outgoing_frame(sim):
    async with subscribed(sim, A_CALL_PREFIX) as ws:
        answer = await control(sim, "slow", {"delay": 0.05})
        assert answer["slow"] == 0.05
        loop = asyncio.get_running_loop()
        started = loop.time()
        calls = [sim.create_call()["id"], sim.create_call()["id"]]
        received = [(await next_frame(ws))["id"] for _ in range(4)]  # a 3-part prefix: each twice
        assert loop.time() - started >= 0.2
    assert received == [calls[0], calls[0], calls[1], calls[1]]


async def test_dialect_switches_the_frames_of_open_sockets(sim):
    async with subscribed(sim, A_CALLS, A_CALL_PREFIX) as ws:
        bare_call = sim.create_call()
        bare = [await next_frame(ws), await next_frame(ws)]  # the prefix, twice; "*" is not special
        assert (await control(sim, "dialect", {"dialect": "tutorial"}))["dialect"] == "tutorial"
        tutorial_call = sim.create_call()
        tutorial = await next_frame(ws)  # the wildcard alone matches, once
        assert (await control(sim, "dialect", {"dialect": "legacy"}))["dialect"] == "legacy"
        legacy_call = sim.create_call()
        legacy = [await next_frame(ws), await next_frame(ws)]
    assert [frame["id"] for frame in bare] == [bare_call["id"]] * 2
    assert bare[0]["type"] == "flow"  # the call's own type: no wrapper
    assert (tutorial["event_type"], tutorial["data"]["id"]) == ("call.status", tutorial_call["id"])
    assert [(frame["type"], frame["data"]["id"]) for frame in legacy] == [
        ("call_created", legacy_call["id"])
    ] * 2
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.post("/_sim/dialect", json={"dialect": "klingon"})).status_code == 400


async def test_balance_control_makes_sending_402_for_that_customer_only(sim):
    body = {
        "source": {"type": "tel", "target": DEMO_SMS_NUMBER},
        "destinations": [{"type": "tel", "target": "+12025550123"}],
        "text": "hello",
    }
    answer = await control(sim, "balance", {"customer_id": DEMO_CUSTOMER_ID, "insufficient": True})
    assert answer["insufficient_balance"] == [DEMO_CUSTOMER_ID]
    async with httpx.AsyncClient(base_url=sim.url, params={"accesskey": DEMO_ACCESS_KEY}) as http:
        assert (await http.post("/v1.0/messages", json=body)).status_code == 402
        await control(sim, "balance", {"customer_id": DEMO_CUSTOMER_ID, "insufficient": False})
        assert (await http.post("/v1.0/messages", json=body)).status_code == 200


async def test_advance_runs_the_scenario_in_virtual_time(sim):
    answer = await control(sim, "advance", {"seconds": 600})
    assert answer["virtual_time"] == 600
    assert answer["scenario_running"] is False
    assert sim.stats()["events_published"] > 20
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.post("/_sim/advance", json={"seconds": -1})).status_code == 400


async def test_scenario_control_runs_the_engine_in_real_time():
    async with SimServer(controls=True, scenario=False, speed=1000) as sim:
        assert (await control(sim, "scenario", {"running": True}))["scenario_running"] is True
        await until(lambda: sim.scenario.now > 60)
        stopped = await control(sim, "scenario", {"running": False})
        await asyncio.sleep(0.15)
        assert stopped["scenario_running"] is False
        assert sim.scenario.now == stopped["virtual_time"]
        assert sim.stats()["events_published"] > 0


async def test_stats_describe_connections_and_counters(sim):
    token = await login(sim, "agent1")
    async with subscribed(sim, agent_topic(DEMO_AGENT1_ID, "call"), token=token), httpx.AsyncClient() as http:
        sim.create_call()
        stats = (await http.get(f"{sim.url}/_sim/stats")).json()
    assert stats == {
        "upgrade_attempts": 1,
        "connections_accepted": 1,
        "open_connections": [
            {
                "customer_id": DEMO_CUSTOMER_ID,
                "agent_id": DEMO_AGENT1_ID,
                "access_key": False,
                "topics": [agent_topic(DEMO_AGENT1_ID, "call")],
            }
        ],
        "events_published": 1,
        "frames_dropped": 0,
        "sends_accepted": 0,
        "sends_refused": 0,
        "sends_delayed": 0,
    }


async def test_reset_restores_the_seeded_start(sim):
    sim.create_call()
    sim.advance(300)
    await control(sim, "dialect", {"dialect": "tutorial"})
    await control(sim, "refuse", {"status": 503})
    await control(sim, "stall", {"enabled": True})
    await control(sim, "balance", {"customer_id": DEMO_CUSTOMER_ID, "insufficient": True})
    answer = await control(sim, "reset")
    assert answer == {
        "dialect": "bare",
        "refusal": None,
        "accept_then_close": False,
        "stalled": False,
        "slow": 0.0,
        "scenario_running": False,
        "insufficient_balance": [],
        "fail_sends": None,
        "delay_sends": None,
        "virtual_time": 0.0,
    }
    assert list(sim.state.all("call")) == []
    assert sim.state.get("agent", DEMO_AGENT1_ID)["status"] == "available"
    assert sim.stats()["events_published"] == 0


@pytest.mark.parametrize("raw", ["Infinity", "NaN", "-Infinity"])
async def test_advance_refuses_numbers_that_are_not_finite(sim, raw):
    """Python's JSON parser accepts these; an infinite advance would never return."""
    async with httpx.AsyncClient(base_url=sim.url) as client:
        response = await client.post(
            "/_sim/advance", content=f'{{"seconds": {raw}}}', headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert "finite" in response.text
