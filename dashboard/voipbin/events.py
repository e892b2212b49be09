"""Normalize VoIPBIN's three wire dialects into one ``Event``.

VOIPBIN.md §4: the tutorial envelope ``{event_type, timestamp, topic, data}``,
the legacy ``{type, data}`` wrapper and the bare resource object all arrive on
the same socket. Whatever came in, the rest of the product sees an ``Event``
with a dotted type (``call.status``), the original name, the resource and its
ids, and the resource data. Delivery may be duplicated and out of order, so
an event carries a de-duplication key and can be compared by ``tm_update``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dashboard.voipbin.topics import resource_topics

logger = logging.getLogger(__name__)

RESOURCES = frozenset(
    {"call", "queuecall", "queue", "agent", "message", "activeflow", "flow", "conference", "conversation"}
)

CALL_STATUSES = ("dialing", "ringing", "progressing", "terminating", "canceling", "hangup")
QUEUECALL_STATUSES = ("initiating", "waiting", "connecting", "kicking", "service", "done", "abandoned")
AGENT_STATUSES = ("available", "away", "busy", "offline", "ringing")

# How far along its life a resource is, for a tie on tm_update: a later status wins.
_STATUS_RANK: dict[str, int] = {
    **{status: rank for rank, status in enumerate(CALL_STATUSES)},
    "answered": CALL_STATUSES.index("progressing"),
    **{status: rank for rank, status in enumerate(QUEUECALL_STATUSES)},
    "running": 0,
    "ended": 1,
}


ZERO_ID = "00000000-0000-0000-0000-000000000000"
"""What VoIPBIN sends for an id that is not set (Go's ``uuid.Nil``): it means none."""


RESERVED_ACTION_IDS = frozenset(f"00000000-0000-0000-0000-00000000000{n}" for n in (1, 2, 3))
"""Flow-manager's start, finish and next placeholders: where a flow stands, never a step it ran."""


def scrub(value: Any) -> Any:
    """``value`` with every zero UUID, at any depth, turned into None: "no owner", "no flow"."""
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return None if value == ZERO_ID else value


class FrameError(ValueError):
    """A frame that cannot become an Event. ``kind`` names the counter it bumps."""

    kind = "malformed"


class MalformedFrame(FrameError):
    kind = "malformed"


class UnknownFrame(FrameError):
    kind = "unknown"


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # dotted: call.status, message.received, queue.joined, agent.status …
    name: str | None  # as it arrived: "call.status", "call_hangup", or None for a bare object
    dialect: str  # tutorial | legacy | bare
    resource: str
    resource_id: str | None
    customer_id: str | None
    owner_agent_id: str | None
    timestamp: datetime
    topic: str | None
    data: Mapping[str, Any] = field(repr=False)

    @property
    def status(self) -> str | None:
        status = self.data.get("status")
        return status if isinstance(status, str) else None

    @property
    def tm_update(self) -> datetime | None:
        """VoIPBIN's time of this state: ``tm_update``, or ``tm_create`` on a create event (null then)."""
        return changed_at(self.data)

    @property
    def key(self) -> str:
        """Same key for the same change, whichever dialect or topic delivered it."""
        stamp = self.data.get("tm_update") or self.data.get("tm_create")
        if not isinstance(stamp, str) or not stamp:
            stamp = hashlib.blake2b(
                json.dumps(self.data, sort_keys=True, default=str).encode(), digest_size=12
            ).hexdigest()
        return f"{self.resource}:{self.resource_id or '-'}:{self.status or '-'}:{stamp}"

    def topics(self) -> list[str]:
        """Concrete topics this event belongs to, for filtering against subscriptions."""
        rid = self.resource_id or "*"
        resource = "queue" if self.resource == "queuecall" and self.data.get("queue_id") else self.resource
        if resource == "queue":
            rid = str(self.data.get("queue_id") or rid)
        found = resource_topics(
            resource=resource,
            resource_id=rid,
            customer_id=self.customer_id,
            owner_agent_id=self.owner_agent_id,
        )
        return list(dict.fromkeys([self.topic, *found] if self.topic else found))


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as VoIPBIN writes it (Go's RFC3339Nano: up to nine digits, ``Z``); None when
    absent or unreadable. Python keeps microseconds: the digits after the sixth are dropped."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def changed_at(data: Mapping[str, Any]) -> datetime | None:
    """When the resource last changed: ``tm_update``, which VoIPBIN leaves null (or out) until the
    first update, so a create event's ``tm_create``."""
    return parse_time(data.get("tm_update")) or parse_time(data.get("tm_create"))


def newer_than(candidate: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Should ``candidate`` (resource data) replace ``current``?

    By ``changed_at`` first; on a tie or when a side lacks it, the status further
    along the resource's life wins, so a late ``ringing`` never undoes a
    ``hangup``. Identical data is not newer (duplicates change nothing).
    """
    if current is None:
        return True
    new_tm, old_tm = changed_at(candidate), changed_at(current)
    if new_tm and old_tm and new_tm != old_tm:
        return new_tm > old_tm
    new_rank = _STATUS_RANK.get(str(candidate.get("status")), -1)
    old_rank = _STATUS_RANK.get(str(current.get("status")), -1)
    if new_rank != old_rank:
        return new_rank > old_rank
    if new_tm and old_tm:
        return False  # same time, same stage: a duplicate
    return dict(candidate) != dict(current)


# --- dialects -------------------------------------------------------------------------------

# Code event names (resource_verb) to the dotted type the product uses. Names not
# listed map to "<resource>.<verb>".
_CODE_TYPES = {
    **{f"call_{verb}": "call.status" for verb in ("created", "updated", *CALL_STATUSES)},
    "call_deleted": "call.deleted",
    "queuecall_waiting": "queue.joined",
    "agent_status_updated": "agent.status",
}


def _infer_resource(data: Mapping[str, Any]) -> str | None:
    """Which resource a bare object is, from the fields only that resource has."""
    if "targets" in data and "text" in data:
        return "message"
    if "current_action" in data or "executed_actions" in data:
        return "activeflow"
    if "wait_queuecall_ids" in data or "service_queuecall_ids" in data or "routing_method" in data:
        return "queue"
    if "reference_type" in data and (
        "service_agent_id" in data
        or "duration_waiting" in data
        or "queue_id" in data
        or data.get("status") in QUEUECALL_STATUSES
    ):
        return "queuecall"
    if "conferencecall_ids" in data:
        return "conference"
    if "username" in data and ("permission" in data or data.get("status") in AGENT_STATUSES):
        return "agent"
    if ("source" in data or "destination" in data) and data.get("status") in (*CALL_STATUSES, "answered"):
        return "call"
    if "hangup_reason" in data or "tm_hangup" in data or ("direction" in data and "destination" in data):
        return "call"
    return None


def _bare_type(resource: str, data: Mapping[str, Any]) -> str:
    status = data.get("status")
    if resource == "call":
        return "call.status"
    if resource == "agent":
        return "agent.status"
    if resource == "queuecall":
        return "queue.joined" if status == "waiting" else "queuecall.updated"
    if resource == "message":
        return "message.received" if data.get("direction") == "inbound" else "message.updated"
    return f"{resource}.updated"


def _code_type(name: str, data: Mapping[str, Any]) -> tuple[str, str]:
    resource, _, verb = name.partition("_")
    if resource not in RESOURCES or not verb:
        raise UnknownFrame(f"unknown event name {name!r}")
    if resource == "message" and verb in ("created", "updated") and data.get("direction") == "inbound":
        return resource, "message.received"
    return resource, _CODE_TYPES.get(name, f"{resource}.{verb}")


def _tutorial_resource(event_type: str, topic: str | None) -> str:
    prefix = event_type.partition(".")[0]
    if event_type == "queue.joined" or prefix == "queuecall":
        return "queuecall"
    if prefix in RESOURCES:
        return prefix
    topic_parts = (topic or "").split(":")
    if len(topic_parts) >= 3 and topic_parts[2] in RESOURCES:
        return topic_parts[2]
    raise UnknownFrame(f"unknown event type {event_type!r}")


def _ids(
    resource: str, data: Mapping[str, Any], topic: str | None
) -> tuple[str | None, str | None, str | None]:
    resource_id = data.get("id") or data.get(f"{resource}_id")
    customer_id = data.get("customer_id")
    owner = None
    if resource == "agent":
        owner = resource_id
    elif resource == "call" and data.get("owner_type", "agent") == "agent":
        owner = data.get("owner_id") or None
    elif resource == "queuecall":
        owner = data.get("service_agent_id") or None
    parts = (topic or "").split(":")
    if len(parts) >= 2:
        if parts[0] == "customer_id" and not customer_id:
            customer_id = parts[1]
        elif parts[0] == "agent_id" and not owner:
            owner = parts[1]
    return (
        str(resource_id) if resource_id else None,
        str(customer_id) if customer_id else None,
        str(owner) if owner else None,
    )


def normalize(obj: Any) -> Event:
    """One decoded JSON frame (or a REST row), any dialect, to an Event. Raises FrameError.

    Zero UUIDs in the resource become None here, once for every consumer.
    """
    if not isinstance(obj, dict):
        raise MalformedFrame(f"expected a JSON object, got {type(obj).__name__}")
    obj = scrub(obj)
    topic = obj.get("topic") if isinstance(obj.get("topic"), str) else None
    if isinstance(obj.get("event_type"), str):
        dialect, name = "tutorial", obj["event_type"]
        data = obj.get("data")
        if not isinstance(data, dict):
            raise MalformedFrame(f"{name}: 'data' is not an object")
        event_type = name
        resource = _tutorial_resource(name, topic)
        stamp = parse_time(obj.get("timestamp"))
    elif set(obj) == {"type", "data"} and isinstance(obj["data"], dict) and isinstance(obj["type"], str):
        dialect, name, data = "legacy", obj["type"], obj["data"]
        resource, event_type = _code_type(name, data)
        stamp = None
    else:
        dialect, name, data = "bare", None, obj
        inferred = _infer_resource(data)
        if inferred is None:
            raise UnknownFrame(f"cannot tell which resource has keys {sorted(data)[:8]}")
        resource, event_type = inferred, _bare_type(inferred, data)
        stamp = None
    resource_id, customer_id, owner = _ids(resource, data, topic)
    timestamp = stamp or changed_at(data) or datetime.now(UTC)
    return Event(
        type=event_type,
        name=name,
        dialect=dialect,
        resource=resource,
        resource_id=resource_id,
        customer_id=customer_id,
        owner_agent_id=owner,
        timestamp=timestamp,
        topic=topic,
        data=data,
    )


def parse_frame(raw: str | bytes) -> Event:
    """A text frame off the socket to an Event. Binary frames are malformed (VoIPBIN sends text).

    Many sessions of one customer receive the very same frame (every supervisor's session gets
    every call event): it is parsed once, and the others get the same, immutable, Event.
    """
    if isinstance(raw, bytes | bytearray):
        raise MalformedFrame(f"binary frame of {len(raw)} bytes")
    return _parse_text(raw)


@functools.lru_cache(maxsize=4096)
def _parse_text(raw: str) -> Event:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MalformedFrame(f"invalid JSON: {exc}") from None
    return normalize(obj)


class Deduper:
    """Remembers the last ``size`` event keys; ``seen()`` is True for a repeat."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def seen(self, key: str) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._keys)
