"""What a wall shows, rendered once per account and panel from live state, for every wall showing it.

A wall receives only the panels its link was made for: a queues-only lobby screen never gets the
inbox's numbers and texts, not even as fragments it has no place for.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.models import Account, WallPanel
from dashboard.walls.sources import queue_summaries, unanswered_count, unanswered_threads

INBOX_THREADS_SHOWN = 8
UPDATED = "updated"  # the "updated N s ago" stamp every wall gets
TEMPLATES = {
    UPDATED: "dashboard/fragments/wall_updated.html",
    WallPanel.QUEUES: "dashboard/fragments/wall_queues.html",
    WallPanel.INBOX: "dashboard/fragments/wall_inbox.html",
}


def panels_context(account: Account, panels: Collection[str]) -> dict[str, Any]:
    """What the given panels need, and nothing the others would."""
    now = timezone.now()
    context: dict[str, Any] = {"account": account, "rendered_at": time.time(), "now": now}
    if WallPanel.QUEUES in panels:
        context["queues"] = queue_summaries(account, now=now)
    if WallPanel.INBOX in panels:
        context["threads"] = unanswered_threads(account, limit=INBOX_THREADS_SHOWN)
        context["threads_waiting"] = unanswered_count(account)  # all of them, not only those listed
    return context


def render_panels(
    account_pk: int, panels: Collection[str], upstream: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Each requested panel (and the stamp) as an out-of-band fragment, keyed by panel.

    ``upstream`` is the account session's ``upstream_summary``: the stamp says when VoIPBIN is not live.
    """
    account = Account.objects.get(pk=account_pk)
    context = {**panels_context(account, panels), "oob": True, "upstream": upstream}
    return {
        name: render_to_string(TEMPLATES[name], context) for name in (UPDATED, *panels) if name in TEMPLATES
    }
