"""Normalization of the three wire dialects (VOIPBIN.md §4), de-duplication and ordering."""

from __future__ import annotations

import json
import uuid

import pytest

from dashboard.voipbin.events import (
    Deduper,
    MalformedFrame,
    UnknownFrame,
    newer_than,
    normalize,
    parse_frame,
)

CUSTOMER = str(uuid.UUID(int=1))
AGENT = str(uuid.UUID(int=11))
CALL_ID = str(uuid.UUID(int=101))
QUEUE_ID = str(uuid.UUID(int=201))
QC_ID = str(uuid.UUID(int=301))
MSG_ID = str(uuid.UUID(int=401))
FLOW_ID = str(uuid.UUID(int=501))

CALL = {
    "id": CALL_ID,
    "customer_id": CUSTOMER,
    "owner_type": "agent",
    "owner_id": AGENT,
    "type": "flow",
    "source": {"type": "tel", "target": "+15550001"},
    "destination": {"type": "tel", "target": "+15550100"},
    "status": "progressing",
    "direction": "incoming",
    "tm_create": "2026-01-20T10:29:50.000000Z",
    "tm_update": "2026-01-20T10:30:00.000000Z",
}
MESSAGE = {
    "id": MSG_ID,
    "customer_id": CUSTOMER,
    "type": "sms",
    "source": {"type": "tel", "target": "+15550001"},
    "targets": [{"destination": {"type": "tel", "target": "+15550100"}, "status": "received"}],
    "text": "help please",
    "direction": "inbound",
    "tm_create": "2026-01-20T10:30:00.000000Z",
    "tm_update": "2026-01-20T10:30:00.000000Z",
}
QUEUECALL = {
    "id": QC_ID,
    "customer_id": CUSTOMER,
    "reference_type": "call",
    "reference_id": CALL_ID,
    "status": "waiting",
    "duration_waiting": 0,
    "tm_create": "2026-01-20T10:30:01.000000Z",
    "tm_update": "2026-01-20T10:30:01.000000Z",
}
AGENT_OBJ = {
    "id": AGENT,
    "customer_id": CUSTOMER,
    "username": "agent1",
    "name": "Agent One",
    "status": "available",
    "permission": 16,
    "tm_update": "2026-01-20T10:30:02.000000Z",
}
ACTIVEFLOW = {
    "id": FLOW_ID,
    "customer_id": CUSTOMER,
    "flow_id": str(uuid.UUID(int=601)),
    "status": "running",
    "reference_type": "call",
    "reference_id": CALL_ID,
    "current_action": {"id": str(uuid.UUID(int=701)), "type": "talk"},
    "executed_actions": [],
    "tm_update": "2026-01-20T10:30:03.000000Z",
}


def test_tutorial_envelope():
    event = normalize(
        {
            "event_type": "call.status",
            "timestamp": "2026-01-20T10:30:00.000000Z",
            "topic": f"customer_id:{CUSTOMER}:call:{CALL_ID}",
            "data": CALL,
        }
    )
    assert (event.type, event.name, event.dialect, event.resource) == (
        "call.status",
        "call.status",
        "tutorial",
        "call",
    )
    assert (event.resource_id, event.customer_id, event.owner_agent_id) == (CALL_ID, CUSTOMER, AGENT)
    assert event.status == "progressing"
    assert event.topic == f"customer_id:{CUSTOMER}:call:{CALL_ID}"
    assert event.timestamp.year == 2026


def test_tutorial_queue_joined_and_agent_status_with_minimal_data():
    joined = normalize(
        {
            "event_type": "queue.joined",
            "timestamp": "2026-01-20T10:30:00.000000Z",
            "topic": f"agent_id:{AGENT}:queue:{QUEUE_ID}",
            "data": {"call_id": CALL_ID, "queue_id": QUEUE_ID},
        }
    )
    assert (joined.type, joined.resource, joined.owner_agent_id) == ("queue.joined", "queuecall", AGENT)
    assert f"agent_id:{AGENT}:queue:{QUEUE_ID}" in joined.topics()

    status = normalize(
        {
            "event_type": "agent.status",
            "timestamp": "2026-01-20T10:30:00.000000Z",
            "topic": f"customer_id:{CUSTOMER}:agent:{AGENT}",
            "data": {"agent_id": AGENT, "status": "away"},
        }
    )
    assert (status.resource, status.resource_id, status.customer_id, status.status) == (
        "agent",
        AGENT,
        CUSTOMER,
        "away",
    )


@pytest.mark.parametrize(
    ("name", "data", "expected_type", "resource"),
    [
        ("call_hangup", CALL, "call.status", "call"),
        ("call_ringing", CALL, "call.status", "call"),
        ("call_deleted", CALL, "call.deleted", "call"),
        ("queuecall_waiting", QUEUECALL, "queue.joined", "queuecall"),
        ("queuecall_done", QUEUECALL, "queuecall.done", "queuecall"),
        ("agent_status_updated", AGENT_OBJ, "agent.status", "agent"),
        ("message_created", MESSAGE, "message.received", "message"),
        ("message_updated", {**MESSAGE, "direction": "outbound"}, "message.updated", "message"),
        ("activeflow_updated", ACTIVEFLOW, "activeflow.updated", "activeflow"),
    ],
)
def test_legacy_wrapper(name, data, expected_type, resource):
    event = normalize({"type": name, "data": data})
    assert (event.type, event.name, event.dialect, event.resource) == (
        expected_type,
        name,
        "legacy",
        resource,
    )
    assert event.resource_id == data["id"]
    assert event.customer_id == CUSTOMER


@pytest.mark.parametrize(
    ("data", "expected_type", "resource"),
    [
        (CALL, "call.status", "call"),
        ({**CALL, "status": "hangup", "hangup_reason": "normal"}, "call.status", "call"),
        (QUEUECALL, "queue.joined", "queuecall"),
        ({**QUEUECALL, "status": "service", "service_agent_id": AGENT}, "queuecall.updated", "queuecall"),
        (AGENT_OBJ, "agent.status", "agent"),
        (ACTIVEFLOW, "activeflow.updated", "activeflow"),
        (
            {"id": QUEUE_ID, "customer_id": CUSTOMER, "name": "Sales", "wait_queuecall_ids": []},
            "queue.updated",
            "queue",
        ),
    ],
)
def test_bare_object_type_is_inferred(data, expected_type, resource):
    event = normalize(data)
    assert (event.type, event.name, event.dialect, event.resource) == (expected_type, None, "bare", resource)


def test_bare_message_has_its_own_type_field_and_is_not_a_wrapper():
    # A message's top-level "type" is "sms": it must not be read as a legacy {type, data} frame.
    event = normalize(MESSAGE)
    assert (event.dialect, event.resource, event.type) == ("bare", "message", "message.received")
    assert event.data["type"] == "sms"
    # Even a resource with only "type" and a dict "data" field plus more keys is bare.
    assert normalize({**CALL, "data": {}}).dialect == "bare"


def test_bare_call_with_owner_gets_agent_topic():
    topics = normalize(CALL).topics()
    assert f"customer_id:{CUSTOMER}:call:{CALL_ID}" in topics
    assert f"agent_id:{AGENT}:call:{CALL_ID}" in topics


def test_same_change_in_every_dialect_has_the_same_key():
    tutorial = normalize({"event_type": "call.status", "timestamp": CALL["tm_update"], "data": CALL})
    legacy = normalize({"type": "call_progressing", "data": CALL})
    bare = normalize(CALL)
    assert tutorial.key == legacy.key == bare.key
    assert normalize({**CALL, "tm_update": "2026-01-20T10:30:05.000000Z", "status": "hangup"}).key != bare.key


def test_key_without_tm_update_depends_on_content():
    a = normalize({"event_type": "queue.joined", "data": {"call_id": CALL_ID, "queue_id": QUEUE_ID}})
    b = normalize({"event_type": "queue.joined", "data": {"queue_id": QUEUE_ID, "call_id": CALL_ID}})
    c = normalize(
        {"event_type": "queue.joined", "data": {"call_id": CALL_ID, "queue_id": str(uuid.UUID(int=9))}}
    )
    assert a.key == b.key != c.key


def test_deduper_remembers_a_bounded_window():
    deduper = Deduper(size=2)
    assert not deduper.seen("a")
    assert deduper.seen("a")
    assert not deduper.seen("b")
    assert not deduper.seen("c")  # evicts "a"
    assert not deduper.seen("a")
    assert len(deduper) == 2


def test_newer_by_tm_update_regardless_of_arrival_order():
    early = {**CALL, "status": "ringing", "tm_update": "2026-01-20T10:29:55.000000Z"}
    late = {**CALL, "status": "hangup", "tm_update": "2026-01-20T10:31:00.000000Z"}
    assert newer_than(late, early)
    assert not newer_than(early, late)  # a late-arriving older event cannot regress the row
    assert newer_than(early, None)


def test_duplicate_is_not_newer_and_status_breaks_ties():
    assert not newer_than(CALL, dict(CALL))
    same_time_hangup = {**CALL, "status": "hangup"}
    assert newer_than(same_time_hangup, CALL)
    assert not newer_than(CALL, same_time_hangup)
    no_time = {k: v for k, v in CALL.items() if k != "tm_update"}
    assert newer_than({**no_time, "status": "hangup"}, no_time)
    assert not newer_than({**no_time, "status": "ringing"}, no_time)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("{not json", MalformedFrame),
        ("[1, 2]", MalformedFrame),
        ('"text"', MalformedFrame),
        (b"\x00\x01", MalformedFrame),
        ('{"event_type": "call.status", "data": "oops"}', MalformedFrame),
        ('{"event_type": "weather.changed", "data": {}}', UnknownFrame),
        ('{"type": "spaceship_launched", "data": {}}', UnknownFrame),
        ('{"hello": "world"}', UnknownFrame),
        ("[" * 100_000 + "]" * 100_000, MalformedFrame),
    ],
)
def test_bad_frames_raise_typed_errors(raw, error):
    with pytest.raises(error):
        parse_frame(raw)


def test_parse_frame_round_trip():
    event = parse_frame(json.dumps({"type": "call_hangup", "data": {**CALL, "status": "hangup"}}))
    assert event.status == "hangup"
