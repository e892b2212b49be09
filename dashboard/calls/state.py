"""Call events applied to live state, and every change routed to the conversation it is part of.

A call row changes only when the event is newer (``newer_than``), what an event carries is merged
over what we know, and two workers inserting the same new call settle it in a savepoint (the loser
applies its event as an update). An event exactly as new as the row is still reported: with several
processes sharing the database, the first to apply an event is not the only one whose pages must
show it.

``routed`` gives a change to a call, a queuecall or an activeflow its conversation
(``dashboard.calls.conversations``), and the conversation's topics: the customer's, and
``agent_id:<agent>:call:<customer call>`` for every agent on it. That is how an agent's pages get the
caller on the other side of their leg, which VoIPBIN publishes under the customer's topics alone.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.db import IntegrityError, transaction

from dashboard.calls.conversations import call_of_change, conversation_of
from dashboard.changes import Change
from dashboard.models import Call, merged_data
from dashboard.voipbin.events import Event, newer_than

logger = logging.getLogger(__name__)


@transaction.atomic
def apply_call(event: Event) -> Change | None:
    if not event.resource_id:
        return None
    row = Call.objects.select_for_update().filter(pk=event.resource_id).first()
    if row is None:
        fields = _fields(event, dict(event.data))
        if fields is None:
            return None
        created = _insert(event, fields)
        if created is not None:
            return Change("call", created, created=True)
        # Another process created it a moment ago: lock it and treat this event as an update.
        row = Call.objects.select_for_update().get(pk=event.resource_id)
    if not newer_than(event.data, row.data):
        if newer_than(row.data, event.data):
            return None  # stale: the row has moved on
        # As new as the row: another process (or the relay worker) stored this state first, and this
        # process's pages have not seen it yet. Repeats within a process never get here (event key).
        return Change("call", row, created=False)
    data = merged_data(row.data, event.data)
    fields = _fields(event, data)
    if fields is None:
        return None
    if row.tm_answer and "tm_progressing" not in event.data:
        fields["tm_answer"] = row.tm_answer  # the first answer time stays
    for name, value in fields.items():
        setattr(row, name, value)
    row.data = data
    row.save()
    return Change("call", row, created=False)


def _insert(event: Event, fields: dict[str, Any]) -> Call | None:
    """Insert the row, or None when it exists already (two workers racing on the same new call)."""
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a lost race
            return Call.objects.create(pk=event.resource_id, data=dict(event.data), **fields)
    except IntegrityError:
        return None


def _fields(event: Event, data: dict[str, Any]) -> dict[str, Any] | None:
    fields = Call.fields_from(data)
    fields["customer_id"] = fields["customer_id"] or event.customer_id or ""
    if not fields["customer_id"]:
        logger.warning("call %s without a customer id skipped", event.resource_id)
        return None
    return fields


def routed(change: Change) -> Change:
    """The change with its conversation, and the conversation's topics, when it is part of one."""
    call_id = call_of_change(change.resource, change.row)
    if not call_id:
        return change
    conversation = conversation_of(call_id)
    if conversation is None:
        return change
    return replace(change, also=tuple(conversation.topics()), conversation=conversation)
