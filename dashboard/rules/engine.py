"""The auto-reply engine: plain data in, decisions with reasons out.

No Django, no database, no network: the relay, the dry-run view, a management command and the
tests all pass in what they loaded (rules, the account's settings, previous replies) and get back
one ``Decision`` per rule. Safety lives here, not in the UI, so no caller can skip it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from dashboard.rules.conditions import (
    WEEKDAY_NAMES,
    Conditions,
    contains_keyword,
    digit_count,
    is_exact_text,
    matches_pattern,
    normalize_number,
    pattern_problem,
    window_problem,
)
from dashboard.rules.placeholders import fill, template_problem

RuleId: TypeAlias = int | str

DEFAULT_COOLDOWN = timedelta(minutes=60)
DEFAULT_DAILY_CAP = 5
DEFAULT_MIN_SENDER_DIGITS = 7
DEFAULT_AUTOMATED_TEXT_MARKERS: tuple[str, ...] = (
    "do not reply",
    "do-not-reply",
    "donotreply",
    "noreply",
    "no-reply",
    "auto-reply",
    "autoreply",
    "automatic reply",
    "automated message",
)


class RuleError(ValueError):
    """A rule that must not be saved; ``message`` is written for the admin, ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Mode(enum.StrEnum):
    FIRST = "first"
    ALL = "all"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Reason(enum.StrEnum):
    FIRED = "fired"
    DISABLED = "disabled"
    NO_MATCH = "no_match"
    OUTSIDE_HOURS = "outside_hours"
    COOLDOWN = "cooldown"
    DAILY_CAP = "daily_cap"
    LOOP_GUARD = "loop_guard"
    EARLIER_RULE_FIRED = "earlier_rule_fired"
    INVALID_RULE = "invalid_rule"


@dataclass(frozen=True)
class Rule:
    id: RuleId
    name: str
    reply: str
    order: int
    enabled: bool = True
    conditions: Conditions = field(default_factory=Conditions)
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True)
class AutomatedSenders:
    """How to recognise another machine, so two auto-responders never answer each other forever.

    Short codes and alphanumeric sender ids have fewer than ``min_digits`` digits; ``patterns`` are
    RE2 patterns searched in the normalised sender; ``text_markers`` are searched case-insensitively
    in the message text.
    """

    min_digits: int = DEFAULT_MIN_SENDER_DIGITS
    senders: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    text_markers: tuple[str, ...] = DEFAULT_AUTOMATED_TEXT_MARKERS


@dataclass(frozen=True)
class AccountSettings:
    """What the engine needs to know about the account the message arrived for."""

    time_zone: ZoneInfo
    own_numbers: frozenset[str] = frozenset()
    automated: AutomatedSenders = field(default_factory=AutomatedSenders)
    daily_cap: int = DEFAULT_DAILY_CAP


@dataclass(frozen=True)
class InboundMessage:
    """A message as the engine sees it; ``first_in_conversation`` is decided by the caller's store."""

    id: str
    sender: str
    receiving_number: str
    text: str
    received_at: datetime
    direction: Direction = Direction.INBOUND
    first_in_conversation: bool = False
    # The text is an auto-reply this dashboard sent from the sender's number (another account of
    # ours): answering it would start two of our own rules talking to each other.
    from_our_auto_reply: bool = False


@dataclass(frozen=True)
class PastReply:
    """A reply already sent (or, during replay, one the engine would have sent)."""

    rule_id: RuleId
    sender: str
    sent_at: datetime


@dataclass(frozen=True)
class Decision:
    """What one rule did with one message, and why.

    ``check`` narrows the reason: the failed condition for ``no_match`` (``keywords``,
    ``exact_text``, ``regex``, ``senders_in``, ``senders_not_in``, ``receiving_number``,
    ``first_message``), the guard for ``loop_guard`` (``outbound``, ``own_number``,
    ``automated_sender``), ``windows`` for ``outside_hours``.
    """

    message_id: str
    rule_id: RuleId
    rule_name: str
    reason: Reason
    detail: str
    check: str | None = None
    until: datetime | None = None
    reply_text: str | None = None

    @property
    def fired(self) -> bool:
        return self.reason is Reason.FIRED

    @property
    def key(self) -> tuple[str, RuleId]:
        """The (message id, rule id) pair the database keeps unique: one reply per message and rule."""
        return (self.message_id, self.rule_id)


@dataclass(frozen=True)
class Evaluation:
    message: InboundMessage
    evaluated_at: datetime
    mode: Mode
    decisions: tuple[Decision, ...]

    @property
    def replies(self) -> tuple[Decision, ...]:
        return tuple(decision for decision in self.decisions if decision.fired)

    def past_replies(self) -> tuple[PastReply, ...]:
        """The replies as history entries, so the next evaluation sees them."""
        return tuple(
            PastReply(rule_id=decision.rule_id, sender=self.message.sender, sent_at=self.evaluated_at)
            for decision in self.replies
        )


def rule_problems(rule: Rule) -> list[RuleError]:
    """Everything that would refuse the rule, at most one problem per field, in the order checked."""
    conditions = rule.conditions
    found: dict[str, str] = {}

    def check(field: str, problem: str | None) -> None:
        if problem and field not in found:
            found[field] = problem

    check("name", None if rule.name.strip() else "The rule needs a name.")
    check("reply", template_problem(rule.reply))
    check("cooldown", "The cooldown cannot be negative." if rule.cooldown < timedelta(0) else None)
    if any(not keyword.strip() for keyword in conditions.keywords):
        check("keywords", "Keywords cannot be blank.")
    if conditions.exact_text is not None and not conditions.exact_text.strip():
        check("exact_text", "The exact text cannot be blank.")
    if conditions.regex is not None:
        check("regex", pattern_problem(conditions.regex))
    for name in ("senders_in", "senders_not_in", "receiving_numbers"):
        if any(not normalize_number(number) for number in getattr(conditions, name)):
            check(name, "Phone numbers in a list cannot be blank.")
    for window in conditions.windows:
        check("windows", window_problem(window))
    if conditions.outside_windows and not conditions.windows:
        check("windows", "“Outside these windows” needs at least one time window.")
    return [RuleError(message, field=field) for field, message in found.items()]


def validate_rule(rule: Rule) -> None:
    """Refuse at save time whatever would only fail, or misbehave, when a customer writes in."""
    problems = rule_problems(rule)
    if problems:
        raise problems[0]


def validate_account(account: AccountSettings) -> None:
    """Refuse account safety settings that would crash or silently disable the loop guard."""
    policy = account.automated
    if policy.min_digits < 0:
        raise RuleError("The minimum number of digits cannot be negative.", field="min_digits")
    for pattern in policy.patterns:
        problem = pattern_problem(pattern)
        if problem:
            raise RuleError(problem, field="patterns")
    if account.daily_cap < 0:
        raise RuleError("The daily cap cannot be negative.", field="daily_cap")


def render_reply(template: str, *, sender: str, our_number: str, at: datetime, time_zone: ZoneInfo) -> str:
    """The text to send; ``{time}`` is the wall-clock time in the account's zone, as the customer expects."""
    problem = template_problem(template)
    if problem:
        raise RuleError(problem, field="reply")
    return fill(
        template,
        {"sender": sender, "our_number": our_number, "time": f"{at.astimezone(time_zone):%H:%M}"},
    )


def looks_automated(*, sender: str, text: str, policy: AutomatedSenders) -> str | None:
    """Why the message looks machine-sent, or None; answering a machine risks an endless bot dialogue."""
    number = normalize_number(sender)
    if number in {normalize_number(s) for s in policy.senders}:
        return f"{sender} is on the list of automated senders"
    for prefix in policy.prefixes:
        if prefix and number.startswith(normalize_number(prefix)):
            return f"{sender} starts with {prefix}, a prefix of automated senders"
    digits = digit_count(number)
    if digits < policy.min_digits:
        return f"{sender} has {digits} digits, fewer than the {policy.min_digits} of a personal number"
    for pattern in policy.patterns:
        if matches_pattern(number, pattern):
            return f"{sender} matches the automated-sender pattern /{pattern}/"
    for marker in policy.text_markers:
        if marker and contains_keyword(text, marker, whole_word=False):
            return f"the text contains “{marker}”"
    return None


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone})"


def _loop_guard(message: InboundMessage, account: AccountSettings) -> tuple[str, str] | None:
    if message.direction != Direction.INBOUND:
        return "outbound", "The message was sent by us; outbound messages are never answered."
    sender = normalize_number(message.sender)
    ours = {normalize_number(n) for n in account.own_numbers} | {normalize_number(message.receiving_number)}
    if sender in ours:
        return "own_number", f"The sender {message.sender} is one of our own numbers."
    why = looks_automated(sender=message.sender, text=message.text, policy=account.automated)
    if why:
        return "automated_sender", f"The sender looks automated: {why}."
    if message.from_our_auto_reply:
        return "our_auto_reply", "The message is an auto-reply this dashboard sent for another account."
    return None


def _unmet_condition(conditions: Conditions, message: InboundMessage) -> tuple[str, str] | None:
    """The first condition (other than time windows) that does not hold, with a sentence for the log."""
    text = message.text
    if conditions.keywords and not any(
        contains_keyword(text, keyword, whole_word=conditions.whole_word) for keyword in conditions.keywords
    ):
        how = " as a whole word" if conditions.whole_word else ""
        return "keywords", f"The text contains none of the keywords{how}: {', '.join(conditions.keywords)}."
    if conditions.exact_text is not None and not is_exact_text(text, conditions.exact_text):
        return "exact_text", f"The text is not exactly “{conditions.exact_text.strip()}”."
    if conditions.regex is not None and not matches_pattern(text, conditions.regex):
        return "regex", f"The text does not match /{conditions.regex}/."
    sender = normalize_number(message.sender)
    if conditions.senders_in and sender not in {normalize_number(n) for n in conditions.senders_in}:
        return "senders_in", f"The sender {message.sender} is not in the rule's list of senders."
    if sender in {normalize_number(n) for n in conditions.senders_not_in}:
        return "senders_not_in", f"The sender {message.sender} is in the rule's list of excluded senders."
    if conditions.receiving_numbers and normalize_number(message.receiving_number) not in {
        normalize_number(n) for n in conditions.receiving_numbers
    }:
        return "receiving_number", (
            f"The message was sent to {message.receiving_number}, "
            f"not to {', '.join(conditions.receiving_numbers)}."
        )
    if conditions.first_message_only and not message.first_in_conversation:
        return "first_message", "The rule answers only the first message of a conversation."
    return None


def _outside_hours(conditions: Conditions, now: datetime, zone: ZoneInfo) -> str | None:
    if not conditions.windows:
        return None
    local = now.astimezone(zone)
    inside = any(window.contains(local) for window in conditions.windows)
    windows = "; ".join(window.describe() for window in conditions.windows)
    when = f"{WEEKDAY_NAMES[local.weekday()]} {local:%H:%M} ({zone})"
    if conditions.outside_windows and inside:
        return f"{when} is within {windows}; the rule answers only outside these windows."
    if not conditions.outside_windows and not inside:
        return f"{when} is outside {windows}."
    return None


def _local_day(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def evaluate(
    message: InboundMessage,
    rules: Iterable[Rule],
    *,
    mode: Mode | str,
    account: AccountSettings,
    history: Iterable[PastReply] = (),
    now: datetime | None = None,
) -> Evaluation:
    """Decide, rule by rule in ``order``, whether to reply, and record why for every rule.

    ``now`` is the instant of the decision (time windows, cooldown, cap, ``{time}``); it defaults to
    the message's own time, which is what dry run and replay want. History after ``now`` is ignored,
    so a dry run "as of" a past moment sees only what had happened by then.
    """
    mode = Mode(mode)
    now = _aware(now if now is not None else message.received_at, "now")
    zone = account.time_zone
    sender = normalize_number(message.sender)
    mine = [
        reply
        for reply in history
        if normalize_number(reply.sender) == sender and _aware(reply.sent_at, "PastReply.sent_at") <= now
    ]
    day_start, day_end = _local_day(now, zone)
    guard = _loop_guard(message, account)
    decisions: list[Decision] = []
    fired: Rule | None = None

    def decide(
        rule: Rule,
        reason: Reason,
        detail: str,
        *,
        check: str | None = None,
        until: datetime | None = None,
        reply_text: str | None = None,
    ) -> None:
        decisions.append(
            Decision(
                message_id=message.id,
                rule_id=rule.id,
                rule_name=rule.name,
                reason=reason,
                detail=detail,
                check=check,
                until=until,
                reply_text=reply_text,
            )
        )

    for rule in sorted(rules, key=lambda r: r.order):
        if not rule.enabled:
            decide(rule, Reason.DISABLED, "The rule is disabled.")
            continue
        try:
            validate_rule(rule)
        except RuleError as exc:
            decide(rule, Reason.INVALID_RULE, f"The rule cannot run: {exc.message}", check=exc.field)
            continue
        if guard:
            decide(rule, Reason.LOOP_GUARD, guard[1], check=guard[0])
            continue
        if mode is Mode.FIRST and fired is not None:
            decide(rule, Reason.EARLIER_RULE_FIRED, f"The earlier rule “{fired.name}” already replied.")
            continue
        unmet = _unmet_condition(rule.conditions, message)
        if unmet:
            decide(rule, Reason.NO_MATCH, unmet[1], check=unmet[0])
            continue
        outside = _outside_hours(rule.conditions, now, zone)
        if outside:
            decide(rule, Reason.OUTSIDE_HOURS, outside, check="windows")
            continue
        last = max((r.sent_at for r in mine if r.rule_id == rule.id), default=None)
        if last is not None and now < last + rule.cooldown:
            until = last + rule.cooldown
            decide(
                rule,
                Reason.COOLDOWN,
                f"This rule replied to {message.sender} at {_stamp(last, zone)}; "
                f"cooling down until {_stamp(until, zone)}.",
                until=until,
            )
            continue
        today = sum(1 for r in mine if r.sent_at >= day_start)
        if today >= account.daily_cap:
            decide(
                rule,
                Reason.DAILY_CAP,
                f"{today} replies already went to {message.sender} today (cap {account.daily_cap}); "
                f"the next is possible from {_stamp(day_end, zone)}.",
                until=day_end,
            )
            continue
        text = render_reply(
            rule.reply, sender=message.sender, our_number=message.receiving_number, at=now, time_zone=zone
        )
        decide(rule, Reason.FIRED, f"All conditions hold; replying “{text}”.", reply_text=text)
        mine.append(PastReply(rule_id=rule.id, sender=message.sender, sent_at=now))
        fired = rule
    return Evaluation(message=message, evaluated_at=now, mode=mode, decisions=tuple(decisions))


def dry_run(
    *,
    text: str,
    sender: str,
    receiving_number: str,
    at: datetime,
    rules: Iterable[Rule],
    mode: Mode | str,
    account: AccountSettings,
    history: Iterable[PastReply] = (),
    first_in_conversation: bool = False,
) -> Evaluation:
    """What would happen if ``sender`` wrote ``text`` at ``at``; nothing is sent or stored."""
    message = InboundMessage(
        id="dry-run",
        sender=sender,
        receiving_number=receiving_number,
        text=text,
        received_at=at,
        first_in_conversation=first_in_conversation,
    )
    return evaluate(message, rules, mode=mode, account=account, history=history, now=at)


def replay(
    messages: Iterable[InboundMessage],
    rules: Sequence[Rule],
    *,
    mode: Mode | str,
    account: AccountSettings,
    history: Iterable[PastReply] = (),
) -> tuple[Evaluation, ...]:
    """Re-run past messages in time order as if the rules had been live, sending nothing.

    Each would-be reply joins the history before the next message, so cooldown and the daily cap
    behave as they would have.
    """
    seen = list(history)
    evaluations: list[Evaluation] = []
    for message in sorted(messages, key=lambda m: _aware(m.received_at, "InboundMessage.received_at")):
        evaluation = evaluate(message, rules, mode=mode, account=account, history=seen)
        seen.extend(evaluation.past_replies())
        evaluations.append(evaluation)
    return tuple(evaluations)
