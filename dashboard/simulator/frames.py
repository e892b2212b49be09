"""The three wire dialects (VOIPBIN.md §4): where an event is published and how it looks.

* ``tutorial`` — ``{"event_type", "timestamp", "topic", "data"}``, ``*`` wildcard
  matching; queuecalls travel under the queue they wait in.
* ``legacy`` — ``{"type": <code event name>, "data": …}``.
* ``bare`` — the resource object alone.

The two code dialects match by plain string prefix and publish every event a
second time under ``<scope>:<id>:<resource>:<event>:<resource-id>``, as
VoIPBIN's code does, so a three-part subscription receives it twice. Their
``agent_id:`` topics carry only the calls an agent owns.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dashboard.simulator.events import Change
from dashboard.simulator.resources import ZERO_ID, public_view
from dashboard.voipbin.topics import Semantics, format_topic

if TYPE_CHECKING:
    from dashboard.simulator.state import State


class Dialect(enum.StrEnum):
    TUTORIAL = "tutorial"
    LEGACY = "legacy"
    BARE = "bare"

    @property
    def semantics(self) -> Semantics:
        return Semantics.TUTORIAL if self is Dialect.TUTORIAL else Semantics.PREFIX


def _owner_agent_id(change: Change, dialect: Dialect) -> str | None:
    """The agent whose ``agent_id:`` scope also carries this event.

    VoIPBIN's code publishes there only for a resource with a non-zero ``owner_id``, and of ours
    only calls have one. The tutorial also gives an agent its own status and its queuecalls.
    """
    data = change.data
    if change.resource == "call":
        owner = data.get("owner_id") if data.get("owner_type") == "agent" else None
        return owner if owner != ZERO_ID else None
    if dialect is not Dialect.TUTORIAL:
        return None
    if change.resource == "agent":
        return change.resource_id
    if change.resource == "queuecall":
        return data.get("service_agent_id")
    return None


def publication_topics(change: Change, dialect: Dialect, state: State) -> list[str]:
    """Every topic the event is published under, in the given dialect."""
    customer_id = change.customer_id
    queue_id = change.data.get("queue_id")
    if dialect is Dialect.TUTORIAL and change.resource == "queuecall" and queue_id:
        members = [agent["id"] for agent in state.agents_serving(queue_id)]
        return [format_topic("customer_id", customer_id, "queue", queue_id)] + [
            format_topic("agent_id", agent_id, "queue", queue_id) for agent_id in members
        ]

    scopes = [("customer_id", customer_id)]
    if owner := _owner_agent_id(change, dialect):
        scopes.append(("agent_id", owner))
    topics = [
        format_topic(scope, scope_id, change.resource, change.resource_id) for scope, scope_id in scopes
    ]
    if dialect is not Dialect.TUTORIAL:
        topics += [
            format_topic(scope, scope_id, change.resource, f"{change.event}:{change.resource_id}")
            for scope, scope_id in scopes
        ]
    return topics


def tutorial_event_type(change: Change) -> str:
    resource, action = change.resource, change.event.partition("_")[2]
    if resource in ("call", "agent"):
        return f"{resource}.status"
    if resource == "queuecall":
        return "queue.joined" if "waiting" in (change.entered_status, action) else "queuecall.updated"
    if resource == "message" and change.created:
        return "message.received" if change.data.get("direction") == "inbound" else "message.created"
    return f"{resource}.{action if action in ('created', 'deleted') else 'updated'}"


def tutorial_data(change: Change) -> Mapping[str, Any]:
    """The tutorial's payload: the resource, plus the ids its examples read."""
    data = public_view(change.resource, change.data)
    if change.resource == "queuecall":
        extra = {"call_id": change.data.get("reference_id"), "queue_id": change.data.get("queue_id")}
        return {**data, **{key: value for key, value in extra.items() if value}}
    if change.resource == "agent":
        return {**data, "agent_id": change.resource_id}
    return data


def render(change: Change, dialect: Dialect, topic: str) -> str:
    """The text frame for one event published under ``topic``."""
    if dialect is Dialect.TUTORIAL:
        frame: Mapping[str, Any] = {
            "event_type": tutorial_event_type(change),
            "timestamp": change.data.get("tm_update") or change.data.get("tm_create", ""),
            "topic": topic,
            "data": tutorial_data(change),
        }
    elif dialect is Dialect.LEGACY:
        frame = {"type": change.event, "data": public_view(change.resource, change.data)}
    else:
        frame = public_view(change.resource, change.data)
    return json.dumps(frame, separators=(",", ":"))
