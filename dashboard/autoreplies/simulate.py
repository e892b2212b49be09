"""Dry run and replay: the stored rules run through the engine with nothing sent and nothing stored.

Inputs are built the way the relay builds them (``dashboard.autoreply``), so what these pages say
is what the relay would do with the rules as saved.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Min, Q
from django.utils import timezone

from dashboard import rules
from dashboard.autoreplies.describe import Outcome, outcome, reason_words
from dashboard.autoreply import inbound_message, load_rules, reply_history
from dashboard.models import Account, Message, Rule
from dashboard.rules.engine import RuleId

MAX_REPLAY_MESSAGES = 5000
MAX_REPLAY_DAYS = 30
DEFAULT_REPLAY_DAYS = 7
DRY_RUN_ID = "dry-run"


@dataclass(frozen=True)
class RuleResult:
    """One rule's decision on the dry-run message, with its words for the page."""

    rule: Rule
    decision: rules.Decision
    outcome: Outcome
    reason: str


def dry_run(
    *,
    account: Account,
    sender: str,
    receiving_number: str,
    text: str,
    at: datetime,
    first_in_conversation: bool,
) -> list[RuleResult]:
    """Every stored rule's decision, in order, as if ``sender`` wrote ``text`` at ``at``.

    Cooldowns and the daily cap count the replies this sender really got, so "why did they not get
    an answer?" can be asked of the dry run too.
    """
    loaded = load_rules(account)
    evaluation = rules.dry_run(
        text=text,
        sender=sender,
        receiving_number=receiving_number,
        at=at,
        rules=loaded.engine,
        mode=account.mode,
        account=account.settings(),
        history=reply_history(account, sender=sender, rules_=loaded.engine, now=at),
        first_in_conversation=first_in_conversation,
    )
    decisions = {decision.rule_id: decision for decision in evaluation.decisions}
    for pk, exc in loaded.broken.items():
        row = next(row for row in loaded.rows if row.pk == pk)
        decisions[pk] = rules.Decision(
            message_id=DRY_RUN_ID,
            rule_id=pk,
            rule_name=row.name,
            reason=rules.Reason.INVALID_RULE,
            detail=f"The rule cannot run: {exc.message}",
            check=exc.field,
        )
    return [
        RuleResult(
            rule=row,
            decision=decisions[row.pk],
            outcome=outcome(decisions[row.pk].reason),
            reason=reason_words(decisions[row.pk].reason, decisions[row.pk].check),
        )
        for row in loaded.rows
    ]


def conversation_openers(account: Account, messages: list[Message]) -> set[str]:
    """Ids of the messages that no earlier message of their conversation precedes.

    The batch form of ``autoreply._first_in_conversation`` (the same definition: an earlier
    message, either way, between the sender and the number written to), in one grouped query
    instead of one query per replayed message.
    """
    senders = {message.source for message in messages}
    if not senders:
        return set()
    earliest: dict[frozenset[str], datetime] = {}
    rows = (
        Message.objects.filter(account=account, tm_create__isnull=False)
        .filter(Q(source__in=senders) | Q(destination__in=senders))
        .values("source", "destination")
        .annotate(first=Min("tm_create"))
        .order_by()
    )
    for row in rows:
        key = frozenset((row["source"], row["destination"]))
        earliest[key] = min(row["first"], earliest.get(key, row["first"]))
    openers = set()
    for message in messages:
        first = earliest.get(frozenset((message.source, message.destination)))
        if message.tm_create is None or first is None or first >= message.tm_create:
            openers.add(message.pk)
    return openers


@dataclass(frozen=True)
class WouldSend:
    message_id: str
    at: datetime
    sender: str
    text: str
    rule_id: RuleId
    rule_name: str
    reply: str


@dataclass(frozen=True)
class ReplayResult:
    days: int
    since: datetime
    until: datetime
    messages: int
    capped: bool
    replies: list[WouldSend] = field(default_factory=list)
    per_rule: list[tuple[str, int]] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return len({reply.message_id for reply in self.replies})

    @property
    def unanswered(self) -> int:
        return self.messages - self.answered


def replay(
    *, account: Account, days: int, now: datetime | None = None, cap: int = MAX_REPLAY_MESSAGES
) -> ReplayResult:
    """What the current rules would have sent for the last ``days`` days of inbound SMS.

    Nothing is sent or stored. The latest ``cap`` messages are replayed when there are more.
    Cooldowns and daily caps count only the replies this replay would have sent: the rules are
    imagined live from the start of the period.
    """
    until = now or timezone.now()
    since = until - timedelta(days=days)
    newest_first = list(
        Message.objects.filter(
            account=account, direction="inbound", tm_create__gte=since, tm_create__lte=until
        )
        .exclude(source="")
        .only("id", "source", "destination", "text", "tm_create", "received_at")
        .order_by("-tm_create", "-pk")[: cap + 1]
    )
    capped = len(newest_first) > cap
    messages = newest_first[:cap][::-1]
    loaded = load_rules(account)
    openers = conversation_openers(account, messages)
    evaluations = rules.replay(
        [
            inbound_message(
                m,
                account=account,
                first_in_conversation=m.pk in openers,
                received_at=m.tm_create or m.received_at,
            )
            for m in messages
        ],
        loaded.engine,
        mode=account.mode,
        account=account.settings(),
    )
    by_id = {message.pk: message for message in messages}
    replies = [
        WouldSend(
            message_id=evaluation.message.id,
            at=evaluation.message.received_at,
            sender=evaluation.message.sender,
            text=by_id[evaluation.message.id].text,
            rule_id=decision.rule_id,
            rule_name=decision.rule_name,
            reply=decision.reply_text or "",
        )
        for evaluation in evaluations
        for decision in evaluation.replies
    ]
    counts = Counter(reply.rule_id for reply in replies)
    return ReplayResult(
        days=days,
        since=since,
        until=until,
        messages=len(messages),
        capped=capped,
        replies=replies,
        per_rule=[(row.name, counts[row.pk]) for row in loaded.rows if row.pk not in loaded.broken],
        broken=[(row.name, loaded.broken[row.pk].message) for row in loaded.rows if row.pk in loaded.broken],
    )
