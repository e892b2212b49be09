"""Auto-replies to inbound SMS: the engine decides, the database guarantees, VoIPBIN sends.

A message is evaluated once: under a lock on the account's row (PostgreSQL; SQLite serialises
writers anyway), the message is stored, the rules run, every decision is logged and each reply is
claimed by inserting its ``AutoReply`` row, all in one transaction. Only then is anything sent. The
unique (message, rule) constraint is the last word: a duplicate event, a second relay worker or a
retry after a crash finds the row taken and sends nothing. The REST client retries a send only while
VoIPBIN refuses it (nothing sent); a reply whose outcome is unknown (a timeout, a crash mid-send) is
never sent again: a customer missing one auto-reply is better than one who gets two.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from channels.db import database_sync_to_async
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard import rules
from dashboard.clients import rest_client
from dashboard.models import (
    Account,
    AutoReply,
    AutoReplyStatus,
    Message,
    Rule,
    RuleDecisionLog,
)
from dashboard.voipbin.events import Event, FrameError, normalize
from dashboard.voipbin.rest import Answer, VoipbinError

logger = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome unknown"
"""How the error of a failed reply starts when the customer may have it all the same."""
STUCK_ERROR = f"{OUTCOME_UNKNOWN}: the relay stopped while sending; not sent again"


def is_inbound_message(event: Event) -> bool:
    return (
        event.resource == "message" and bool(event.resource_id) and event.data.get("direction") == "inbound"
    )


async def handle_inbound(event: Event, *, account: Account) -> list[AutoReply]:
    """Store an inbound SMS, run the account's rules once, and send what they decided.

    Returns the replies this call claimed and tried to send (empty for a message already handled).
    """
    if not is_inbound_message(event):
        return []
    accesskey, claimed = await database_sync_to_async(_decide)(event, account_id=account.pk)
    return [await _send(reply, accesskey=accesskey) for reply in claimed]


# --- deciding (sync, in one transaction) ---------------------------------------------------------


def _decide(event: Event, *, account_id: int) -> tuple[str, list[AutoReply]]:
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(pk=account_id, enabled=True).first()
        if account is None:
            return "", []
        message = Message.upsert(event, account=account)
        if message.evaluated_at is not None or not message.source:
            return account.access_key, []
        now = timezone.now()
        inbound = inbound_message(
            message,
            account=account,
            first_in_conversation=_first_in_conversation(message, account=account),
            from_our_auto_reply=_is_our_auto_reply(message, now=now),
            received_at=message.tm_create or now,
        )
        loaded = rules_of(account)
        logs = [  # stored JSON of the wrong shape: say so, skip the rule
            RuleDecisionLog(
                message_id=message.pk,
                rule=row,
                rule_name=row.name,
                reason=rules.Reason.INVALID_RULE,
                check_name=loaded.broken[row.pk].field or "",
                detail=f"The rule cannot run: {loaded.broken[row.pk].message}",
                created=now,
            )
            for row in loaded.rows
            if row.pk in loaded.broken
        ]
        evaluation = rules.evaluate(
            inbound,
            loaded.engine,
            mode=account.mode,
            account=account.settings(),
            history=reply_history(account, sender=message.source, rules_=loaded.engine, now=now),
            now=now,
        )
        claimed: list[AutoReply] = []
        for decision in evaluation.decisions:
            reason, detail = str(decision.reason), decision.detail
            if decision.fired:
                reply = _claim(decision, inbound=inbound, account=account, now=now)
                if reply is None:
                    reason = RuleDecisionLog.ALREADY_ANSWERED
                    detail = "This message was already answered with this rule; nothing sent again."
                else:
                    claimed.append(reply)
            logs.append(
                RuleDecisionLog(
                    message_id=message.pk,
                    rule_id=decision.rule_id,
                    rule_name=decision.rule_name,
                    reason=reason,
                    check_name=decision.check or "",
                    detail=detail,
                    until=decision.until,
                    created=now,
                )
            )
        log_decisions(logs)
        message.evaluated_at = now
        message.save(update_fields=["evaluated_at"])
        return account.access_key, claimed


@dataclass(frozen=True)
class LoadedRules:
    """The account's rules as stored, and those whose stored JSON the engine cannot read."""

    rows: list[Rule]
    engine: list[rules.Rule]
    broken: dict[int, rules.RuleError]


def load_rules(account: Account) -> LoadedRules:
    """The account's rules in order, as the engine takes them (for the relay, the dry run and replay)."""
    rows = list(account.rules.all())
    engine, broken = [], {}
    for row in rows:
        try:
            engine.append(row.to_engine())
        except rules.RuleError as exc:
            broken[row.pk] = exc
    return LoadedRules(rows=rows, engine=engine, broken=broken)


_compiled: dict[int, tuple[uuid.UUID, LoadedRules]] = {}  # account pk → (its rules_version, its rules)


def rules_of(account: Account) -> LoadedRules:
    """The account's rules as ``load_rules`` gives them, loaded and compiled once per change to them
    (``Account.rules_version``, read with the account's row) instead of once per message."""
    cached = _compiled.get(account.pk)
    if cached is None or cached[0] != account.rules_version:
        # Read after the version: a change committed in between is cached under the old version
        # and loaded again with the next message; older rules are never cached as newer.
        cached = _compiled[account.pk] = (account.rules_version, load_rules(account))
    return cached[1]


def log_decisions(logs: list[RuleDecisionLog]) -> None:
    """Every decision about one message in one ``INSERT``, up to the database's parameter limit.

    ``bulk_create`` compiles SQL for every value, and on SQLite splits at the 999 parameters of
    old SQLite versions: two statements for 200 rules. Rows are prepared for the database as the
    ORM prepares them (``get_db_prep_save``)."""
    if not logs:
        return
    meta = RuleDecisionLog._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    connection = connections[router.db_for_write(RuleDecisionLog)]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    row = f"({', '.join(['%s'] * len(fields))})"
    per_statement = max(1, _parameter_limit(connection) // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(logs), per_statement):
            chunk = logs[start : start + per_statement]
            params = [
                f.get_db_prep_save(getattr(log, f.attname), connection) for log in chunk for f in fields
            ]
            cursor.execute(head + ", ".join([row] * len(chunk)), params)


def _parameter_limit(connection: BaseDatabaseWrapper) -> int:
    """How many parameters one statement may carry here (SQLite: as compiled, 32766 since 3.32)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    if connection.vendor == "postgresql":
        return 65535  # the wire protocol counts parameters in 16 bits
    return connection.features.max_query_params or 999


def inbound_message(
    message: Message,
    *,
    account: Account,
    first_in_conversation: bool,
    received_at: datetime,
    from_our_auto_reply: bool = False,
) -> rules.InboundMessage:
    """A stored inbound SMS as the engine sees it."""
    return rules.InboundMessage(
        id=message.pk,
        sender=message.source,
        receiving_number=message.destination or next(iter(account.numbers), ""),
        text=message.text,
        received_at=received_at,
        first_in_conversation=first_in_conversation,
        from_our_auto_reply=from_our_auto_reply,
    )


def _is_our_auto_reply(message: Message, *, now: datetime) -> bool:
    """An auto-reply we claimed recently from the sender's number with this very text (any account)."""
    return AutoReply.objects.filter(
        our_number=message.source, reply_text=message.text, created_at__gte=now - timedelta(days=1)
    ).exists()


def _first_in_conversation(message: Message, *, account: Account) -> bool:
    """No earlier message, either way, between this sender and the number they wrote to."""
    sender, ours = message.source, message.destination
    earlier = Message.objects.filter(account=account).exclude(pk=message.pk)
    earlier = earlier.filter(Q(source=sender, destination=ours) | Q(source=ours, destination=sender))
    if message.tm_create is not None:
        earlier = earlier.filter(tm_create__lt=message.tm_create)
    return not earlier.exists()


def reply_history(
    account: Account, *, sender: str, rules_: list[rules.Rule], now: datetime
) -> list[rules.PastReply]:
    """Replies that can still matter: today's (the cap) and those within the longest cooldown.

    Pending replies and failed ones of unknown outcome count: the customer may have them, so they
    hold the cooldown and the cap like sent ones.
    """
    zone = ZoneInfo(account.time_zone)
    day_start = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    longest = max((rule.cooldown for rule in rules_), default=timedelta(0))
    rows = AutoReply.objects.filter(
        Q(status__in=(AutoReplyStatus.SENT, AutoReplyStatus.PENDING))
        | Q(status=AutoReplyStatus.FAILED, error__startswith=OUTCOME_UNKNOWN),
        account=account,
        sender=sender,
        created_at__gte=day_start - longest,
    )
    return [
        rules.PastReply(rule_id=row.rule_id, sender=row.sender, sent_at=row.sent_at or row.created_at)
        for row in rows
    ]


def _claim(
    decision: rules.Decision, *, inbound: rules.InboundMessage, account: Account, now: datetime
) -> AutoReply | None:
    """Insert the reply's row, or None when it exists: someone else answers (or answered) it."""
    try:
        with transaction.atomic():  # a savepoint: losing the race must not undo the decision logs
            return AutoReply.objects.create(
                inbound_message_id=inbound.id,
                rule_id=decision.rule_id,
                account=account,
                sender=inbound.sender,
                our_number=inbound.receiving_number,
                reply_text=decision.reply_text or "",
                created_at=now,
            )
    except IntegrityError:
        logger.info("message %s already answered by rule %s", inbound.id, decision.rule_id)
        return None


# --- sending -------------------------------------------------------------------------------------


async def _send(reply: AutoReply, *, accesskey: str) -> AutoReply:
    """Send the claimed reply and record the outcome; nothing here ever sends it a second time.

    The client repeats the request only while VoIPBIN refuses it (429, 503: nothing was sent). Any
    other failure is final, and one that may hide a success (a timeout) says so in the error.
    """
    if not await database_sync_to_async(_start_sending)(reply):
        logger.warning("auto-reply %s was given up on before its turn came: not sent", reply.pk)
        await reply.arefresh_from_db()
        return reply
    sent: Answer | None = None
    async with rest_client(accesskey=accesskey) as client:
        try:
            sent = await client.send_message(
                source=reply.our_number,
                destinations=[reply.sender],
                text=reply.reply_text,
                retry_refusals=True,
            )
        except VoipbinError as exc:
            reply.status, reply.attempts = AutoReplyStatus.FAILED, exc.attempts
            reply.error = (
                f"{OUTCOME_UNKNOWN}: {exc.message}; not sent again" if exc.outcome_unknown else exc.message
            )
            logger.warning(
                "auto-reply %s to %s failed after %d attempt(s): %s",
                reply.pk,
                reply.sender,
                reply.attempts,
                reply.error,
            )
    if sent is not None:
        reply.status, reply.sent_at, reply.attempts = AutoReplyStatus.SENT, timezone.now(), sent.attempts
        reply.reply_message_id = str(sent.get("id") or "")
        logger.info("auto-reply %s sent to %s (attempts: %d)", reply.pk, reply.sender, reply.attempts)
    await database_sync_to_async(_finish)(reply, sent)
    return reply


def _finish(reply: AutoReply, sent: Answer | None) -> None:
    reply.save(update_fields=["status", "sent_at", "reply_message_id", "error", "attempts"])
    if sent is not None and sent.get("id"):
        try:
            event = normalize(sent)
        except FrameError:
            return
        Message.upsert(event, account=reply.account)  # the conversation now includes our reply


# --- replies left pending -------------------------------------------------------------------------


def _start_sending(reply: AutoReply) -> bool:
    """Stamp the start of this send, unless the reply is no longer pending (the sweep gave up on it).

    A message's replies (every matching rule) go out one after another; the sweep measures from
    this stamp, so a reply waiting its turn is never mistaken for one abandoned mid-send.
    """
    reply.send_started_at = timezone.now()
    return bool(
        AutoReply.objects.filter(pk=reply.pk, status=AutoReplyStatus.PENDING).update(
            send_started_at=reply.send_started_at
        )
    )


def fail_stuck_replies(*, older_than: timedelta) -> list[AutoReply]:
    """Fail the replies pending for longer than any send can take: whoever sent them died mid-send.

    They stay unsent (the SMS may have gone out) and keep counting for the cooldown and the cap; the
    error says what happened so an operator sees them. Safe to run from every relay at once.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        stuck = list(
            AutoReply.objects.select_for_update(skip_locked=True)
            .alias(since=Coalesce("send_started_at", "created_at"))
            .filter(status=AutoReplyStatus.PENDING, since__lt=cutoff)
        )
        AutoReply.objects.filter(pk__in=[reply.pk for reply in stuck]).update(
            status=AutoReplyStatus.FAILED, error=STUCK_ERROR
        )
    for reply in stuck:
        reply.status, reply.error = AutoReplyStatus.FAILED, STUCK_ERROR
        logger.warning(
            "auto-reply %s to %s was still pending after %s: marked failed, not sent again",
            reply.pk,
            reply.sender,
            older_than,
        )
    return stuck
