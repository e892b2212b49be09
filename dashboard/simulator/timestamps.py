"""VoIPBIN timestamps: RFC 3339 in UTC as Go's ``RFC3339Nano`` writes them (VOIPBIN.md §5).

Resources carry ``2026-01-20T10:30:00.4021Z`` (trailing zeros trimmed, no fraction at all on a
whole second); page tokens alone keep six digits, as VoIPBIN formats them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_TOKEN_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def format_page_token(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TOKEN_FORMAT)


def parse_time(text: str) -> datetime:
    """Read a VoIPBIN timestamp; raises ValueError on anything else."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


class Clock:
    """Wall-clock stamps that never repeat.

    Clients order changes by ``tm_update``, and page tokens are ``tm_create``
    values, so two changes must never share a microsecond.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        moment = datetime.now(UTC)
        if moment <= self._last:
            moment = self._last + timedelta(microseconds=1)
        self._last = moment
        return moment

    def stamp(self) -> str:
        return format_time(self.now())
