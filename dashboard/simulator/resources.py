"""VoIPBIN resource objects (VOIPBIN.md §5) as plain JSON-ready dicts.

Records are treated as values: a change replaces the whole dict, never edits
one in place, so a record handed to a listener stays what it was.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from dashboard.simulator.accounts import DemoAgent, DemoCustomer, DemoQueue

Record = dict[str, Any]

# Kept for routing but, like VoIPBIN's webhook messages, never shown in
# queuecalls: clients map queuecalls to queues through the queues' id lists.
_INTERNAL_FIELDS: dict[str, frozenset[str]] = {"queuecall": frozenset({"queue_id"})}

ZERO_ID = "00000000-0000-0000-0000-000000000000"
START_ACTION_ID = "00000000-0000-0000-0000-000000000001"
"""VoIPBIN's reserved action ids (flow-manager ``action.IDEmpty``, ``action.IDStart``)."""

# What VoIPBIN's Go structs put on the wire for a field the record does not hold (VOIPBIN.md §5):
# a uuid.UUID is never omitted (the zero UUID), a string or time pointer without ``omitempty`` is
# ``""`` or ``null``. Fields with ``omitempty`` are simply absent, as they are in the record.
_WIRE_DEFAULTS: dict[str, dict[str, Any]] = {
    "call": {
        "owner_type": "",
        "owner_id": ZERO_ID,
        "flow_id": ZERO_ID,
        "activeflow_id": ZERO_ID,
        "master_call_id": ZERO_ID,
        "groupcall_id": ZERO_ID,
    },
    "queuecall": {
        "reference_id": ZERO_ID,
        "service_agent_id": ZERO_ID,
        "tm_create": None,
        "tm_service": None,
        "tm_update": None,
        "tm_delete": None,
    },
    "agent": {"username": "", "name": "", "detail": "", "ring_method": "", "status": "", "tag_ids": []},
    "message": {"tm_update": None, "tm_delete": None},
    "activeflow": {
        "flow_id": ZERO_ID,
        "reference_id": ZERO_ID,
        "reference_activeflow_id": ZERO_ID,
        "on_complete_flow_id": ZERO_ID,
        "forward_action_id": ZERO_ID,
        "tm_update": None,
        "tm_delete": None,
    },
    "queue": {"detail": "", "tm_update": None, "tm_delete": None},
}

CALL_STATUSES = ("dialing", "ringing", "progressing", "terminating", "canceling", "hangup")
QUEUE_WAITING_STATUSES = ("waiting", "connecting")
CALL_STATUS_TIMES = {"ringing": "tm_ringing", "progressing": "tm_progressing", "hangup": "tm_hangup"}

_SMS_PART_LENGTH = 160


def compact(fields: Mapping[str, Any]) -> Record:
    """Drop empty values: what a record does not hold, ``public_view`` puts on the wire VoIPBIN's way."""
    return {key: value for key, value in fields.items() if value is not None and value != ""}


def public_view(resource: str, record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The resource as VoIPBIN serializes it: zero ids and empty strings sent, internal fields not."""
    hidden = _INTERNAL_FIELDS.get(resource, frozenset())
    view = {**_WIRE_DEFAULTS.get(resource, {}), **record}
    return {key: value for key, value in view.items() if key not in hidden} if hidden else view


def address(target: str, kind: str = "tel", name: str | None = None) -> Record:
    return compact({"type": kind, "target": target, "target_name": name})


def agent_address(agent: Mapping[str, Any]) -> Record:
    """Where VoIPBIN rings an agent: their extension, else the agent itself."""
    extension = next(
        (item["target"] for item in agent.get("addresses", ()) if item.get("type") == "extension"), None
    )
    if extension is None:
        return address(agent["id"], "agent", agent.get("name"))
    return address(extension, "extension", agent.get("name"))


def flow_action(flow_id: str, kind: str) -> Record:
    """An action of the demo flow; its id is stable so clients can highlight it."""
    return {
        "id": str(uuid.uuid5(uuid.UUID(flow_id), kind)),
        "next_id": ZERO_ID,
        "type": kind,
        "tm_execute": None,
    }


def start_action() -> Record:
    """Where a new activeflow stands before it executes anything (flow-manager's ``IDStart``)."""
    return {"id": START_ACTION_ID, "next_id": ZERO_ID, "tm_execute": None}


def agent_record(customer_id: str, agent: DemoAgent) -> Record:
    addresses = [address(agent.extension, "extension")] if agent.extension else []
    return {
        "id": agent.id,
        "customer_id": customer_id,
        "username": agent.username,
        "name": agent.name,
        "status": agent.status,
        "permission": int(agent.permission),
        "tag_ids": list(agent.tag_ids),
        "addresses": addresses,
    }


def flow_record(customer: DemoCustomer) -> Record:
    """The customer's inbound flow, as ``GET /v1.0/flows`` lists it (VoIPBIN's flow-manager)."""
    return {
        "id": customer.flow_id,
        "customer_id": customer.id,
        "type": "flow",
        "name": f"{customer.name} inbound",
        "detail": "Answers, greets the caller and puts them in the queue of the number they dialled",
        "actions": [
            flow_action(customer.flow_id, kind) for kind in ("answer", "talk", "queue_join", "hangup")
        ],
    }


def queue_record(customer_id: str, queue: DemoQueue) -> Record:
    return {
        "id": queue.id,
        "customer_id": customer_id,
        "name": queue.name,
        "routing_method": "random",
        "tag_ids": list(queue.tag_ids),
        "wait_queuecall_ids": [],
        "service_queuecall_ids": [],
        "total_incoming_count": 0,
        "total_serviced_count": 0,
        "total_abandoned_count": 0,
    }


def call_record(
    *,
    call_id: str,
    customer_id: str,
    direction: str,
    source: Record,
    destination: Record,
    status: str,
    stamp: str,
    flow_id: str | None = None,
    activeflow_id: str | None = None,
    owner_agent_id: str | None = None,
    master_call_id: str | None = None,
    groupcall_id: str | None = None,
) -> Record:
    record = compact(
        {
            "id": call_id,
            "customer_id": customer_id,
            "owner_type": "agent" if owner_agent_id else None,
            "owner_id": owner_agent_id,
            "flow_id": flow_id,
            "activeflow_id": activeflow_id,
            "master_call_id": master_call_id,
            "groupcall_id": groupcall_id,
            "type": "flow",
            "source": source,
            "destination": destination,
            "status": status,
            "direction": direction,
        }
    )
    if time_field := CALL_STATUS_TIMES.get(status):
        record[time_field] = stamp
    return record


def activeflow_record(*, activeflow_id: str, customer_id: str, flow_id: str, call_id: str) -> Record:
    return {
        "id": activeflow_id,
        "customer_id": customer_id,
        "flow_id": flow_id,
        "status": "running",
        "reference_type": "call",
        "reference_id": call_id,
        "current_action": start_action(),
    }


def queuecall_record(*, queuecall_id: str, customer_id: str, queue_id: str, call_id: str) -> Record:
    return {
        "id": queuecall_id,
        "customer_id": customer_id,
        "queue_id": queue_id,
        "reference_type": "call",
        "reference_id": call_id,
        "status": "initiating",
    }


def message_parts(text: str) -> int:
    return max(1, math.ceil(len(text) / _SMS_PART_LENGTH))


def message_record(
    *,
    message_id: str,
    customer_id: str,
    direction: str,
    source: Record,
    destinations: Iterable[Record],
    text: str,
    target_status: str,
    stamp: str,
) -> Record:
    parts = message_parts(text)
    targets = [
        {"destination": destination, "status": target_status, "parts": parts, "tm_update": stamp}
        for destination in destinations
    ]
    return {
        "id": message_id,
        "customer_id": customer_id,
        "type": "sms",
        "source": source,
        "targets": targets,
        "text": text,
        "direction": direction,
    }


def with_target_status(message: Mapping[str, Any], status: str, stamp: str) -> list[Record]:
    """The message's targets moved on to ``status`` (sent, delivered, …)."""
    return [{**target, "status": status, "tm_update": stamp} for target in message.get("targets", [])]
