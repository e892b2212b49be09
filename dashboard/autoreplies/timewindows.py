"""Time windows as people write them: one per line, ``Mon-Fri 09:00-17:00``.

The model stores windows as ``{"weekdays": [0, …], "start": "HH:MM", "end": "HH:MM"}``; this is
the text form shown in the rule form and in rule summaries, so both read the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import time
from typing import Any

from dashboard.rules.conditions import WEEKDAY_NAMES

EXAMPLE = "Mon-Fri 09:00-17:00"

_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DASH = "\\-\u2013"  # a hyphen or the en dash people type for ranges, escaped for a character class
_CLOCK = r"\d{1,2}:\d{2}"
_LINE = re.compile(
    rf"^(?P<days>[A-Za-z][A-Za-z ,{_DASH}]*?)\s+(?P<start>{_CLOCK})\s*[{_DASH}]\s*(?P<end>{_CLOCK})$"
)
_EVERY_DAY = {"daily", "every day", "everyday"}


class WindowSyntaxError(ValueError):
    """A line that is not a window; the message is written for the person typing it."""


def _day(word: str) -> int:
    key = word.strip().lower()
    for index, name in enumerate(_FULL_NAMES):
        if len(key) >= 3 and name.startswith(key):
            return index
    raise WindowSyntaxError(f"“{word.strip()}” is not a weekday (Mon, Tue, … Sun).")


def _weekdays(text: str) -> list[int]:
    if text.strip().lower() in _EVERY_DAY:
        return list(range(7))
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        ends = [piece for piece in re.split(rf"\s*[{_DASH}]\s*", part) if piece]
        if len(ends) == 1:
            days.add(_day(ends[0]))
        elif len(ends) == 2:
            first, last = _day(ends[0]), _day(ends[1])
            days.update((first + step) % 7 for step in range((last - first) % 7 + 1))
        else:
            raise WindowSyntaxError(f"“{part}” is not a weekday or a range such as Mon-Fri.")
    if not days:
        raise WindowSyntaxError("Give at least one weekday, e.g. Mon-Fri.")
    return sorted(days)


def _clock(text: str) -> str:
    try:
        return f"{time.fromisoformat(text.zfill(5)):%H:%M}"
    except ValueError as exc:
        raise WindowSyntaxError(f"“{text}” is not a time between 00:00 and 23:59.") from exc


def parse_windows(text: str) -> list[dict[str, Any]]:
    """Lines such as ``Mon-Fri 09:00-17:00`` or ``Sat,Sun 10:00-14:00`` → the model's JSON.

    An end not after the start crosses midnight (``Fri 22:00-02:00``); equal times mean the whole
    day. Raises ``WindowSyntaxError`` naming the line that could not be read.
    """
    windows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise WindowSyntaxError(f"Line {number}: “{line}” is not like “{EXAMPLE}”.")
        try:
            windows.append(
                {
                    "weekdays": _weekdays(match["days"]),
                    "start": _clock(match["start"]),
                    "end": _clock(match["end"]),
                }
            )
        except WindowSyntaxError as exc:
            raise WindowSyntaxError(f"Line {number}: {exc}") from exc
    return windows


def format_days(weekdays: Iterable[int]) -> str:
    """``[0, 1, 2, 3, 4, 6]`` → ``Mon-Fri,Sun``: runs of three or more days become ranges."""
    days = sorted(set(weekdays))
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAY_NAMES[run[0]]}-{WEEKDAY_NAMES[run[-1]]}")
        else:
            parts.extend(WEEKDAY_NAMES[day] for day in run)
    return ",".join(parts)


def format_window(window: Any) -> str:
    """One stored window as a line; anything of another shape is shown as it is, to be fixed."""
    try:
        return f"{format_days(window['weekdays'])} {window['start']}-{window['end']}"
    except (KeyError, TypeError, IndexError):
        return str(window)


def format_windows(value: Any) -> str:
    if not isinstance(value, list):
        return "" if value in (None, "") else str(value)
    return "\n".join(format_window(window) for window in value)
