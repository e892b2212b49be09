"""Events and rows for the queues tests, in VoIPBIN's shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.models import User
from dashboard.queues.state import APPLY, QueueChange
from dashboard.simulator.accounts import CUSTOMERS, DEMO_CUSTOMER_ID
from dashboard.simulator.resources import agent_record, queue_record
from dashboard.simulator.timestamps import format_time
from dashboard.voipbin.events import normalize

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """A VoIPBIN timestamp ``seconds`` after T0."""
    return format_time(T0 + timedelta(seconds=seconds))


def apply(frame: dict[str, Any]) -> QueueChange | None:
    """One frame, any dialect, through normalize and the matching apply function."""
    event = normalize(frame)
    return APPLY[event.resource](event)


def legacy(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": name, "data": data}


def seed_accounts(*, stamp: str | None = None) -> None:
    """Every demo queue and agent as a supervisor's REST backfill would store them."""
    for customer in CUSTOMERS:
        for queue in customer.queues:
            apply(legacy("queue_updated", {**queue_record(customer.id, queue), "tm_update": stamp or at(0)}))
        for agent in customer.agents:
            apply(legacy("agent_updated", {**agent_record(customer.id, agent), "tm_update": stamp or at(0)}))


def queuecall(
    queuecall_id: str, status: str, seconds: float, *, queue_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A queuecall as the code dialects send it (no queue_id unless given)."""
    data = {
        "id": queuecall_id,
        "customer_id": DEMO_CUSTOMER_ID,
        "reference_type": "call",
        "reference_id": f"call-of-{queuecall_id}",
        "status": status,
        "tm_create": at(0),
        "tm_update": at(seconds),
        **fields,
    }
    if queue_id:
        data["queue_id"] = queue_id
    return data


def person(*, agent_id: str, permission: int, customer_id: str = DEMO_CUSTOMER_ID) -> User:
    """An unsaved user, enough for topic and visibility decisions."""
    return User(username=agent_id[:8], customer_id=customer_id, agent_id=agent_id, permission=permission)
