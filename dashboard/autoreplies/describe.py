"""The engine's codes and a rule's stored fields, in words a supervisor reads without the docs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist

from dashboard import rules
from dashboard.autoreplies.timewindows import format_window, format_windows
from dashboard.models import ReplyMode, Rule, RuleChange, RuleChangeAction, RuleDecisionLog

REASON_WORDS: dict[str, str] = {
    rules.Reason.FIRED: "Would reply",
    rules.Reason.DISABLED: "Rule switched off",
    rules.Reason.NO_MATCH: "Conditions not met",
    rules.Reason.OUTSIDE_HOURS: "Outside the rule's hours",
    rules.Reason.COOLDOWN: "Cooling down for this sender",
    rules.Reason.DAILY_CAP: "Daily cap reached for this sender",
    rules.Reason.LOOP_GUARD: "Never answered (loop guard)",
    rules.Reason.EARLIER_RULE_FIRED: "An earlier rule already replied",
    rules.Reason.INVALID_RULE: "Rule cannot run",
    RuleDecisionLog.ALREADY_ANSWERED: "Already answered",
}

# What the decision log calls a fired rule: there, the reply was claimed and sent (or tried).
LOGGED_REASON_WORDS: dict[str, str] = {**REASON_WORDS, rules.Reason.FIRED: "Replied"}

CHECK_WORDS: dict[str, str] = {
    "keywords": "no keyword in the text",
    "exact_text": "not the exact text",
    "regex": "the pattern does not match",
    "senders_in": "sender not on the rule's list",
    "senders_not_in": "sender excluded by the rule",
    "receiving_number": "sent to another of our numbers",
    "first_message": "not the first message of the conversation",
    "outbound": "a message we sent",
    "own_number": "sent from one of our numbers",
    "our_auto_reply": "an auto-reply we sent for another account",
    "automated_sender": "the sender looks like a machine",
    "windows": "outside the time windows",
}


@dataclass(frozen=True)
class Outcome:
    """How a decision reads at a glance: an icon and a word, never colour alone."""

    kind: str
    icon: str
    label: str


REPLY = Outcome("reply", "✓", "Would reply")
HELD = Outcome("held", "⏸", "Matched, held back")
NO_MATCH = Outcome("nomatch", "✗", "Not matched")
SKIPPED = Outcome("skipped", "↷", "Skipped")


def outcome(reason: str) -> Outcome:
    if reason == rules.Reason.FIRED:
        return REPLY
    if reason in (rules.Reason.COOLDOWN, rules.Reason.DAILY_CAP):
        return HELD
    if reason in (rules.Reason.NO_MATCH, rules.Reason.OUTSIDE_HOURS):
        return NO_MATCH
    return SKIPPED


def reason_words(reason: str, check: str | None = None, *, logged: bool = False) -> str:
    """``no_match`` + ``keywords`` → "Conditions not met: no keyword in the text"."""
    words = (LOGGED_REASON_WORDS if logged else REASON_WORDS).get(reason, reason.replace("_", " "))
    if check and reason in (rules.Reason.NO_MATCH, rules.Reason.LOOP_GUARD):
        words = f"{words}: {CHECK_WORDS.get(check, check.replace('_', ' '))}"
    return words


def _quoted(items: list[Any] | tuple[Any, ...]) -> str:
    return ", ".join(f"“{item}”" for item in items)


def conditions(rule: Rule) -> list[str]:
    """What a message must be like for the rule to answer, one clause per condition."""
    try:
        engine = rule.to_engine().conditions
    except rules.RuleError as exc:
        return [f"Stored conditions cannot be read: {exc.message}"]
    clauses = []
    if engine.keywords:
        whole = " as whole words" if engine.whole_word else ""
        clauses.append(f"text contains {' or '.join(f'“{k}”' for k in engine.keywords)}{whole}")
    if engine.exact_text is not None:
        clauses.append(f"text is exactly “{engine.exact_text}”")
    if engine.regex is not None:
        clauses.append(f"text matches /{engine.regex}/")
    if engine.senders_in:
        clauses.append(f"sender is {' or '.join(engine.senders_in)}")
    if engine.senders_not_in:
        clauses.append(f"sender is not {' or '.join(engine.senders_not_in)}")
    if engine.receiving_numbers:
        clauses.append(f"sent to {' or '.join(engine.receiving_numbers)}")
    if rule.windows:
        windows = "; ".join(format_window(window) for window in rule.windows)
        clauses.append(f"{'outside' if engine.outside_windows else 'during'} {windows}")
    if engine.first_message_only:
        clauses.append("first message of a conversation only")
    return clauses or ["every inbound message"]


def _value(name: str, value: Any) -> str:
    if name == "mode":
        return str(ReplyMode(value).label) if value in ReplyMode.values else str(value)
    if name == "windows":
        return format_windows(value).replace("\n", "; ") or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return _quoted(value) if value else "none"
    if value in ("", None):
        return "empty"
    if isinstance(value, str):
        return f"“{value}”"
    return str(value)


FIELD_LABELS: dict[str, str] = {
    "whole_word": "Keywords must be whole words",
    "exact_text": "Exact text",
    "regex": "Regular expression",
    "senders_in": "Only from these senders",
    "senders_not_in": "Never from these senders",
    "receiving_numbers": "Only messages to",
    "windows": "Time windows",
    "outside_windows": "Answer only outside these windows",
    "first_message_only": "Only the first message of a conversation",
    "reply": "Reply text",
    "cooldown_minutes": "Cooldown (minutes)",
    "closes_conversation": "Closes the conversation",
    "mode": "Reply mode",
}


def field_label(name: str) -> str:
    """The rule form's label, so the history reads like the form that made the change."""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    try:
        return str(Rule._meta.get_field(name).verbose_name).capitalize()
    except FieldDoesNotExist:  # a field since removed from the model: show the stored key
        return name


def change_lines(change: RuleChange) -> list[str]:
    """One line per field: ``Reply: “a” → “b”`` for updates, ``Reply: “a”`` for created/deleted rules."""
    fields = change.changes if isinstance(change.changes, dict) else {}
    if change.action == RuleChangeAction.UPDATE:
        return [
            f"{field_label(name)}: {_value(name, pair[0])} → {_value(name, pair[1])}"
            for name, pair in fields.items()
            if isinstance(pair, list) and len(pair) == 2
        ]
    return [
        f"{field_label(name)}: {_value(name, value)}"
        for name, value in fields.items()
        if value not in ("", None, [], False) or name == "enabled"
    ]
