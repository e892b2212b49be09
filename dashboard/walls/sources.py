"""Where the wall's panels get their figures: the queues page's and the inbox's own queries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.inbox import threads
from dashboard.models import Account, Message, Queue
from dashboard.queues import stats


def queue_summaries(account: Account, *, now: datetime) -> list[stats.QueueSummary]:
    queues = list(Queue.objects.filter(customer_id=account.customer_id).order_by("name", "pk"))
    return stats.summarize(queues, now=now, tz=ZoneInfo(account.time_zone))


def unanswered_threads(account: Account, *, limit: int) -> list[Message]:
    """The threads awaiting a person (``threads.awaiting_person``: as the inbox's filter counts them)."""
    return threads.waiting_threads(customer_id=account.customer_id, limit=limit)


def unanswered_count(account: Account) -> int:
    """How many threads await a person, beyond the few the panel lists."""
    return threads.waiting_count(customer_id=account.customer_id)
