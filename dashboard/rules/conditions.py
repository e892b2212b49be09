"""What a rule can require of a message, and the plain checks behind each requirement.

Nothing here raises on user input: the ``*_problem`` helpers return the sentence to show instead,
so validation (``engine.validate_rule``) decides how to report it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, time

import re2

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class TimeWindow:
    """Weekdays (0 = Monday) and a start/end wall-clock time in the account's time zone.

    A window whose end is not after its start crosses midnight: it belongs to the weekday it
    starts on, so Friday 22:00-02:00 covers Saturday 01:30. Start equal to end means the whole day.
    """

    weekdays: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        now = local.time().replace(tzinfo=None)
        today = local.weekday()
        if self.start == self.end:
            return today in self.weekdays
        if self.start < self.end:
            return today in self.weekdays and self.start <= now < self.end
        yesterday = (today - 1) % 7
        return (today in self.weekdays and now >= self.start) or (
            yesterday in self.weekdays and now < self.end
        )

    def describe(self) -> str:
        days = ",".join(WEEKDAY_NAMES[day] for day in sorted(self.weekdays))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Conditions:
    """Everything set here must hold for the rule to fire; an empty field is no requirement."""

    keywords: tuple[str, ...] = ()
    whole_word: bool = False
    exact_text: str | None = None
    regex: str | None = None
    senders_in: tuple[str, ...] = ()
    senders_not_in: tuple[str, ...] = ()
    receiving_numbers: tuple[str, ...] = ()
    windows: tuple[TimeWindow, ...] = ()
    outside_windows: bool = False
    first_message_only: bool = False


def normalize_number(number: str) -> str:
    """Drop the punctuation people type into phone numbers so "+82 10-1234" equals "+82101234"."""
    return "".join(ch for ch in number.strip() if ch not in " \t-().")


def digit_count(number: str) -> int:
    return sum(ch.isdigit() for ch in number)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def contains_keyword(text: str, keyword: str, *, whole_word: bool) -> bool:
    """Case-insensitive containment; whole words are judged with Unicode letters, not ASCII ``\\b``."""
    haystack = text.casefold()
    needle = keyword.strip().casefold()
    if not needle:
        return False
    if not whole_word:
        return needle in haystack
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before_ok = start == 0 or not _is_word_char(haystack[start - 1])
        after_ok = end == len(haystack) or not _is_word_char(haystack[end])
        if before_ok and after_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


def is_exact_text(text: str, expected: str) -> bool:
    return text.strip().casefold() == expected.strip().casefold()


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re2._Regexp:
    """Compile once per distinct pattern: rules are reloaded per message, their patterns rarely change.

    RE2 guarantees matching in time linear in the text, so a user's pattern cannot stall the relay.
    Raises ``re2.error`` for an invalid pattern (failures are not cached).
    """
    return re2.compile(pattern, _options())


def pattern_problem(pattern: str) -> str | None:
    """RE2's own reason for refusing ``pattern``, or None when it compiles."""
    if not pattern:
        return "The regular expression is empty."
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return f"Invalid regular expression: {reason}"
    return None


def matches_pattern(text: str, pattern: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


def window_problem(window: TimeWindow) -> str | None:
    if not window.weekdays:
        return "A time window needs at least one weekday."
    if any(not isinstance(day, int) or not 0 <= day <= 6 for day in window.weekdays):
        return "Weekdays are numbered 0 (Monday) to 6 (Sunday)."
    if not isinstance(window.start, time) or not isinstance(window.end, time):
        return "A time window needs a start and an end time."
    if window.start.tzinfo is not None or window.end.tzinfo is not None:
        return "Window times are wall-clock times in the account's time zone; give them without a zone."
    return None
