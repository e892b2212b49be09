"""Per-queue figures: plain functions over rows, with ``now`` and the time zone passed in.

**Service level**, as shown: among a queue's callers who were answered today (entered service
today) or abandoned today, the share answered within the queue's ``service_level_seconds`` of
joining the queue::

    answered within the threshold ÷ (answered + abandoned)

Callers still waiting are left out: their outcome is not known yet. Every abandoned caller counts
against the level however briefly they waited, so a queue does not look better because its
callers give up. A caller whose wait cannot be told (no join time) counts as answered late. With
nobody answered or abandoned today the level is unknown (—), not 100 %. "Today" is the local day
in the account's time zone (the ``Account`` with the customer id, else ``settings.TIME_ZONE``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Min, Q

from dashboard.models import Account, Agent, Queue, Queuecall

WAITING_STATUSES = ("waiting", "connecting")  # what VoIPBIN keeps in a queue's wait_queuecall_ids
ABANDONED = "abandoned"
AGENT_BUCKETS = ("available", "busy", "away", "offline")
# An agent being offered a call (ringing) cannot take another: busy. Anything unknown: offline.
_AGENT_BUCKET = {"available": "available", "busy": "busy", "ringing": "busy", "away": "away"}


class Level(enum.StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"


def shares_tag(agent_tags: Iterable[str], queue_tags: Iterable[str]) -> bool:
    """An agent belongs to a queue when they share a tag id (how VoIPBIN routes queue calls)."""
    return not set(agent_tags).isdisjoint(queue_tags)


def agent_bucket(status: str) -> str:
    return _AGENT_BUCKET.get(status, "offline")


def account_time_zone(customer_id: str) -> ZoneInfo:
    """The account's time zone, which decides where "today" starts."""
    name = Account.objects.filter(customer_id=customer_id).values_list("time_zone", flat=True).first()
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ValueError, KeyError):
        return ZoneInfo(settings.TIME_ZONE)


def local_day(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end of ``now``'s day in ``tz`` (23 or 25 hours long on a DST change)."""
    day = now.astimezone(tz).date()
    return (
        datetime.combine(day, time.min, tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz),
    )


@dataclass(frozen=True)
class QueueSummary:
    queue: Queue
    waiting: int = 0
    longest_since: datetime | None = None  # when the longest-waiting caller joined (the page ticks)
    longest_wait: timedelta | None = None
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    agents: dict[str, int] = field(default_factory=dict)  # bucket → count
    level: Level = Level.NORMAL
    reasons: tuple[str, ...] = ()

    @property
    def service_level(self) -> float | None:
        """Percent, or None when nobody was answered or abandoned today (see the module docstring)."""
        offered = self.answered + self.abandoned
        return 100.0 * self.answered_in_time / offered if offered else None

    @property
    def agent_counts(self) -> list[tuple[str, int]]:
        return [(bucket, self.agents.get(bucket, 0)) for bucket in AGENT_BUCKETS]


def _seconds(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


def assess(
    queue: Queue, *, waiting: int, longest_wait: timedelta | None, service_level: float | None
) -> tuple[Level, tuple[str, ...]]:
    """The queue's state against its thresholds, and why: the worst level wins, with all its reasons.

    A count or wait threshold of 0 is off; a service-level threshold applies only once the level
    is known.
    """
    levels = (
        (
            Level.CRITICAL,
            queue.critical_waiting,
            queue.critical_longest_wait_seconds,
            queue.critical_service_level,
        ),
        (Level.WARNING, queue.warn_waiting, queue.warn_longest_wait_seconds, queue.warn_service_level),
    )
    for level, count, wait_seconds, percent in levels:
        reasons = []
        if count and waiting >= count:
            reasons.append(f"{waiting} waiting (limit {count})")
        limit = timedelta(seconds=wait_seconds)
        if wait_seconds and longest_wait is not None and longest_wait >= limit:
            reasons.append(f"longest wait {_seconds(longest_wait)} (limit {_seconds(limit)})")
        if service_level is not None and service_level < percent:
            reasons.append(f"service level {service_level:.0f} % (below {percent} %)")
        if reasons:
            return level, tuple(reasons)
    return Level.NORMAL, ()


def summarize(queues: Sequence[Queue], *, now: datetime, tz: ZoneInfo) -> list[QueueSummary]:
    """Figures for each queue, in the order given: three queries whatever the number of queues."""
    if not queues:
        return []
    ids = [queue.pk for queue in queues]
    customers = {queue.customer_id for queue in queues}
    calls = Queuecall.objects.filter(customer_id__in=customers, queue_id__in=ids)

    waiting = {
        row["queue_id"]: row
        for row in calls.filter(status__in=WAITING_STATUSES)
        .values("queue_id")
        .annotate(count=Count("pk"), oldest=Min("tm_create"))
    }

    start, end = local_day(now, tz)
    answered: dict[str, int] = dict.fromkeys(ids, 0)
    in_time: dict[str, int] = dict.fromkeys(ids, 0)
    abandoned: dict[str, int] = dict.fromkeys(ids, 0)
    limits = {queue.pk: timedelta(seconds=queue.service_level_seconds) for queue in queues}
    today = calls.filter(
        Q(tm_service__gte=start, tm_service__lt=end) | Q(status=ABANDONED, tm_end__gte=start, tm_end__lt=end)
    ).values_list("queue_id", "status", "tm_create", "tm_service")
    for queue_id, status, joined, serviced in today:
        if status == ABANDONED:
            abandoned[queue_id] += 1
            continue
        answered[queue_id] += 1
        if joined is not None and serviced - joined <= limits[queue_id]:
            in_time[queue_id] += 1

    agents = list(
        Agent.objects.filter(customer_id__in=customers).values_list("customer_id", "tag_ids", "status")
    )

    summaries = []
    for queue in queues:
        buckets = dict.fromkeys(AGENT_BUCKETS, 0)
        for customer_id, tags, status in agents:
            if customer_id == queue.customer_id and shares_tag(tags or (), queue.tag_ids or ()):
                buckets[agent_bucket(status)] += 1
        wait = waiting.get(queue.pk, {})
        oldest = wait.get("oldest")
        longest = max(now - oldest, timedelta(0)) if oldest else None
        summary = QueueSummary(
            queue=queue,
            waiting=wait.get("count", 0),
            longest_since=oldest,
            longest_wait=longest,
            answered=answered[queue.pk],
            answered_in_time=in_time[queue.pk],
            abandoned=abandoned[queue.pk],
            agents=buckets,
        )
        level, reasons = assess(
            queue, waiting=summary.waiting, longest_wait=longest, service_level=summary.service_level
        )
        summaries.append(replace(summary, level=level, reasons=reasons))
    return summaries
