"""Call events applied to live state, and every change routed to the conversation it is part of.

Call rows are stored idempotently and in VoIPBIN's order (``dashboard.rows.upsert``).

``routed`` gives a change to a call, a queuecall or an activeflow its conversation
(``dashboard.calls.conversations``; a queue's change, the conversations waiting in it: VoIPBIN's
code names a caller's queue only in the queue's lists), and the conversation's topics: the customer's, and
``agent_id:<agent>:call:<customer call>`` for every agent on it. That is how an agent's pages get the
caller on the other side of their leg, which VoIPBIN publishes under the customer's topics alone.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.db import transaction

from dashboard.calls.conversations import call_of_change, conversation_of, queued_in, wrapped_up
from dashboard.changes import Change
from dashboard.models import Agent, Call, Queue
from dashboard.rows import upsert
from dashboard.voipbin.events import Event

logger = logging.getLogger(__name__)


@transaction.atomic
def apply_call(event: Event) -> Change | None:
    """A call leg's status and details (``dashboard.rows.upsert``); its first answer time stays."""
    if not event.resource_id:
        return None

    def fields_of(data: dict[str, Any], row: Call | None) -> dict[str, Any] | None:
        fields = Call.fields_from(data)
        fields["customer_id"] = fields["customer_id"] or event.customer_id or (row.customer_id if row else "")
        if not fields["customer_id"]:
            logger.warning("call %s without a customer id skipped", event.resource_id)
            return None
        if row is not None and row.tm_answer and "tm_progressing" not in event.data:
            fields["tm_answer"] = row.tm_answer
        return fields

    done = upsert(Call, event, fields_of)
    if done is None or not done.changed:
        return None
    return Change("call", done.row, created=done.created)


def routed(change: Change) -> Change:
    """The change with its conversations, and their topics, when it is part of any."""
    if isinstance(change.row, Queue):
        conversations = queued_in(change.row)
    elif isinstance(change.row, Agent):
        conversations = [c for c in [wrapped_up(change.row)] if c is not None]
    else:
        call_id = call_of_change(change.resource, change.row)
        known = change.row if isinstance(change.row, Call) else None
        conversation = conversation_of(call_id, known=known) if call_id else None
        conversations = [conversation] if conversation is not None else []
    if not conversations:
        return change
    topics = dict.fromkeys(topic for conversation in conversations for topic in conversation.topics())
    return replace(change, also=tuple(topics), conversations=tuple(conversations))
