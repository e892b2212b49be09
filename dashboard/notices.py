"""Notices: a caller joining a queue you serve, or an SMS in a thread you can see, on every open page.

Who is shown what (VoIPBIN's own rules, checked against the topics a change goes out under):

* **A caller joins a queue** (tutorial ``queue.joined``; a queuecall entering ``waiting`` in the
  code dialects): agents who belong to the queue (share a tag id with it: the change's
  ``agent_id:<member>:queue:<id>`` topics, ``dashboard.queues.state.queue_topics``) and the
  customer's supervisors, who watch every queue and to whom VoIPBIN sends every join. An agent
  whose tag was removed is no longer among the topics, so it is shown nothing even if VoIPBIN
  still delivers the join. VoIPBIN's code names no queue on a queuecall: the join reaches
  supervisors at once, and the queue's members when the queue's lists place the caller (the
  queue change that places it raises the same notice, shown once to each user).
* **An inbound SMS** (``message.received``): supervisors of the customer only (the inbox is
  theirs, agents do not follow messages), at most one notice per thread per user per minute.

A user is only ever considered for an event their own VoIPBIN session delivered, or, for an agent,
their customer's account feed (the relay calls ``shown_to`` for them), so tenants stay apart as
they do for every other fragment.
Nothing is shown for backfilled events (REST after a reconnect), for events older than
``MAX_AGE``, for outbound messages, or twice for the same queuecall entering ``waiting`` or the
same message. What a user was shown is remembered in memory by the process owning their upstream
session (``NoticeMemory``): a lease handover forgets it, which can at worst repeat a notice
for an event VoIPBIN delivers again within ``MAX_AGE``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.changes import Change
from dashboard.inbox.threads import thread_key
from dashboard.models import Message, Queue, Queuecall, User
from dashboard.voipbin.topics import matches

MAX_AGE = timedelta(minutes=5)
THREAD_INTERVAL = timedelta(minutes=1)
MEMORY_SIZE = 1024  # per user: far more than the joins and threads of a few minutes


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice, rendered once per process for every user who may be shown it."""

    triggers: tuple[str, ...]  # event types that raise it (other events about the same row do not)
    once: str  # never shown twice to one user
    topics: tuple[str, ...]  # where VoIPBIN publishes the change: who may see it
    resources: tuple[str, ...]  # which of the user's scopes may match those topics
    at: datetime | None  # when it happened (VoIPBIN's time); older than MAX_AGE: not shown
    html: str
    throttle: str = ""  # at most one notice per THREAD_INTERVAL for this key
    supervisors_only: bool = False


class NoticeMemory:
    """What one user was shown lately, in the process that owns their upstream session."""

    def __init__(self, size: int = MEMORY_SIZE) -> None:
        self._size = size
        self._once: OrderedDict[str, None] = OrderedDict()
        self._last: OrderedDict[str, datetime] = OrderedDict()

    def admit(self, notice: Notice, *, now: datetime) -> bool:
        """Whether to show it now; a throttled notice counts as seen, so it never comes later."""
        if notice.once in self._once:
            return False
        self._keep(self._once, notice.once, None)
        if notice.throttle:
            last = self._last.get(notice.throttle)
            if last is not None and now - last < THREAD_INTERVAL:
                return False
            self._keep(self._last, notice.throttle, now)
        return True

    def _keep(self, memory: OrderedDict[str, Any], key: str, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        if len(memory) > self._size:
            memory.popitem(last=False)


def may_see(user: User, notice: Notice) -> bool:
    """The user's widest VoIPBIN scope reaches one of the change's topics (tutorial matching)."""
    if notice.supervisors_only and not user.is_supervisor:
        return False
    if not (user.customer_id if user.is_supervisor else user.agent_id):
        return False
    held = user.scope_topics(notice.resources)
    return any(matches(subscription, topic) for subscription in held for topic in notice.topics)


def shown_to(
    user: User,
    notices: Iterable[Notice],
    *,
    event_type: str,
    backfilled: bool,
    memory: NoticeMemory,
    now: datetime,
) -> list[str]:
    """The html of the notices this user is shown for one event their session delivered."""
    if backfilled:
        return []
    return [
        notice.html
        for notice in notices
        if event_type in notice.triggers
        and may_see(user, notice)
        and (notice.at is None or now - notice.at <= MAX_AGE)
        and memory.admit(notice, now=now)
    ]


# --- what a change notifies (once per process, in the relay's render step) ---------------------


def notices_for(change: Change) -> tuple[Notice, ...]:
    """The notices a change may raise, rendered; none for most changes (no query for those)."""
    row = change.row
    if isinstance(row, Queuecall) and row.status == "waiting":
        return (_queue_join(change, row),)
    if isinstance(row, Queue) and row.wait_queuecall_ids:
        # VoIPBIN's code names no queue on a queuecall: its queue's lists say whose queue it joined.
        joined = Queuecall.objects.filter(customer_id=row.customer_id, pk__in=row.wait_queuecall_ids)
        return tuple(_queue_join(change, queuecall) for queuecall in joined.filter(status="waiting"))
    if isinstance(row, Message) and row.direction == "inbound" and row.remote and row.our_number:
        return (_inbound_message(change, row),)
    return ()


def _render(**context: object) -> str:
    """kind, icon, title, body, tag (desktop alerts of one tag replace each other), link, link_text, at."""
    return render_to_string("dashboard/fragments/live_notice.html", context)


def _queue_join(change: Change, row: Queuecall) -> Notice:
    """No caller number: an agent serving the queue is not shown the calls it does not own."""
    queues = Queue.objects.filter(pk=row.queue_id, customer_id=row.customer_id)
    name = (queues.values_list("name", flat=True).first() or "") if row.queue_id else ""
    at = row.tm_update or row.tm_create
    html = _render(
        kind="queue",
        icon="☎",
        title=f"Caller waiting in {name}" if name else "Caller waiting",
        body=f"A caller joined the {name} queue." if name else "A caller joined a queue.",
        tag=f"queuecall-{row.pk}",
        link=reverse("queues:page"),
        link_text="Open queues",
        at=at,
    )
    return Notice(
        triggers=("queue.joined", "queuecall.created", "queue.updated"),
        once=f"queuecall:{row.pk}:waiting",
        topics=tuple(change.topics),
        resources=("queue", "queuecall"),
        at=at,
        html=html,
    )


def _inbound_message(change: Change, row: Message) -> Notice:
    key = thread_key(row.our_number, row.remote)
    link = reverse("inbox:thread") + "?" + urlencode({"our": row.our_number, "remote": row.remote})
    html = _render(
        kind="message",
        icon="✉",
        title=f"New message from {row.remote}",
        body=row.text[:140] + ("…" if len(row.text) > 140 else ""),
        tag=f"thread-{key}",
        link=link,
        link_text="Open conversation",
        at=row.tm_create,
    )
    return Notice(
        triggers=("message.received",),
        once=f"message:{row.pk}",
        topics=tuple(change.topics),
        resources=("message",),
        at=row.tm_create,
        html=html,
        throttle=f"thread:{row.customer_id}:{key}",
        supervisors_only=True,
    )
