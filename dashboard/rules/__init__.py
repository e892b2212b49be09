"""Auto-reply rules as plain functions over plain data (see ``engine``)."""

from __future__ import annotations

from dashboard.rules.conditions import Conditions, TimeWindow
from dashboard.rules.engine import (
    DEFAULT_AUTOMATED_TEXT_MARKERS,
    DEFAULT_COOLDOWN,
    DEFAULT_DAILY_CAP,
    AccountSettings,
    AutomatedSenders,
    Decision,
    Direction,
    Evaluation,
    InboundMessage,
    Mode,
    PastReply,
    Reason,
    Rule,
    RuleError,
    dry_run,
    evaluate,
    looks_automated,
    render_reply,
    replay,
    rule_problems,
    validate_account,
    validate_rule,
)
from dashboard.rules.placeholders import PLACEHOLDERS

__all__ = [
    "DEFAULT_AUTOMATED_TEXT_MARKERS",
    "DEFAULT_COOLDOWN",
    "DEFAULT_DAILY_CAP",
    "PLACEHOLDERS",
    "AccountSettings",
    "AutomatedSenders",
    "Conditions",
    "Decision",
    "Direction",
    "Evaluation",
    "InboundMessage",
    "Mode",
    "PastReply",
    "Reason",
    "Rule",
    "RuleError",
    "TimeWindow",
    "dry_run",
    "evaluate",
    "looks_automated",
    "render_reply",
    "replay",
    "rule_problems",
    "validate_account",
    "validate_rule",
]
