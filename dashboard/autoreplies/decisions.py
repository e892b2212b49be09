"""The decision log of one account: what each rule did with each inbound SMS, filtered and exported.

``RuleDecisionLog`` points at its rule but names its message only by id, so the account's rows are
those of its rules or of its messages (a deleted rule's rows keep the message). Messages and
delivery outcomes are fetched per page or per CSV batch, never per row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from dashboard.autoreplies.describe import Outcome, outcome, reason_words
from dashboard.csvexport import stream_csv
from dashboard.models import Account, AutoReply, AutoReplyStatus, Message, Rule, RuleDecisionLog

PAGE_SIZE = 50
STUCK_AFTER = timedelta(minutes=10)
FAILED_WITHIN = timedelta(hours=24)
DELIVERY_CHOICES = (
    (AutoReplyStatus.FAILED.value, "Failed replies"),
    (AutoReplyStatus.PENDING.value, "Pending replies"),
    (AutoReplyStatus.SENT.value, "Sent replies"),
)
CSV_BATCH = 1000
CSV_HEADER = (
    "decided_at",
    "message_id",
    "sender",
    "our_number",
    "message_text",
    "rule",
    "reason",
    "reason_in_words",
    "check",
    "detail",
    "until",
    "reply_status",
)


def account_logs(account: Account) -> QuerySet[RuleDecisionLog]:
    return RuleDecisionLog.objects.filter(
        Q(rule__account=account) | Q(message_id__in=Message.objects.filter(account=account).values("pk"))
    )


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def filter_logs(
    logs: QuerySet[RuleDecisionLog],
    *,
    zone: ZoneInfo,
    reason: str = "",
    rule: Rule | None = None,
    since: date | None = None,
    until: date | None = None,
    delivery: str = "",
) -> QuerySet[RuleDecisionLog]:
    """Newest first; dates are whole days in the account's time zone, ``until`` included.

    ``delivery`` keeps the replies whose ``AutoReply`` has that status (failed, pending, sent).
    """
    if reason:
        logs = logs.filter(reason=reason)
    if rule is not None:
        logs = logs.filter(rule=rule)
    if delivery:
        replies = AutoReply.objects.filter(
            inbound_message_id=OuterRef("message_id"), rule=OuterRef("rule"), status=delivery
        )
        logs = logs.filter(Exists(replies))
    if since is not None:
        logs = logs.filter(created__gte=_start_of(since, zone))
    if until is not None:
        logs = logs.filter(created__lt=_start_of(until + timedelta(days=1), zone))
    return logs.order_by("-created", "pk")


@dataclass(frozen=True)
class DeliveryTrouble:
    """Replies stuck pending (the relay died mid-send?) or failed recently: worth a banner."""

    stuck: int
    failed: int

    def __bool__(self) -> bool:
        return bool(self.stuck or self.failed)


def delivery_trouble(account: Account, *, now: datetime) -> DeliveryTrouble:
    counts = AutoReply.objects.filter(account=account).aggregate(
        stuck=Count("pk", filter=Q(status=AutoReplyStatus.PENDING, created_at__lt=now - STUCK_AFTER)),
        failed=Count("pk", filter=Q(status=AutoReplyStatus.FAILED, created_at__gte=now - FAILED_WITHIN)),
    )
    return DeliveryTrouble(stuck=counts["stuck"], failed=counts["failed"])


@dataclass(frozen=True)
class LogRow:
    log: RuleDecisionLog
    message: Message | None
    reply: AutoReply | None
    outcome: Outcome
    reason: str


def with_context(logs: Sequence[RuleDecisionLog], *, account: Account) -> list[LogRow]:
    """Attach each row's message and, for replies, their delivery: two queries for any number of rows."""
    ids = {log.message_id for log in logs}
    messages = Message.objects.filter(pk__in=ids).only("id", "source", "destination", "text", "tm_create")
    by_id = {message.pk: message for message in messages}
    replies = {
        (reply.inbound_message_id, reply.rule_id): reply
        for reply in AutoReply.objects.filter(account=account, inbound_message_id__in=ids).only(
            "inbound_message_id", "rule_id", "status", "error"
        )
    }
    return [
        LogRow(
            log=log,
            message=by_id.get(log.message_id),
            reply=replies.get((log.message_id, log.rule_id)),
            outcome=outcome(log.reason),
            reason=reason_words(log.reason, log.check_name, logged=True),
        )
        for log in logs
    ]


def csv_rows(logs: QuerySet[RuleDecisionLog], *, account: Account) -> AsyncIterator[str]:
    """The filtered log as CSV, newest first, times in the account's zone, a page at a time."""
    zone = ZoneInfo(account.time_zone)

    def stamp(moment: datetime | None) -> str:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""

    def page(after: RuleDecisionLog | None) -> tuple[list[list[object]], RuleDecisionLog | None]:
        rest = (
            logs
            if after is None
            else logs.filter(Q(created__lt=after.created) | Q(created=after.created, pk__gt=after.pk))
        )
        batch = list(rest.order_by("-created", "pk")[:CSV_BATCH])
        rows = [
            [
                stamp(row.log.created),
                row.log.message_id,
                row.message.source if row.message else "",
                row.message.destination if row.message else "",
                row.message.text if row.message else "",
                row.log.rule_name,
                row.log.reason,
                row.reason,
                row.log.check_name,
                row.log.detail,
                stamp(row.log.until),
                row.reply.status if row.reply else "",
            ]
            for row in with_context(batch, account=account)
        ]
        return rows, (batch[-1] if batch else None)

    return stream_csv(CSV_HEADER, page)
