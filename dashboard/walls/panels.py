"""What a wall shows, rendered once per account from live state for every wall of that account."""

from __future__ import annotations

import time
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.models import Account

INBOX_THREADS_SHOWN = 8


def panels_context(account: Account) -> dict[str, Any]:
    from dashboard.walls.sources import queue_summaries, unanswered_threads

    now = timezone.now()
    return {
        "account": account,
        "queues": queue_summaries(account, now=now),
        "threads": unanswered_threads(account, limit=INBOX_THREADS_SHOWN),
        "rendered_at": time.time(),
        "now": now,
    }


def render_panels(account_pk: int) -> str:
    """Every panel as an out-of-band fragment; a wall without a panel simply has no target for it."""
    account = Account.objects.get(pk=account_pk)
    return render_to_string("dashboard/fragments/wall_panels.html", {**panels_context(account), "oob": True})
