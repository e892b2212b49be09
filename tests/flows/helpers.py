"""Activeflow events and calls for the flows tests, in VoIPBIN's shapes and all three dialects."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.changes import Change
from dashboard.flows.state import apply_activeflow
from dashboard.live import apply_event
from dashboard.models import ActiveflowStep, Call, User
from dashboard.simulator.accounts import CUSTOMERS, DEMO_CUSTOMER_ID, DEMO_FLOW_ID
from dashboard.simulator.resources import address, call_record, flow_action
from dashboard.simulator.timestamps import format_time
from dashboard.voipbin.events import normalize, parse_time
from dashboard.voipbin.topics import format_topic

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """A VoIPBIN timestamp ``seconds`` after T0."""
    return format_time(T0 + timedelta(seconds=seconds))


def when(seconds: float) -> datetime:
    moment = parse_time(at(seconds))
    assert moment is not None
    return moment


def new_id() -> str:
    return str(uuid.uuid4())


def activeflow(
    activeflow_id: str,
    kind: str,
    seconds: float,
    *,
    call_id: str | None = None,
    status: str = "running",
    executed: tuple[str, ...] = (),
    customer_id: str = DEMO_CUSTOMER_ID,
    flow_id: str = DEMO_FLOW_ID,
) -> dict[str, Any]:
    """The activeflow resource as VoIPBIN's code sends it, in action ``kind`` since ``seconds``."""
    data = {
        "id": activeflow_id,
        "customer_id": customer_id,
        "flow_id": flow_id,
        "status": status,
        "reference_type": "call",
        "reference_id": call_id or new_id(),
        "current_action": flow_action(flow_id, kind),
        "executed_actions": [flow_action(flow_id, done) for done in executed],
        "tm_create": at(0),
        "tm_update": at(seconds),
    }
    if status == "ended":
        data["tm_end"] = at(seconds)
    return data


def tutorial(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_type": "activeflow.updated",
        "timestamp": data["tm_update"],
        "topic": format_topic("customer_id", data["customer_id"], "activeflow", data["id"]),
        "data": data,
    }


def legacy(data: dict[str, Any], name: str = "activeflow_updated") -> dict[str, Any]:
    return {"type": name, "data": data}


def bare(data: dict[str, Any]) -> dict[str, Any]:
    return data


DIALECTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "tutorial": tutorial,
    "legacy": legacy,
    "bare": bare,
}


def apply(frame: dict[str, Any]) -> Change | None:
    """One frame, any dialect, through normalize and the activeflow apply."""
    return apply_activeflow(normalize(frame))


def steps(activeflow_id: str) -> list[tuple[str, datetime]]:
    """The recorded steps, as the timeline orders them (VoIPBIN time)."""
    rows = ActiveflowStep.objects.filter(activeflow_id=activeflow_id).order_by("started_at", "pk")
    return [(step.action_type, step.started_at) for step in rows]


def remember_call(
    call_id: str,
    *,
    activeflow_id: str | None = None,
    owner_id: str | None = None,
    customer_id: str = DEMO_CUSTOMER_ID,
    status: str = "progressing",
) -> Call:
    """A call in live state as its event would put it there."""
    data = call_record(
        call_id=call_id,
        customer_id=customer_id,
        direction="incoming",
        source=address("+12025550111"),
        destination=address("+15555550101"),
        status=status,
        stamp=at(0),
        flow_id=DEMO_FLOW_ID,
        activeflow_id=activeflow_id,
        owner_agent_id=owner_id,
    )
    change = apply_event(normalize(legacy({**data, "tm_update": at(0)}, "call_updated")))
    assert change is not None
    assert isinstance(change.row, Call)
    return change.row


def person(username: str) -> User:
    """A signed-in user as VoIPBIN's /me describes the simulator's agent ``username`` (no token needed)."""
    agent = next(agent for customer in CUSTOMERS for agent in customer.agents if agent.username == username)
    customer = next(customer for customer in CUSTOMERS if agent in customer.agents)
    user, _ = User.objects.update_or_create(
        username=username,
        defaults={"customer_id": customer.id, "agent_id": agent.id, "permission": int(agent.permission)},
    )
    return user
