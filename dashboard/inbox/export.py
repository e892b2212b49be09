"""The inbox as CSV: one row per message, streamed in pages so a long history never sits in memory."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from dashboard.csvexport import stream_csv
from dashboard.forms import validate_sensible_date
from dashboard.inbox import threads
from dashboard.models import Message, User

PAGE_SIZE = 500
HEADER = (
    "time (UTC)",
    "direction",
    "our number",
    "remote",
    "text",
    "delivery status",
    "auto-reply rule",
    "sent by",
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadRange(ValueError):
    """A ``from``/``to`` that is not a day; the message is fit to show the user."""


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime | None = None
    end: datetime | None = None  # exclusive

    @property
    def given(self) -> bool:
        return self.start is not None or self.end is not None


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRange(f"“{value}” in {name} is not a day: use YYYY-MM-DD, e.g. 2026-01-31.") from None
    try:
        validate_sensible_date(day)
    except ValidationError as exc:
        raise BadRange(f"{name}: {exc.messages[0]}") from None
    return day


def parse_range(start: str, end: str) -> Range:
    """Whole days, ``to`` included, in the dashboard's time zone (``DASHBOARD_TIME_ZONE``)."""
    first, last = _day(start.strip(), "from"), _day(end.strip(), "to")
    if first and last and first > last:
        raise BadRange(f"from ({first}) is after to ({last}).")
    zone = timezone.get_current_timezone()
    return Range(
        start=datetime.combine(first, time(0), tzinfo=zone) if first else None,
        end=datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone) if last else None,
    )


def exported(user: User, *, q: str = "", unanswered: bool = False, within: Range | None = None) -> QuerySet:
    """The messages to export: those in ``within`` when given, else the threads the list shows."""
    messages = threads.inbox_messages(user)
    if within is not None and within.given:
        if within.start is not None:
            messages = messages.filter(tm_create__gte=within.start)
        if within.end is not None:
            messages = messages.filter(tm_create__lt=within.end)
        return messages
    return threads.matching(messages, q=q, unanswered=unanswered)


def _row(message: Message) -> list[str]:
    at = message.tm_create.astimezone(UTC).isoformat().replace("+00:00", "Z") if message.tm_create else ""
    return [
        at,
        message.direction,
        message.our_number,
        message.remote,
        message.text,
        message.status,
        message.auto_rule,
        message.sender_name,
    ]


def _page(messages: QuerySet, after: Message | None) -> list[Message]:
    """The next page in time order (VoIPBIN time, then id; messages without a time last), by keyset.

    A keyset, not an offset: messages arriving during the export cannot shift pages.
    """
    if after is None:
        rest = messages
    elif after.tm_create is None:
        rest = messages.filter(tm_create__isnull=True, pk__gt=after.pk)
    else:
        rest = messages.filter(
            Q(tm_create__gt=after.tm_create)
            | Q(tm_create=after.tm_create, pk__gt=after.pk)
            | Q(tm_create__isnull=True)
        )
    ordered = threads.with_sender(rest).order_by("tm_create", "pk")
    timed = list(ordered.filter(tm_create__isnull=False)[:PAGE_SIZE])
    if len(timed) < PAGE_SIZE:
        timed += list(ordered.filter(tm_create__isnull=True)[: PAGE_SIZE - len(timed)])
    return threads.decorate(timed)


def stream_messages(messages: QuerySet) -> AsyncIterator[str]:
    """The messages as CSV, a page at a time."""

    def page(after: Message | None) -> tuple[list[list[str]], Message | None]:
        rows = _page(messages, after)
        return [_row(message) for message in rows], (rows[-1] if rows else None)

    return stream_csv(HEADER, page)
