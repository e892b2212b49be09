"""Inbox queries: threads, their messages, read marks. Plain functions over the ORM, no views.

A thread is one conversation, ``(customer_id, our_number, remote)``, whichever way each SMS went.
Every query starts from ``Message.objects.visible_to(user)``: the user's own customer only, and
nothing at all for an agent (messages have no owning agent; the inbox is for supervisors). Times
are VoIPBIN's (``tm_create``), never the order in which events happened to reach us.

**Awaiting a person** (``awaiting_person``, the one definition every list, filter and count uses):
the thread's newest inbound message has no reply from a person after it. Any outbound message is a
person's (a reply from the inbox, or one sent through VoIPBIN some other way) except an auto-reply;
an auto-reply counts as the answer only when its rule is marked ``closes_conversation``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    Exists,
    Expression,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone

from dashboard.models import Account, AutoReply, Message, ThreadRead, User
from dashboard.voipbin.events import FrameError, normalize

logger = logging.getLogger(__name__)

THREADS_SHOWN = 200
MESSAGES_SHOWN = 500

NEWEST_FIRST = (F("tm_create").desc(nulls_last=True), F("pk").desc())


@dataclass(frozen=True, slots=True)
class Delivery:
    """A target status (VOIPBIN.md §5) as the page shows it: icon and words, never colour alone."""

    icon: str
    label: str
    tone: str  # ok | pending | bad: only for styling


DELIVERY = {
    "received": Delivery("↘", "Received", "ok"),
    "queued": Delivery("◔", "Queued", "pending"),
    "sent": Delivery("✓", "Sent", "pending"),
    "delivered": Delivery("✓✓", "Delivered", "ok"),
    "failed": Delivery("⚠", "Failed", "bad"),
    "gw_timeout": Delivery("⚠", "Gateway timed out", "bad"),
    "dlr_timeout": Delivery("?", "No delivery report", "pending"),
}


def delivery(status: str) -> Delivery:
    return DELIVERY.get(status) or Delivery("?", status or "Unknown", "pending")


def thread_key(our_number: str, remote: str) -> str:
    """A stable short id for a thread, for DOM ids: a page holds only its own thread's list id."""
    return hashlib.blake2b(f"{our_number}\n{remote}".encode(), digest_size=8).hexdigest()


def sort_key(message: Message) -> str:
    """Orders as text the way the pages order messages (VoIPBIN time, then id), for pushed items."""
    stamp = message.tm_create.astimezone(UTC).strftime("%Y%m%d%H%M%S%f") if message.tm_create else ""
    return f"{stamp:0>20}|{message.pk}"


def with_sender(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Who sent a manual reply, in the same query (without decrypting their VoIPBIN token)."""
    return messages.select_related("sent_by").defer("sent_by__voipbin_token", "sent_by__password")


def inbox_messages(user: User) -> QuerySet[Message]:
    """Every message the user may read in the inbox (none for agents)."""
    if not user.is_supervisor:
        return Message.objects.none()
    return Message.objects.visible_to(user).exclude(remote="").exclude(our_number="")


def _in_outer_thread(queryset: QuerySet[Message]) -> QuerySet[Message]:
    """The rows of ``queryset`` in the same thread as the outer query's row."""
    return queryset.filter(
        customer_id=OuterRef("customer_id"), our_number=OuterRef("our_number"), remote=OuterRef("remote")
    )


def _auto_reply_claims() -> tuple[QuerySet[AutoReply], QuerySet[AutoReply]]:
    """The auto-replies the outer (outbound) message went out as: linked by id, or not linked yet.

    The SQL twin of ``_auto_reply_rules`` (same matching, see there): the claim is written before
    the send, its message id only after VoIPBIN answered, and VoIPBIN's event usually comes first.
    """
    linked = AutoReply.objects.filter(reply_message_id=OuterRef("pk"))
    pending = AutoReply.objects.filter(
        reply_message_id="",
        account__customer_id=OuterRef("customer_id"),
        sender=OuterRef("remote"),
        our_number=OuterRef("our_number"),
        reply_text=OuterRef("text"),
    )
    return linked, pending


def _counts_for_awaiting() -> Q:
    """The messages that decide whether a thread awaits a person: what they wrote, and answers.

    Left out: auto-replies of rules that do not close the conversation (they promise a person).
    """
    linked, pending = _auto_reply_claims()
    holding = Q(rule__closes_conversation=False)
    by_rule_that_waits = Exists(linked.filter(holding)) | Exists(pending.filter(holding))
    answer = Q(direction="outbound") & (Q(sent_by__isnull=False) | ~by_rule_that_waits)
    return Q(direction="inbound") | answer


def awaiting_person() -> Expression:
    """True when the outer row's thread awaits a person (see the module docstring).

    That is, of the messages that count (``_counts_for_awaiting``), the newest is inbound. The one
    definition: the inbox filter, each row's state, the wall's inbox panel and the export use it.
    """
    newest = _in_outer_thread(Message.objects.filter(_counts_for_awaiting()).order_by(*NEWEST_FIRST))
    direction = Coalesce(Subquery(newest.values("direction")[:1]), Value(""))
    return Exact(direction, Value("inbound"))


def matching(messages: QuerySet[Message], *, q: str = "", unanswered: bool = False) -> QuerySet[Message]:
    """Keep the messages whose thread matches, whole threads at a time.

    ``q`` matches either number or the text of any message in the thread; ``unanswered`` keeps
    threads that await a person (``awaiting_person``).
    """
    if q:
        texts = _in_outer_thread(Message.objects.filter(text__icontains=q))
        messages = messages.filter(Q(remote__icontains=q) | Q(our_number__icontains=q) | Exists(texts))
    if unanswered:
        messages = messages.alias(thread_awaiting=awaiting_person()).filter(thread_awaiting=True)
    return messages


def _unread_count(user: User) -> Subquery:
    """Inbound messages of the outer row's thread newer than the user's read mark for it."""
    seen = ThreadRead.objects.filter(
        user=user,
        customer_id=OuterRef("customer_id"),
        our_number=OuterRef("our_number"),
        remote=OuterRef("remote"),
        read_at__gte=OuterRef("tm_create"),
    )
    unread = _in_outer_thread(Message.objects.filter(direction="inbound", tm_create__isnull=False))
    unread = unread.filter(~Exists(seen)).order_by()
    return Subquery(unread.annotate(n=Func("pk", function="COUNT")).values("n"), output_field=IntegerField())


def threads(
    user: User, *, q: str = "", unanswered: bool = False, limit: int = THREADS_SHOWN
) -> list[Message]:
    """Each matching thread as its newest message, newest thread first, with ``unread`` for this user.

    One query: the newest message per thread is picked by a correlated subquery (served by the
    ``message_thread`` index), and the unread count is another, so there is no query per thread.
    """
    newest = _in_outer_thread(Message.objects.order_by(*NEWEST_FIRST)).values("pk")[:1]
    rows = matching(inbox_messages(user).filter(pk=Subquery(newest)), q=q, unanswered=unanswered)
    rows = rows.annotate(unread=_unread_count(user), awaiting=awaiting_person())
    return decorate(list(with_sender(rows).order_by(*NEWEST_FIRST)[:limit]))


def _customer_messages(customer_id: str) -> QuerySet[Message]:
    """What a supervisor of the customer reads in the inbox (``inbox_messages``), for the wall."""
    return Message.objects.filter(customer_id=customer_id).exclude(remote="").exclude(our_number="")


def waiting(customer_id: str) -> QuerySet[Message]:
    """Each thread that awaits a person, as its newest inbound message (what the person must answer)."""
    newest_inbound = _in_outer_thread(Message.objects.filter(direction="inbound").order_by(*NEWEST_FIRST))
    rows = _customer_messages(customer_id).filter(direction="inbound")
    rows = rows.filter(pk=Subquery(newest_inbound.values("pk")[:1]))
    return matching(rows, unanswered=True)


def waiting_threads(*, customer_id: str, limit: int) -> list[Message]:
    """Threads awaiting a person as their newest inbound message, longest waiting first.

    For the wall display, which follows an account rather than a user: no read marks.
    """
    return list(waiting(customer_id).order_by("tm_create", "pk")[:limit])


def waiting_count(*, customer_id: str) -> int:
    """How many threads await a person: the same threads as ``waiting_threads`` and the inbox filter."""
    return waiting(customer_id).count()


def thread_head(*, customer_id: str, our_number: str, remote: str) -> Message | None:
    """A thread's newest message, for a row pushed to every supervisor of the customer."""
    rows = Message.objects.filter(customer_id=customer_id, our_number=our_number, remote=remote)
    newest = with_sender(rows.annotate(awaiting=awaiting_person())).order_by(*NEWEST_FIRST).first()
    return decorate([newest])[0] if newest else None


def thread_exists(user: User, *, our_number: str, remote: str) -> bool:
    return bool(our_number and remote) and (
        inbox_messages(user).filter(our_number=our_number, remote=remote).exists()
    )


def thread_messages(
    user: User, *, our_number: str, remote: str, limit: int = MESSAGES_SHOWN
) -> list[Message]:
    """The thread's newest ``limit`` messages, oldest first (VoIPBIN time, then id).

    Each carries the thread's ``awaiting`` (the same for all), so the page can say it under the last.
    """
    rows = inbox_messages(user).filter(our_number=our_number, remote=remote)
    rows = with_sender(rows.annotate(awaiting=awaiting_person()))
    return decorate(list(reversed(rows.order_by(*NEWEST_FIRST)[:limit])))


@dataclass(frozen=True, slots=True)
class AutoRule:
    """The rule an auto-reply went out for: its name, and whether its reply is the answer."""

    name: str
    closes: bool


_RULE = ("rule__name", "rule__closes_conversation")


def _auto_reply_rules(messages: list[Message]) -> dict[str, AutoRule]:
    """The rules of the messages that are auto-replies, by message id.

    An auto-reply is claimed (its row written) before it is sent, but its message id is only
    recorded once VoIPBIN has answered, and VoIPBIN's event for the new message usually arrives
    first. A sent message not yet linked is matched to the pending claim it was sent for: same
    customer, same two numbers, same text. ``_auto_reply_claims`` is the same matching in SQL.
    """
    rules = {
        message_id: AutoRule(name, closes)
        for message_id, name, closes in AutoReply.objects.filter(
            reply_message_id__in=[m.pk for m in messages]
        ).values_list("reply_message_id", *_RULE)
    }
    unlinked = [m for m in messages if m.direction == "outbound" and m.pk not in rules and not m.sent_by_id]
    if unlinked:
        claims = AutoReply.objects.filter(
            reply_message_id="",
            account__customer_id__in={m.customer_id for m in unlinked},
            sender__in={m.remote for m in unlinked},
            reply_text__in={m.text for m in unlinked},
        ).values_list("account__customer_id", "sender", "our_number", "reply_text", *_RULE)
        pending = {
            (customer, sender, ours, text): AutoRule(name, closes)
            for customer, sender, ours, text, name, closes in claims
        }
        for m in unlinked:
            if rule := pending.get((m.customer_id, m.remote, m.our_number, m.text)):
                rules[m.pk] = rule
    return rules


@dataclass(frozen=True, slots=True)
class ThreadState:
    """A thread's state as the list and the thread page show it: icon and words, never colour alone."""

    awaiting: bool
    icon: str
    label: str

    @property
    def kind(self) -> str:
        """``awaiting`` or ``answered``: only for styling."""
        return "awaiting" if self.awaiting else "answered"


def thread_state(head: Message) -> ThreadState:
    """What a thread's newest message (decorated, with ``awaiting``) says about the whole thread."""
    rule = f"rule “{head.auto_rule}”"
    if head.awaiting:
        if head.auto_rule:
            return ThreadState(True, "⚙", f"Auto-reply sent ({rule}) · awaiting a person")
        return ThreadState(True, "●", "Awaiting reply")
    if head.auto_rule and head.auto_closes:
        return ThreadState(False, "✓", f"Answered by auto-reply ({rule})")
    if head.auto_rule:  # a person answered first; the auto-reply reached VoIPBIN after it
        return ThreadState(False, "✓", f"Answered · then an auto-reply ({rule})")
    if head.sender_name:
        return ThreadState(False, "✓", f"Answered by {head.sender_name}")
    return ThreadState(False, "✓", "Answered")


def decorate(messages: list[Message]) -> list[Message]:
    """Attach what the templates show beyond the model (two queries at most for auto-reply rules).

    Rows that carry ``awaiting`` (``awaiting_person``, annotated by the queries here) also get
    their thread's ``state``.
    """
    rules = _auto_reply_rules(messages)
    for message in messages:
        message.thread_key = thread_key(message.our_number, message.remote)
        message.sort_key = sort_key(message)
        message.delivery = delivery(message.status)
        rule = rules.get(message.pk)
        message.auto_rule = rule.name if rule else ""
        message.auto_closes = bool(rule and rule.closes)
        sender = message.sent_by if message.sent_by_id else None
        message.sender_name = (sender.get_full_name() or sender.username) if sender else ""
        if hasattr(message, "awaiting"):
            message.state = thread_state(message)
    return messages


def mark_read(user: User, *, our_number: str, remote: str) -> None:
    """Everything in the thread up to now counts as read by this user.

    The mark is the later of our clock and the thread's newest VoIPBIN time, so a VoIPBIN clock a
    little ahead of ours cannot leave a message unread after it was seen. It never moves back.
    """
    newest = inbox_messages(user).filter(our_number=our_number, remote=remote).aggregate(at=Max("tm_create"))
    at = max(timezone.now(), newest["at"] or timezone.now())
    marks = ThreadRead.objects.filter(
        user=user, customer_id=user.customer_id, our_number=our_number, remote=remote
    )
    if marks.filter(read_at__lt=at).update(read_at=at) or marks.exists():
        return
    try:
        with transaction.atomic():  # a savepoint: another tab may create the mark first
            ThreadRead.objects.create(
                user=user, customer_id=user.customer_id, our_number=our_number, remote=remote, read_at=at
            )
    except IntegrityError:
        marks.filter(read_at__lt=at).update(read_at=at)


def record_reply(result: dict[str, Any], *, user: User) -> Message | None:
    """Store the message VoIPBIN answered a manual reply with, as sent by ``user``.

    Its event may have arrived first and stored the row already; either way the row ends up
    marked with who sent it. None when the answer is not a message we can store (it was sent all
    the same: its event will bring it).
    """
    try:
        event = normalize(dict(result))
    except FrameError:
        event = None
    if event is None or event.resource != "message" or not event.resource_id:
        logger.warning("VoIPBIN's answer to a reply is not a message: %.200r", result)
        return None
    with transaction.atomic():
        account = Account.objects.filter(customer_id=user.customer_id).first()
        message = Message.upsert(event, account=account)
        Message.objects.filter(pk=message.pk).update(sent_by=user)
    message.sent_by = user
    return message
