"""No ghosts: after a gap, what live state holds as active but VoIPBIN no longer lists as active is over.

A call that hung up while no socket listened, or whose end VoIPBIN never pushed, would otherwise
tick on the pages for good and count as waiting on the queue cards and the wall. Every backfill
hands the lists it fetched here; a row active here, inside the stretch of time the list covers,
that the list does not show active (and that nothing changed since the fetch began) is settled:
an event ends it, marked ``SETTLED``, timed a microsecond after the last change we knew, so any
real news VoIPBIN still has of it wins.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard.models import SETTLED, Activeflow, Call, LiveResource, Queuecall
from dashboard.queues.state import END_STATUSES
from dashboard.voipbin.events import Event, FrameError, changed_at, normalize, parse_time

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Ending:
    model: type[LiveResource]
    ended: tuple[str, ...]
    status: str  # what a settled row ends in
    event: str  # the code event that carries it
    time_field: str  # where the end is stamped


ENDINGS: dict[str, _Ending] = {
    # A queuecall's real outcome is unknown: "done" without a service time counts neither as
    # answered nor as abandoned in the queue figures, and no longer as waiting.
    "call": _Ending(Call, Call.ENDED, "hangup", "call_hangup", "tm_hangup"),
    "queuecall": _Ending(Queuecall, END_STATUSES, "done", "queuecall_done", "tm_end"),
    "activeflow": _Ending(Activeflow, Activeflow.ENDED, "ended", "activeflow_updated", "tm_end"),
}


@dataclass(frozen=True)
class Listing:
    """One REST list as fetched: newest first, ``complete`` when it reached the list's end."""

    resource: str
    items: Sequence[Mapping[str, Any]]
    complete: bool
    fetched_at: datetime  # our clock, taken before the request went out


def listing(
    resource: str, items: Sequence[Mapping[str, Any]], *, limit: int, fetched_at: datetime
) -> Listing:
    """A ``Listing`` of ``items`` fetched with ``limit``: shorter than the limit means all of it."""
    return Listing(resource, items, complete=len(items) < limit, fetched_at=fetched_at)


def settle_ghosts(found: Listing, customer_id: str) -> list[Event]:
    """Events that end this customer's rows the listing shows are no longer active (run in a thread)."""
    ending = ENDINGS[found.resource]
    listed_active = {
        str(item.get("id"))
        for item in found.items
        if isinstance(item, Mapping) and str(item.get("status") or "") not in ending.ended
    }
    rows = ending.model.objects.filter(customer_id=customer_id, received_at__lt=found.fetched_at).exclude(
        status__in=ending.ended
    )
    if not found.complete:  # only the stretch of time the list covers tells anything
        created = [parse_time(item.get("tm_create")) for item in found.items if isinstance(item, Mapping)]
        oldest = min((moment for moment in created if moment is not None), default=None)
        if oldest is None:
            return []
        rows = rows.filter(tm_create__gte=oldest)
    events = []
    for row in rows.exclude(pk__in=listed_active):
        known = changed_at(row.data) or row.tm_update or row.received_at
        stamp = (known + timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
        data = {
            **row.data,
            "status": ending.status,
            "tm_update": stamp,
            ending.time_field: stamp,
            SETTLED: True,
        }
        try:
            events.append(normalize({"type": ending.event, "data": data}))
        except FrameError as exc:  # a row we could store is always an event again; never fail the backfill
            logger.warning("%s %s not settled: %s", found.resource, row.pk, exc)
    if events:
        logger.info(
            "%d %s(s) of customer %s ended while disconnected: settled",
            len(events),
            found.resource,
            customer_id,
        )
    return events
