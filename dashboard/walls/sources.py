"""Where the wall's panels get their figures (provisional: replaced by the queues and inbox modules)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Subquery

from dashboard.models import Account, Message, Queue


def queue_summaries(account: Account, *, now: datetime) -> list[dict[str, Any]]:
    return [
        {"name": q.name or q.pk, "waiting": len(q.wait_queuecall_ids or [])}
        for q in Queue.objects.filter(customer_id=account.customer_id).order_by("name")
    ]


def unanswered_threads(account: Account, *, limit: int) -> list[Message]:
    newest = Message.objects.filter(
        customer_id=OuterRef("customer_id"), our_number=OuterRef("our_number"), remote=OuterRef("remote")
    ).order_by("-tm_create", "-pk")
    rows = Message.objects.filter(customer_id=account.customer_id, direction="inbound").filter(
        pk=Subquery(newest.values("pk")[:1])
    )
    return list(rows.order_by("tm_create")[:limit])
