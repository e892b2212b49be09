"""VoIPBIN's two time forms: resources as Go's RFC3339Nano writes them, page tokens with six digits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from dashboard.simulator.timestamps import Clock, format_page_token, format_time, parse_time
from tests.simulator.helpers import FIXED_TIME, TIMESTAMP


@pytest.mark.parametrize(
    ("microsecond", "text"),
    [
        (402100, "2026-01-20T10:30:00.4021Z"),
        (0, "2026-01-20T10:30:00Z"),
        (500000, "2026-01-20T10:30:00.5Z"),
        (1, "2026-01-20T10:30:00.000001Z"),
        (123456, "2026-01-20T10:30:00.123456Z"),
        (10, "2026-01-20T10:30:00.00001Z"),
    ],
)
def test_resource_times_trim_trailing_zeros_and_read_back(microsecond, text):
    moment = datetime(2026, 1, 20, 10, 30, 0, microsecond, tzinfo=UTC)
    assert format_time(moment) == text
    assert TIMESTAMP.fullmatch(text)
    assert parse_time(text) == moment


@pytest.mark.parametrize(
    ("microsecond", "token"),
    [
        (402100, "2026-01-20T10:30:00.402100Z"),
        (0, "2026-01-20T10:30:00.000000Z"),
        (123456, "2026-01-20T10:30:00.123456Z"),
    ],
)
def test_page_tokens_keep_six_digits(microsecond, token):
    moment = datetime(2026, 1, 20, 10, 30, 0, microsecond, tzinfo=UTC)
    assert format_page_token(moment) == token
    assert FIXED_TIME.fullmatch(token)
    assert parse_time(token) == moment


def test_times_are_written_in_utc():
    moment = datetime(2026, 1, 20, 12, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2026-01-20T10:30:00.25Z"
    assert format_page_token(moment) == "2026-01-20T10:30:00.250000Z"


@pytest.mark.parametrize("text", ["2026-01-20T10:30:00", "2026-01-20", "yesterday", ""])
def test_a_time_without_zone_or_not_a_time_is_refused(text):
    with pytest.raises(ValueError, match=r"."):
        parse_time(text)


def test_clock_stamps_are_trimmed_distinct_and_increasing():
    clock = Clock()
    stamps = [clock.stamp() for _ in range(2000)]
    assert all(TIMESTAMP.fullmatch(stamp) for stamp in stamps)
    moments = [parse_time(stamp) for stamp in stamps]
    assert all(earlier < later for earlier, later in pairwise(moments))
