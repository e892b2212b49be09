"""A resource change and the name VoIPBIN's code gives it (VOIPBIN.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboard.simulator.resources import CALL_STATUSES

_STATUS_EVENTS: dict[str, dict[str, str]] = {
    "call": {status: f"call_{status}" for status in CALL_STATUSES},
    "queuecall": {
        "waiting": "queuecall_waiting",
        "connecting": "queuecall_connecting",
        "service": "queuecall_serviced",
        "done": "queuecall_done",
        "abandoned": "queuecall_abandoned",
    },
}


@dataclass(frozen=True, slots=True)
class Change:
    """One resource change: what every dialect renders and every listener sees."""

    resource: str
    event: str
    """The code's event name, e.g. ``call_progressing``."""
    data: Mapping[str, Any]
    """The whole resource after the change (internal view, queue_id included)."""
    created: bool = False
    entered_status: str | None = None
    """The status the resource moved into, when this change moved it."""

    @property
    def resource_id(self) -> str:
        return str(self.data["id"])

    @property
    def customer_id(self) -> str:
        return str(self.data.get("customer_id", ""))


def code_event_name(resource: str, *, created: bool, entered_status: str | None, status: str | None) -> str:
    if created:
        return f"{resource}_created"
    if resource == "agent":
        return "agent_status_updated" if entered_status else "agent_updated"
    by_status = _STATUS_EVENTS.get(resource, {})
    if entered_status in by_status:
        return by_status[entered_status]
    if resource == "queuecall":
        # The code has no queuecall_updated: a change that moves no status is named after the current one.
        return by_status.get(status or "", "queuecall_created")
    return f"{resource}_updated"
