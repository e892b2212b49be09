"""Agent, queue and queuecall events applied to live state, as ``dashboard.live`` applies calls.

Idempotent and in VoIPBIN's order (``dashboard.rows.upsert``).

VoIPBIN's code dialects omit a queuecall's ``queue_id`` (VOIPBIN.md §5); then it comes from the
queues' ``wait_queuecall_ids`` / ``service_queuecall_ids`` as the last queue event or REST fetch
left them, in whichever order the queuecall and the queue arrive.

Each change names the queue cards it moves and the topics it goes out under: the customer's, and
for queue cards the ``agent_id:<member>:queue:<id>`` topic of each agent belonging to the queue and
of no one else, so an agent's page socket only ever receives cards of their own queues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from dashboard.changes import Change
from dashboard.models import SETTLED, Agent, LiveResource, Queue, Queuecall
from dashboard.queues.stats import shares_tag
from dashboard.rows import upsert
from dashboard.voipbin.events import Event, changed_at, parse_time
from dashboard.voipbin.topics import format_topic, resource_topics

logger = logging.getLogger(__name__)

SERVICE_STATUSES = ("service", "done")
END_STATUSES = ("done", "abandoned")


@dataclass(frozen=True)
class QueueChange(Change):
    """A change that moves queue cards (``queue_ids``) and goes out under ``published`` only.

    ``former_queue_ids``: queues an agent left with this change; their cards change for
    supervisors, but the agent is no longer shown them.
    """

    queue_ids: tuple[str, ...] = ()
    former_queue_ids: tuple[str, ...] = ()
    published: tuple[str, ...] = ()

    @property
    def topics(self) -> list[str]:
        return list(self.published) + [topic for topic in self.also if topic not in self.published]


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value if item] if isinstance(value, list | tuple) else []


def _event_time(event: Event) -> datetime:
    return changed_at(event.data) or event.timestamp


def _customer_id(event: Event, data: dict[str, Any], row: LiveResource | None) -> str:
    return str(data.get("customer_id") or event.customer_id or (row.customer_id if row else "") or "")


# --- agents -----------------------------------------------------------------------------------


@transaction.atomic
def apply_agent(event: Event) -> QueueChange | None:
    """An agent's status or details; ``status_since`` moves only when the status does."""
    if not event.resource_id:
        return None
    former_tags: list[str] = []

    def fields_of(data: dict[str, Any], row: Agent | None) -> dict[str, Any] | None:
        nonlocal former_tags
        customer_id = _customer_id(event, data, row)
        if not customer_id:
            logger.warning("agent %s without a customer id skipped", event.resource_id)
            return None
        status = str(data.get("status") or "")
        fields = {
            "customer_id": customer_id,
            "owner_agent_id": str(event.resource_id),
            "status": status,
            "tm_update": changed_at(data),
            "name": str(data.get("name") or ""),
            "username": str(data.get("username") or ""),
            "tag_ids": _strings(data.get("tag_ids")),
        }
        if row is None or row.status != status or row.status_since is None:
            fields["status_since"] = _event_time(event)
        if row is not None:
            former_tags = list(row.tag_ids or ())
        return fields

    done = upsert(Agent, event, fields_of)
    if done is None or not done.changed:
        return None
    agent: Agent = done.row
    queues = Queue.objects.filter(customer_id=agent.customer_id).only("pk", "tag_ids")
    now_in = tuple(q.pk for q in queues if shares_tag(agent.tag_ids or (), q.tag_ids or ()))
    was_in = tuple(q.pk for q in queues if shares_tag(former_tags, q.tag_ids or ()) and q.pk not in now_in)
    return QueueChange(
        "agent",
        agent,
        created=done.created,
        queue_ids=now_in,
        former_queue_ids=was_in,
        published=tuple(
            resource_topics(
                resource="agent", resource_id=agent.pk, customer_id=agent.customer_id, owner_agent_id=agent.pk
            )
        ),
    )


# --- queues -----------------------------------------------------------------------------------


def queue_topics(queue: Queue) -> list[str]:
    """Where a queue card goes: the customer, and each agent belonging to the queue."""
    members = [
        agent_id
        for agent_id, tags in Agent.objects.filter(customer_id=queue.customer_id).values_list("pk", "tag_ids")
        if shares_tag(tags or (), queue.tag_ids or ())
    ]
    return [
        format_topic("customer_id", queue.customer_id, "queue", queue.pk),
        *(format_topic("agent_id", agent_id, "queue", queue.pk) for agent_id in members),
    ]


def _map_queuecalls(queue: Queue) -> int:
    """Give the queue's listed queuecalls whose queue we did not know yet their queue."""
    listed = _strings(queue.wait_queuecall_ids) + _strings(queue.service_queuecall_ids)
    if not listed:
        return 0
    return Queuecall.objects.filter(customer_id=queue.customer_id, queue_id="", pk__in=listed).update(
        queue_id=queue.pk
    )


@transaction.atomic
def apply_queue(event: Event) -> QueueChange | None:
    """A queue's name, tags and queuecall lists (thresholds are ours and stay)."""
    if not event.resource_id:
        return None

    def fields_of(data: dict[str, Any], row: Queue | None) -> dict[str, Any] | None:
        customer_id = _customer_id(event, data, row)
        if not customer_id:
            logger.warning("queue %s without a customer id skipped", event.resource_id)
            return None
        return {
            "customer_id": customer_id,
            "status": str(data.get("status") or ""),
            "tm_update": changed_at(data),
            "name": str(data.get("name") or ""),
            "tag_ids": _strings(data.get("tag_ids")),
            "wait_queuecall_ids": _strings(data.get("wait_queuecall_ids")),
            "service_queuecall_ids": _strings(data.get("service_queuecall_ids")),
        }

    done = upsert(Queue, event, fields_of)
    if done is None:
        return None
    queue: Queue = done.row
    mapped = _map_queuecalls(queue)
    if not done.changed and not mapped:
        return None
    return QueueChange(
        "queue", queue, created=done.created, queue_ids=(queue.pk,), published=tuple(queue_topics(queue))
    )


# --- queuecalls -------------------------------------------------------------------------------


def _listed_in(customer_id: str, queuecall_id: str) -> Queue | None:
    """The queue whose lists hold the queuecall (few queues per account: read them all)."""
    for queue in Queue.objects.filter(customer_id=customer_id).only(
        "pk", "customer_id", "wait_queuecall_ids", "service_queuecall_ids"
    ):
        if queuecall_id in (queue.wait_queuecall_ids or ()) or queuecall_id in (
            queue.service_queuecall_ids or ()
        ):
            return queue
    return None


def _milliseconds_after(start: datetime | None, value: Any) -> datetime | None:
    if start is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return start + timedelta(milliseconds=value)


@transaction.atomic
def apply_queuecall(event: Event) -> QueueChange | None:
    """A caller's stay in a queue; its queue from the event, else from the queues' lists."""
    if not event.resource_id:
        return None
    queuecall_id = str(event.resource_id)

    def fields_of(data: dict[str, Any], row: Queuecall | None) -> dict[str, Any] | None:
        queue_id = str(data.get("queue_id") or (row.queue_id if row else "") or "")
        customer_id = _customer_id(event, data, row)
        if not customer_id and queue_id:
            customer_id = (
                Queue.objects.filter(pk=queue_id).values_list("customer_id", flat=True).first() or ""
            )
        if not customer_id:
            logger.warning("queuecall %s without a customer id skipped", queuecall_id)
            return None
        if not queue_id:
            listed = _listed_in(customer_id, queuecall_id)
            queue_id = listed.pk if listed else ""
        status = str(data.get("status") or "")
        now = _event_time(event)
        joined = parse_time(data.get("tm_create")) or (row.tm_create if row else None) or now
        serviced = parse_time(data.get("tm_service")) or (row.tm_service if row else None)
        if serviced is None and status in SERVICE_STATUSES and not data.get(SETTLED):  # settled: unknown
            serviced = _milliseconds_after(joined, data.get("duration_waiting")) or now
        ended = parse_time(data.get("tm_end")) or (row.tm_end if row else None)
        if ended is None and status in END_STATUSES:
            ended = now
        return {
            "customer_id": customer_id,
            "owner_agent_id": str(data.get("service_agent_id") or ""),
            "status": status,
            "tm_update": changed_at(data),
            "queue_id": queue_id,
            "reference_id": str(data.get("reference_id") or data.get("call_id") or ""),
            "service_agent_id": str(data.get("service_agent_id") or ""),
            "tm_create": joined,
            "tm_service": serviced,
            "tm_end": ended,
        }

    done = upsert(Queuecall, event, fields_of)
    if done is None or not done.changed:
        return None
    row: Queuecall = done.row
    published = [format_topic("customer_id", row.customer_id, "queuecall", row.pk)]
    queue = (
        Queue.objects.filter(pk=row.queue_id, customer_id=row.customer_id).first() if row.queue_id else None
    )
    if queue is not None:
        published += queue_topics(queue)
    return QueueChange(
        "queuecall",
        row,
        created=done.created,
        queue_ids=(queue.pk,) if queue else (),
        published=tuple(published),
    )


APPLY: dict[str, Callable[[Event], QueueChange | None]] = {
    "agent": apply_agent,
    "queue": apply_queue,
    "queuecall": apply_queuecall,
}
"""By event resource, for ``dashboard.live.apply_event`` to dispatch to."""
