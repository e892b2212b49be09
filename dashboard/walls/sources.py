"""Where the wall's panels get their figures (provisional: replaced by the queues and inbox modules)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.inbox import threads
from dashboard.models import Account, Message, Queue


def queue_summaries(account: Account, *, now: datetime) -> list[dict[str, Any]]:
    return [
        {"name": q.name or q.pk, "waiting": len(q.wait_queuecall_ids or [])}
        for q in Queue.objects.filter(customer_id=account.customer_id).order_by("name")
    ]


def unanswered_threads(account: Account, *, limit: int) -> list[Message]:
    return threads.waiting_threads(customer_id=account.customer_id, limit=limit)
