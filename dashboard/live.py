"""Live state: VoIPBIN events applied to DB rows, idempotently and in VoIPBIN's order.

A row changes only when the event is newer than what the row holds (by
``tm_update``, then by how far along its life the resource is), so duplicates
and late, out-of-order deliveries cannot regress it. Tutorial events may carry
only part of a resource; what they carry is merged over what we know. Each
resource's rules live with it (``dashboard.calls.state``, ``dashboard.flows.state``,
``dashboard.queues.state``; messages here); every change is then routed to its
caller's conversation (``dashboard.calls.state.routed``).

An event exactly as new as the row is still reported as a change (nothing is written): with
several processes sharing the database, the first to apply an event is not the only one whose
pages must show it.
"""

from __future__ import annotations

import logging

from django.db import transaction

from dashboard.calls import state as calls_state
from dashboard.changes import Change
from dashboard.flows import state as flows_state
from dashboard.models import Account, Message
from dashboard.queues import state as queues_state
from dashboard.voipbin.events import Event, newer_than

logger = logging.getLogger(__name__)


_version = 0


def state_version() -> int:
    """Goes up whenever live state changes here, or another process says it changed there
    (``note_state_changed``): a render made at one version shows at least that version's state."""
    return _version


def note_state_changed() -> None:
    global _version
    _version += 1


def apply_event(event: Event) -> Change | None:
    """Apply one event to live state; None when it changes nothing (duplicate, stale, not ours)."""
    change = _apply(event)
    if change is None:
        return None
    note_state_changed()
    return calls_state.routed(change)


def _apply(event: Event) -> Change | None:
    if event.resource == "call" and event.resource_id:
        return calls_state.apply_call(event)
    if event.resource == "message" and event.resource_id:
        return _apply_message(event)
    if event.resource == "activeflow" and event.resource_id:
        return flows_state.apply_activeflow(event)
    if event.resource in queues_state.APPLY and event.resource_id:
        return queues_state.APPLY[event.resource](event)
    return None


@transaction.atomic
def _apply_message(event: Event) -> Change | None:
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
