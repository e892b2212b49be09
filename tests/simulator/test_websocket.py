"""The event socket: subscriptions, permissions, dialects, keepalive and the outgoing buffer.

Absence is proven without sleeping: after the events under test, a marker SMS
is published, and one socket's frames keep their order, so whatever did not
arrive before the marker was never sent.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_ADMIN_ID,
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_ADMIN_ID,
    OTHER_AGENT_ID,
    OTHER_CUSTOMER_ID,
    SALES_QUEUE_ID,
)
from dashboard.simulator.server import SimServer
from dashboard.simulator.timestamps import parse_time
from tests.simulator.helpers import (
    START_ACTION_ID,
    TIMESTAMP,
    UNOWNED_CALL_ZEROS,
    ZERO_ID,
    agent_topic,
    customer_topic,
    expect_dropped,
    frames_until,
    held,
    login,
    next_frame,
    open_socket,
    subscribe,
    subscribed,
    until,
)

A_CALLS = customer_topic(DEMO_CUSTOMER_ID, "call")
A_MESSAGES = customer_topic(DEMO_CUSTOMER_ID, "message")
A_CALL_PREFIX = customer_topic(DEMO_CUSTOMER_ID, "call", None)
A_MESSAGE_PREFIX = customer_topic(DEMO_CUSTOMER_ID, "message", None)


def is_marker(frame: dict) -> bool:
    data = frame.get("data", frame)
    return data.get("text") == "marker"


def send_marker(sim: SimServer) -> dict:
    return sim.receive_sms(source="+12025550111", text="marker")


async def test_a_token_and_an_access_key_both_open_the_socket(sim):
    token = await login(sim, "agent1")
    agent_calls = agent_topic(DEMO_AGENT1_ID, "call", None)
    async with (
        subscribed(sim, agent_calls, token=token) as agent,
        subscribed(sim, A_CALL_PREFIX, accesskey=DEMO_ACCESS_KEY) as account,
    ):
        call = sim.create_call(owner_id=DEMO_AGENT1_ID)
        for ws in (agent, account):
            assert [(await next_frame(ws))["id"] for _ in range(2)] == [call["id"]] * 2
        connections = sorted(sim.stats()["open_connections"], key=lambda c: c["access_key"])
    assert connections == [
        {
            "customer_id": DEMO_CUSTOMER_ID,
            "agent_id": DEMO_AGENT1_ID,
            "access_key": False,
            "topics": [agent_calls],
        },
        {"customer_id": DEMO_CUSTOMER_ID, "agent_id": None, "access_key": True, "topics": [A_CALL_PREFIX]},
    ]


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_tutorial_call_frame_names_its_event_time_and_concrete_topic(sim):
    async with subscribed(sim, A_CALLS) as ws:
        call = sim.create_call()
        sim.set_call_status(call["id"], "progressing")
        created, answered = await frames_until(ws, lambda frame: frame["data"]["status"] == "progressing")
    assert set(created) == {"event_type", "timestamp", "topic", "data"}
    assert created["event_type"] == answered["event_type"] == "call.status"
    assert created["topic"] == customer_topic(DEMO_CUSTOMER_ID, "call", call["id"])
    assert "tm_update" not in created["data"]  # a create: the frame's time is tm_create
    assert created["timestamp"] == created["data"]["tm_create"]
    assert TIMESTAMP.fullmatch(created["timestamp"])
    assert TIMESTAMP.fullmatch(answered["timestamp"])
    assert answered["timestamp"] == answered["data"]["tm_update"]
    assert parse_time(answered["timestamp"]) > parse_time(created["timestamp"])
    assert answered["data"]["tm_progressing"] == answered["timestamp"]


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_tutorial_message_events_say_received_created_and_updated(sim):
    async with subscribed(sim, A_MESSAGES) as ws:
        inbound = sim.receive_sms(source="+12025550111", text="What are your hours?")
        outbound = sim.state.send_message(
            customer_id=DEMO_CUSTOMER_ID,
            source={"type": "tel", "target": DEMO_SMS_NUMBER},
            destinations=[{"type": "tel", "target": "+12025550111"}],
            text="9 to 5",
        )
        sim.advance(2.5)
        frames = await frames_until(
            ws,
            lambda frame: frame["event_type"] == "message.updated" and frame["data"]["id"] == outbound["id"],
        )
    ours = [frame for frame in frames if frame["data"]["id"] in (inbound["id"], outbound["id"])]
    assert [frame["event_type"] for frame in ours] == [
        "message.received",
        "message.created",
        "message.updated",
    ]
    received = ours[0]["data"]
    assert received["text"] == "What are your hours?"
    assert received["source"]["target"] == "+12025550111"
    assert received["targets"][0]["destination"]["target"] == DEMO_SMS_NUMBER
    assert ours[2]["data"]["targets"][0]["status"] == "sent"


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_tutorial_queuecalls_travel_under_their_queue_to_supervisors_and_serving_agents(sim):
    agent1, agent2 = await login(sim, "agent1"), await login(sim, "agent2")
    queue_topics = [
        customer_topic(DEMO_CUSTOMER_ID, "queue"),
        agent_topic(DEMO_AGENT1_ID, "queue"),
        agent_topic(DEMO_AGENT2_ID, "queue"),
        agent_topic(DEMO_AGENT2_ID, "agent"),
    ]
    async with (
        subscribed(sim, queue_topics[0]) as supervisor,
        subscribed(sim, queue_topics[1], token=agent1) as sales_agent,
        subscribed(sim, *queue_topics[2:], token=agent2) as support_agent,
    ):
        call = sim.create_call(queue_id=SALES_QUEUE_ID)
        sim.inject("agent", {"id": DEMO_AGENT2_ID, "status": "away"})
        joined = await frames_until(supervisor, lambda frame: frame["event_type"] == "queue.joined")
        agent_joined = await frames_until(sales_agent, lambda frame: frame["event_type"] == "queue.joined")
        (support_frame,) = await frames_until(support_agent, lambda frame: True)
    assert [frame["event_type"] for frame in joined] == ["queuecall.updated", "queue.joined"]
    data = joined[-1]["data"]
    assert (data["queue_id"], data["call_id"], data["status"]) == (SALES_QUEUE_ID, call["id"], "waiting")
    assert joined[-1]["topic"] == customer_topic(DEMO_CUSTOMER_ID, "queue", SALES_QUEUE_ID)
    assert agent_joined[-1]["topic"] == agent_topic(DEMO_AGENT1_ID, "queue", SALES_QUEUE_ID)
    assert support_frame["event_type"] == "agent.status"  # agent2 serves Support, not Sales


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_tutorial_agent_and_activeflow_events(sim):
    topics = [customer_topic(DEMO_CUSTOMER_ID, "agent"), customer_topic(DEMO_CUSTOMER_ID, "activeflow")]
    flow = {"id": "6f0c5a8e-0000-4000-8000-000000000001", "flow_id": "6f0c5a8e-0000-4000-8000-000000000002"}
    async with subscribed(sim, *topics) as ws:
        sim.inject("agent", {"id": DEMO_AGENT2_ID, "status": "away"})
        sim.inject("activeflow", {**flow, "current_action": {"id": flow["flow_id"], "type": "talk"}})
        sim.inject(
            "activeflow", {"id": flow["id"], "current_action": {"id": flow["flow_id"], "type": "queue_join"}}
        )
        agent, created, updated = await frames_until(
            ws, lambda frame: frame["event_type"] == "activeflow.updated"
        )
    assert agent["event_type"] == "agent.status"
    assert (agent["data"]["agent_id"], agent["data"]["status"]) == (DEMO_AGENT2_ID, "away")
    assert created["event_type"] == "activeflow.created"
    assert updated["data"]["current_action"]["type"] == "queue_join"


@pytest.mark.parametrize("sim", ["legacy"], indirect=True)
async def test_legacy_frames_carry_the_code_event_name_and_queuecalls_lack_queue_id(sim):
    topics = [A_CALL_PREFIX, customer_topic(DEMO_CUSTOMER_ID, "queuecall", None)]
    async with subscribed(sim, *topics) as ws:
        call = sim.create_call(queue_id=SALES_QUEUE_ID)
        sim.set_call_status(call["id"], "hangup")
        frames = await frames_until(ws, lambda frame: frame["type"] == "call_hangup")
    assert all(set(frame) == {"type", "data"} for frame in frames)
    firsts = frames[::2]  # three-part subscriptions get each event twice
    assert frames[1::2] == firsts[:-1]
    assert [frame["type"] for frame in firsts] == [
        "call_created",
        "queuecall_created",
        "queuecall_waiting",
        "call_hangup",
    ]
    assert all("queue_id" not in frame["data"] for frame in frames)
    assert firsts[2]["data"]["reference_id"] == call["id"]


@pytest.mark.parametrize("sim", ["bare"], indirect=True)
async def test_bare_frames_are_the_resource_itself(sim):
    topics = [A_MESSAGE_PREFIX, customer_topic(DEMO_CUSTOMER_ID, "queuecall", None)]
    async with subscribed(sim, *topics) as ws:
        sim.create_call(queue_id=SALES_QUEUE_ID)
        message = sim.receive_sms(source="+12025550111", text="marker")
        frames = await frames_until(ws, is_marker)
    queuecall, message_frame = frames[0], frames[-1]
    assert queuecall["status"] == "initiating"
    assert "queue_id" not in queuecall
    assert (queuecall["tm_update"], queuecall["service_agent_id"]) == (None, ZERO_ID)
    assert message_frame == {**json.loads(json.dumps(message)), "tm_update": None, "tm_delete": None}
    assert message_frame["type"] == "sms"


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_one_frame_per_matching_published_topic(sim):
    token = await login(sim, "admin")
    call = sim.create_call()
    topics = [
        A_CALLS,
        customer_topic(DEMO_CUSTOMER_ID, "call", call["id"]),
        agent_topic(DEMO_ADMIN_ID, "call"),
    ]
    async with open_socket(sim, token=token) as ws:
        await subscribe(ws, *topics, A_CALLS, A_MESSAGES)
        await held(sim, *topics, A_MESSAGES)
        sim.inject("call", {"id": call["id"], "owner_type": "agent", "owner_id": DEMO_ADMIN_ID})
        send_marker(sim)
        frames = await frames_until(ws, is_marker)
    assert sorted(frame["topic"] for frame in frames[:-1]) == [
        agent_topic(DEMO_ADMIN_ID, "call", call["id"]),
        customer_topic(DEMO_CUSTOMER_ID, "call", call["id"]),
    ]


@pytest.mark.parametrize("sim", ["legacy", "bare"], indirect=True)
async def test_code_dialects_deliver_to_a_three_part_subscription_twice(sim):
    async with subscribed(sim, A_CALL_PREFIX, A_MESSAGE_PREFIX) as ws:
        call = sim.create_call()
        send_marker(sim)
        first, second, _ = await frames_until(ws, is_marker)
        assert is_marker(await next_frame(ws))
    assert first == second
    assert first.get("data", first)["id"] == call["id"]


@pytest.mark.parametrize(("sim", "calls_received"), [("tutorial", 1), ("legacy", 0)], indirect=["sim"])
async def test_the_wildcard_is_special_only_in_the_tutorial_dialect(sim, calls_received):
    topics = [A_CALLS, A_MESSAGES, A_MESSAGE_PREFIX]
    async with subscribed(sim, *topics) as ws:
        sim.create_call()
        send_marker(sim)
        frames = await frames_until(ws, is_marker)
    assert len(frames) - 1 == calls_received


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_three_part_subscriptions_receive_nothing_in_the_tutorial_dialect(sim):
    async with subscribed(sim, A_CALL_PREFIX, A_MESSAGES) as ws:
        sim.create_call()
        send_marker(sim)
        frames = await frames_until(ws, is_marker)
    assert len(frames) == 1


@pytest.mark.parametrize(
    "topic",
    [
        customer_topic(DEMO_CUSTOMER_ID, "call"),
        customer_topic(OTHER_CUSTOMER_ID, "call"),
        agent_topic(DEMO_AGENT2_ID, "call"),
        "customer_id:not-a-uuid:call:*",
        "call:*",
    ],
)
async def test_a_topic_the_agent_may_not_hold_drops_the_socket_without_a_close_frame(sim, topic):
    token = await login(sim, "agent1")
    async with open_socket(sim, token=token) as ws:
        await subscribe(ws, agent_topic(DEMO_AGENT1_ID, "call"), topic)
        closed = await expect_dropped(ws)
    assert closed.rcvd is None
    assert ws.close_code == 1006
    await until(lambda: not sim.stats()["open_connections"])


async def test_another_customers_agents_and_admins_never_see_acmes_events(sim):
    agent, admin = await login(sim, "globex-agent"), await login(sim, "globex-admin")
    agent_topics = [agent_topic(OTHER_AGENT_ID, r, None) for r in ("call", "agent", "queue")]
    admin_topics = [
        customer_topic(OTHER_CUSTOMER_ID, r, None)
        for r in ("call", "queue", "queuecall", "message", "agent", "activeflow")
    ]
    admin_topics.append(agent_topic(OTHER_ADMIN_ID, "call", None))
    async with (
        subscribed(sim, *agent_topics, token=agent) as globex_agent,
        subscribed(sim, *admin_topics, token=admin) as globex_admin,
    ):
        sim.create_call(queue_id=SALES_QUEUE_ID, owner_id=DEMO_AGENT1_ID)
        sim.receive_sms(source="+12025550111", text="for Acme")
        sim.inject("agent", {"id": DEMO_AGENT1_ID, "status": "away"})
        sim.inject("activeflow", {"status": "running"})
        globex_call = sim.create_call(customer_id=OTHER_CUSTOMER_ID, owner_id=OTHER_AGENT_ID)
        (agent_frame,) = await frames_until(globex_agent, lambda frame: True)
        (admin_frame,) = await frames_until(globex_admin, lambda frame: True)
    assert agent_frame == admin_frame
    assert (agent_frame["id"], agent_frame["customer_id"]) == (globex_call["id"], OTHER_CUSTOMER_ID)


async def test_a_binary_frame_ends_the_connection(sim):
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws:
        await ws.send(b"\x00\x01")
        closed = await expect_dropped(ws)
    assert closed.rcvd is None


async def test_invalid_json_unknown_types_and_odd_shapes_are_ignored(sim):
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws:
        for text in ("{not json", "[]", '"x"', '{"type": "ping"}', '{"type": "subscribe", "topics": "call"}'):
            await ws.send(text)
        await ws.send(json.dumps({"type": "shout", "topics": [A_CALL_PREFIX]}))
        await subscribe(ws, A_MESSAGE_PREFIX)
        await held(sim, A_MESSAGE_PREFIX)
        sim.create_call()
        send_marker(sim)
        frames = await frames_until(ws, is_marker)
    assert len(frames) == 1  # "shout" subscribed nothing, and the socket is still open


async def test_duplicate_subscribe_and_unheld_unsubscribe_are_no_ops_and_unsubscribe_stops_events(sim):
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws:
        await subscribe(ws, A_CALL_PREFIX, A_MESSAGE_PREFIX)
        await subscribe(ws, A_CALL_PREFIX)
        await subscribe(ws, customer_topic(DEMO_CUSTOMER_ID, "agent", None), kind="unsubscribe")
        await held(sim, A_CALL_PREFIX, A_MESSAGE_PREFIX)
        call = sim.create_call()
        marker = send_marker(sim)
        before = await frames_until(ws, is_marker)
        before.append(await next_frame(ws))  # a 3-part prefix: the marker comes twice
        await subscribe(ws, A_CALL_PREFIX, kind="unsubscribe")
        await held(sim, A_CALL_PREFIX, held=False)
        sim.create_call()
        second_marker = send_marker(sim)
        after = await frames_until(ws, is_marker)
        after.append(await next_frame(ws))
    assert [frame["id"] for frame in before] == [call["id"], call["id"], marker["id"], marker["id"]]
    assert [frame["id"] for frame in after] == [second_marker["id"]] * 2


async def test_an_open_socket_outlives_its_tokens_expiry(sim):
    token = sim.issue_token("manager", lifetime=0.2)
    async with open_socket(sim, token=token) as ws:
        await subscribe(ws, A_CALL_PREFIX)
        await asyncio.sleep(0.25)
        call = sim.create_call()
        assert (await next_frame(ws))["id"] == call["id"]


async def test_a_burst_beyond_the_buffer_is_dropped_and_counted(sim):
    async with subscribed(sim, A_CALL_PREFIX, A_MESSAGE_PREFIX) as ws:
        # Two frames a call (a 3-part prefix); no await: the writer cannot run meanwhile.
        calls = [sim.create_call()["id"] for _ in range(1025)]
        assert sim.stats()["frames_dropped"] == 50
        received = []
        async with asyncio.timeout(5):
            while len(received) < 2000:
                received.append(json.loads(await ws.recv())["id"])
        send_marker(sim)
        assert is_marker(await next_frame(ws))
    assert received == [call for call in calls[:1000] for _ in range(2)]


async def test_the_server_pings_and_drops_a_client_that_never_answers():
    async with (
        SimServer(scenario=False, ping_interval=0.05, pong_timeout=0.2) as sim,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.ws_url}?accesskey={DEMO_ACCESS_KEY}", autoping=False) as ws,
    ):
        assert (await ws.receive(timeout=1)).type is aiohttp.WSMsgType.PING
        async with asyncio.timeout(2):
            while (await ws.receive()).type is aiohttp.WSMsgType.PING:
                pass
        assert ws.closed
        await until(lambda: not sim.stats()["open_connections"])


async def test_a_client_that_answers_pings_stays_connected():
    async with (
        SimServer(scenario=False, ping_interval=0.05, pong_timeout=0.2) as sim,
        open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws,
    ):
        await subscribe(ws, A_CALL_PREFIX)
        await asyncio.sleep(0.3)
        call = sim.create_call()
        assert (await next_frame(ws))["id"] == call["id"]  # the default dialect: the bare call
        await asyncio.wait_for(await ws.ping(), 1)


async def test_the_default_dialect_is_bare_and_publishes_each_event_under_two_topics(sim):
    """A 3-part prefix matches both topics (two copies); the 4-part concrete topic matches one."""
    call_id = "6f0c5a8e-0000-4000-8000-0000000000c1"
    async with (
        subscribed(sim, A_CALL_PREFIX, A_MESSAGE_PREFIX) as prefix,
        subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "call", call_id), A_MESSAGE_PREFIX) as concrete,
    ):
        call = sim.create_call(call_id=call_id)
        sim.set_call_status(call_id, "progressing")
        marker = send_marker(sim)
        by_prefix = await frames_until(prefix, is_marker)
        by_prefix.append(await next_frame(prefix))
        by_concrete = await frames_until(concrete, is_marker)
    assert sim.controls()["dialect"] == "bare"
    assert [(frame["id"], frame["status"]) for frame in by_prefix[:4]] == [
        (call["id"], "ringing"),
        (call["id"], "ringing"),
        (call["id"], "progressing"),
        (call["id"], "progressing"),
    ]
    assert by_prefix[0] == by_prefix[1]
    assert [frame["id"] for frame in by_prefix[4:]] == [marker["id"]] * 2
    assert [frame.get("status") for frame in by_concrete] == ["ringing", "progressing", None]
    assert by_concrete[:2] == by_prefix[::2][:2]
    assert all("event_type" not in frame and "data" not in frame for frame in by_prefix)


@pytest.mark.parametrize("sim", ["bare", "legacy"], indirect=True)
async def test_an_unowned_call_sends_zero_ids_and_an_empty_owner_type(sim):
    async with subscribed(sim, A_CALL_PREFIX) as ws:
        call = sim.create_call()
        frame = await next_frame(ws)
    if sim.controls()["dialect"] == "legacy":
        assert (set(frame), frame["type"]) == ({"type", "data"}, "call_created")
    data = frame["data"] if sim.controls()["dialect"] == "legacy" else frame
    assert data == {**UNOWNED_CALL_ZEROS, **call}
    assert (data["owner_type"], data["owner_id"]) == ("", ZERO_ID)
    assert data["master_call_id"] == data["groupcall_id"] == data["activeflow_id"] == ZERO_ID
    assert data["flow_id"] == call["flow_id"] != ZERO_ID


async def test_an_owned_call_sends_its_owner_not_the_zero_id(sim):
    async with subscribed(sim, A_CALL_PREFIX) as ws:
        sim.create_call(owner_id=DEMO_AGENT1_ID)
        frame = await next_frame(ws)
    assert (frame["owner_type"], frame["owner_id"]) == ("agent", DEMO_AGENT1_ID)


async def test_a_create_frame_has_no_tm_update_and_the_next_change_stamps_it(sim):
    """A call omits the null tm_update (omitempty); queuecalls and messages send ``null``."""
    topics = [A_CALL_PREFIX, A_MESSAGE_PREFIX, customer_topic(DEMO_CUSTOMER_ID, "queuecall", None)]
    async with subscribed(sim, *topics) as ws:
        call = sim.create_call(queue_id=SALES_QUEUE_ID)
        sim.set_call_status(call["id"], "progressing")
        message = sim.receive_sms(source="+12025550111", text="hours?")
        sim.inject("message", {"id": message["id"], "text": "hours, please?"})
        send_marker(sim)
        frames = (await frames_until(ws, is_marker))[:-1:2]  # a 3-part prefix: each twice
    call_created, queuecall_created, queuecall_waiting, call_answered, message_created, message_updated = (
        frames
    )
    assert (call_created["id"], call_answered["id"]) == (call["id"], call["id"])
    assert "tm_update" not in call_created
    assert TIMESTAMP.fullmatch(call_created["tm_create"])
    assert TIMESTAMP.fullmatch(call_answered["tm_update"])
    assert parse_time(call_answered["tm_update"]) > parse_time(call_created["tm_create"])
    assert call_answered["tm_progressing"] == call_answered["tm_update"]

    assert (queuecall_created["status"], queuecall_created["tm_update"]) == ("initiating", None)
    assert queuecall_waiting["status"] == "waiting"
    assert parse_time(queuecall_waiting["tm_update"]) > parse_time(queuecall_created["tm_create"])

    assert (message_created["id"], message_created["tm_update"]) == (message["id"], None)
    assert message_updated["text"] == "hours, please?"
    assert parse_time(message_updated["tm_update"]) > parse_time(message_created["tm_create"])
    assert message_updated["tm_create"] == message_created["tm_create"]


async def test_every_stamp_on_the_wire_is_rfc3339nano_with_trailing_zeros_trimmed(sim):
    async with subscribed(sim, A_CALL_PREFIX) as ws:
        calls = [sim.create_call() for _ in range(50)]
        for call in calls:
            sim.set_call_status(call["id"], "hangup")
        frames = [await next_frame(ws) for _ in range(200)]
    stamps = [value for frame in frames for key, value in frame.items() if key.startswith("tm_")]
    # each frame twice: created (tm_create, tm_ringing), hung up (those, tm_update and tm_hangup)
    assert len(stamps) == 2 * (50 * 2 + 50 * 4)
    for stamp in stamps:
        assert TIMESTAMP.fullmatch(stamp), stamp
        assert parse_time(stamp).tzinfo is not None


async def test_a_new_activeflow_stands_at_the_start_action_then_moves_to_answer(sim):
    async with subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "activeflow", None)) as ws:
        while not any(flow["customer_id"] == DEMO_CUSTOMER_ID for flow in sim.state.all("activeflow")):
            sim.advance(5)
        created, _, answering, _ = [await next_frame(ws) for _ in range(4)]
    assert created["id"] == answering["id"]
    assert created["status"] == "running"
    assert created["current_action"] == {"id": START_ACTION_ID, "next_id": ZERO_ID, "tm_execute": None}
    assert created["tm_update"] is None
    assert "executed_actions" not in created
    assert answering["current_action"]["type"] == "answer"
    assert answering["current_action"]["id"] not in (START_ACTION_ID, ZERO_ID)
    assert answering["current_action"]["next_id"] == ZERO_ID
    assert answering["current_action"]["tm_execute"] is None
    assert answering.get("executed_actions", []) == []  # the start placeholder is not an executed step
    assert parse_time(answering["tm_update"]) > parse_time(created["tm_create"])


def walk_to_agent1(sim: SimServer) -> str:
    """A Sales caller offered to agent1, answered and hung up; the caller's call id."""
    call_id = sim.start_journey(queue_id=SALES_QUEUE_ID)["call_id"]
    for step in ("flow", "queue"):
        sim.step_journey(call_id, step)
    sim.step_journey(call_id, "offer", agent_id=DEMO_AGENT1_ID)
    sim.step_journey(call_id, "answer")
    sim.step_journey(call_id, "hangup")
    return call_id


@pytest.mark.parametrize("sim", ["bare", "legacy"], indirect=True)
async def test_code_dialects_publish_to_an_agent_only_the_call_legs_it_owns(sim):
    """VoIPBIN's code publishes under agent_id: only what has an owner: not the agent's own status,
    not the queuecall it serves, not the caller's call or flow (those reach the customer's topics)."""
    resources = ("call", "agent", "queuecall", "queue", "activeflow", "message")
    token = await login(sim, "agent1")
    async with (
        subscribed(sim, *[agent_topic(DEMO_AGENT1_ID, r, None) for r in resources], token=token) as agent,
        subscribed(sim, *[customer_topic(DEMO_CUSTOMER_ID, r, None) for r in resources]) as account,
    ):
        call_id = walk_to_agent1(sim)
        sim.inject("agent", {"id": DEMO_AGENT1_ID, "status": "away"}, event="agent_status_updated")
        marker = sim.create_call(owner_id=DEMO_AGENT1_ID)
        mine = await frames_until(agent, lambda frame: frame.get("data", frame)["id"] == marker["id"])
        everything = await frames_until(account, lambda frame: frame.get("data", frame)["id"] == marker["id"])
    (leg_id,) = sim.state.get("call", call_id)["chained_call_ids"]
    legs = [frame.get("data", frame) for frame in mine[:-1]]
    assert {leg["id"] for leg in legs} == {leg_id}
    assert [leg["status"] for leg in legs[::2]] == ["dialing", "ringing", "progressing", "hangup"]
    assert legs[::2] == legs[1::2]  # three-part prefixes: each event twice
    heard = {frame.get("data", frame)["id"] for frame in everything}
    sent_to_the_customer = {call_id, leg_id, DEMO_AGENT1_ID, sim.state.get("call", call_id)["activeflow_id"]}
    assert sent_to_the_customer <= heard


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_tutorial_agents_hear_their_own_status_and_their_leg(sim):
    token = await login(sim, "agent1")
    topics = [agent_topic(DEMO_AGENT1_ID, "agent"), agent_topic(DEMO_AGENT1_ID, "call")]
    async with subscribed(sim, *topics, token=token) as ws:
        call_id = walk_to_agent1(sim)
        marker = sim.create_call(owner_id=DEMO_AGENT1_ID)
        frames = await frames_until(ws, lambda frame: frame["data"]["id"] == marker["id"])
    (leg_id,) = sim.state.get("call", call_id)["chained_call_ids"]
    events = [(f["event_type"], f["data"]["id"], f["data"]["status"]) for f in frames[:-1]]
    assert [e for e in events if e[0] == "agent.status"] == [
        ("agent.status", DEMO_AGENT1_ID, "ringing"),
        ("agent.status", DEMO_AGENT1_ID, "busy"),
    ]
    assert [e[2] for e in events if e[0] == "call.status"] == ["dialing", "ringing", "progressing", "hangup"]
    assert {e[1] for e in events if e[0] == "call.status"} == {leg_id}
