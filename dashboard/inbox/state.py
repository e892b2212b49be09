"""Message events applied to live state (``Message.upsert``, shared with the auto-reply path)."""

from __future__ import annotations

import logging

from django.db import transaction

from dashboard.changes import Change
from dashboard.models import Account, Message
from dashboard.voipbin.events import Event, newer_than

logger = logging.getLogger(__name__)


@transaction.atomic
def apply_message(event: Event) -> Change | None:
    """Store the message through ``Message.upsert`` (shared with the auto-reply path), and report it.

    The account relay and the inbox's reply view write the same rows, so this process's pages
    may be the last to hear of a message someone else stored a moment ago. A row that is already
    as new as the event is therefore reported too; only a stale event (the row is newer, by the
    same ``newer_than`` rule the row is kept by) changes nothing. Repeats of one event are
    dropped before this by the upstream session's and the hub's de-duplication (event key), so
    each state of a message is pushed once per process.
    """
    stored = (
        Message.objects.select_for_update()
        .filter(pk=event.resource_id)
        .values_list("data", "customer_id")
        .first()
    )
    if stored is not None and newer_than(stored[0], event.data) and not newer_than(event.data, stored[0]):
        return None
    customer_id = stored[1] if stored else str(event.data.get("customer_id") or event.customer_id or "")
    if not customer_id:
        logger.warning("message %s without a customer id skipped", event.resource_id)
        return None
    row = Message.upsert(event, account=Account.objects.filter(customer_id=customer_id).first())
    return Change("message", row, created=stored is None)
