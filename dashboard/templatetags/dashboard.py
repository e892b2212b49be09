from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(start: datetime | None, end: datetime | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) between two times; empty when either is missing."""
    if start is None or end is None:
        return ""
    return span(end - start)


@register.filter
def span(value: timedelta | None) -> str:
    """A length of time as ``m:ss`` (or ``h:mm:ss``); empty when missing."""
    if value is None:
        return ""
    seconds = max(0, int(value.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


@register.filter
def epoch(value: datetime | None) -> str:
    return f"{value.timestamp():.3f}" if value else ""


@register.filter
def clock(value: float | None) -> str:
    """A ``time.time()`` value as the local wall-clock time ``10:42:05``; empty when missing."""
    if value is None:
        return ""
    return timezone.localtime(datetime.fromtimestamp(value, UTC)).strftime("%H:%M:%S")
