"""Queue figures: thresholds, the local day, service level, and the simulator's contact center recounted."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboard.models import Account, Agent, Queue, Queuecall
from dashboard.queues.stats import Level, account_time_zone, assess, local_day, summarize
from dashboard.simulator.accounts import (
    CUSTOMERS,
    DEMO_CUSTOMER_ID,
    SALES_QUEUE_ID,
    SALES_TAG_ID,
    SUPPORT_QUEUE_ID,
    SUPPORT_TAG_ID,
)
from dashboard.simulator.events import Change
from dashboard.simulator.frames import Dialect, publication_topics, render
from dashboard.simulator.resources import public_view
from dashboard.simulator.scenario import Rates, Scenario
from dashboard.simulator.state import State
from dashboard.simulator.timestamps import Clock
from dashboard.voipbin.events import normalize, parse_time
from tests.queues.helpers import apply, legacy

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York


def make_queue(**thresholds: int) -> Queue:
    return Queue.objects.create(
        pk=str(uuid.uuid4()), customer_id=DEMO_CUSTOMER_ID, name="Sales", tag_ids=[SALES_TAG_ID], **thresholds
    )


def make_queuecall(queue: Queue, status: str, *, joined: datetime, **times: datetime) -> Queuecall:
    return Queuecall.objects.create(
        pk=str(uuid.uuid4()),
        customer_id=DEMO_CUSTOMER_ID,
        queue_id=queue.pk,
        status=status,
        tm_create=joined,
        **times,
    )


def make_agent(status: str, tags: list[str], customer_id: str = DEMO_CUSTOMER_ID) -> Agent:
    pk = str(uuid.uuid4())
    return Agent.objects.create(
        pk=pk, owner_agent_id=pk, customer_id=customer_id, status=status, tag_ids=tags
    )


def only(queue: Queue, *, now: datetime = NOW, tz: ZoneInfo = NEW_YORK):
    (summary,) = summarize([queue], now=now, tz=tz)
    return summary


# --- thresholds -------------------------------------------------------------------------------


def test_waiting_callers_take_a_queue_from_normal_to_warning_to_critical():
    queue = make_queue(
        warn_waiting=2, critical_waiting=3, warn_longest_wait_seconds=0, critical_longest_wait_seconds=0
    )
    levels = []
    for _ in range(3):
        make_queuecall(queue, "waiting", joined=NOW - timedelta(seconds=5))
        levels.append(only(queue).level)
    assert levels == [Level.NORMAL, Level.WARNING, Level.CRITICAL]
    assert only(queue).reasons == ("3 waiting (limit 3)",)


def test_the_longest_wait_takes_a_queue_from_normal_to_warning_to_critical():
    queue = make_queue(warn_longest_wait_seconds=60, critical_longest_wait_seconds=120)
    make_queuecall(queue, "connecting", joined=NOW - timedelta(seconds=30))
    make_queuecall(queue, "waiting", joined=NOW - timedelta(seconds=10))
    summary = only(queue)
    assert (summary.waiting, summary.longest_since, summary.level) == (
        2,
        NOW - timedelta(seconds=30),
        Level.NORMAL,
    )
    assert only(queue, now=NOW + timedelta(seconds=30)).level is Level.WARNING
    later = only(queue, now=NOW + timedelta(seconds=90))
    assert later.level is Level.CRITICAL
    assert later.reasons == ("longest wait 2 min (limit 2 min)",)


def test_a_low_service_level_warns_then_turns_critical_and_unknown_judges_nothing():
    queue = make_queue(warn_service_level=80, critical_service_level=50)
    assert only(queue).service_level is None
    assert only(queue).level is Level.NORMAL
    joined = NOW - timedelta(minutes=10)
    for wait in (5, 10, 15, 40):  # three of four within 20 s: 75 %
        make_queuecall(queue, "done", joined=joined, tm_service=joined + timedelta(seconds=wait), tm_end=NOW)
    assert (only(queue).service_level, only(queue).level) == (75.0, Level.WARNING)
    make_queuecall(queue, "abandoned", joined=joined, tm_end=joined + timedelta(seconds=3))
    make_queuecall(queue, "abandoned", joined=joined, tm_end=joined + timedelta(seconds=90))
    summary = only(queue)
    assert (summary.answered, summary.answered_in_time, summary.abandoned) == (4, 3, 2)
    assert summary.service_level == 50.0
    assert summary.level is Level.WARNING  # critical only *below* 50 %
    make_queuecall(queue, "service", joined=joined, tm_service=joined + timedelta(seconds=21))
    assert only(queue).level is Level.CRITICAL


def test_the_worst_level_wins_with_all_its_reasons():
    queue = Queue(
        warn_waiting=1, critical_waiting=2, warn_longest_wait_seconds=10, critical_longest_wait_seconds=20
    )
    level, reasons = assess(queue, waiting=2, longest_wait=timedelta(seconds=15), service_level=None)
    assert level is Level.CRITICAL
    assert reasons == ("2 waiting (limit 2)",)
    level, reasons = assess(queue, waiting=1, longest_wait=timedelta(seconds=15), service_level=85.0)
    assert (level, len(reasons)) == (Level.WARNING, 2)


def test_zero_turns_a_count_or_wait_limit_off():
    queue = Queue(
        warn_waiting=0, critical_waiting=0, warn_longest_wait_seconds=0, critical_longest_wait_seconds=0
    )
    assert assess(queue, waiting=40, longest_wait=timedelta(hours=1), service_level=None)[0] is Level.NORMAL


# --- the day, service level, agents -----------------------------------------------------------


def test_today_starts_at_midnight_in_the_accounts_time_zone():
    queue = make_queue()
    new_york_midnight = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    before, after = new_york_midnight - timedelta(minutes=1), new_york_midnight + timedelta(minutes=1)
    make_queuecall(queue, "done", joined=before - timedelta(seconds=5), tm_service=before, tm_end=after)
    make_queuecall(queue, "done", joined=after - timedelta(seconds=5), tm_service=after, tm_end=after)
    make_queuecall(queue, "abandoned", joined=before - timedelta(seconds=5), tm_end=before)
    make_queuecall(queue, "abandoned", joined=after, tm_end=after + timedelta(seconds=1))
    assert (only(queue, tz=NEW_YORK).answered, only(queue, tz=NEW_YORK).abandoned) == (1, 1)
    assert (only(queue, tz=UTC_ZONE).answered, only(queue, tz=UTC_ZONE).abandoned) == (
        2,
        2,
    )  # UTC day: 00:00Z


def test_the_time_zone_is_the_accounts_else_the_sites(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert account_time_zone(DEMO_CUSTOMER_ID) == ZoneInfo("Europe/Berlin")
    Account.objects.create(
        name="Acme",
        customer_id=DEMO_CUSTOMER_ID,
        access_key="k",
        numbers=["+15555550102"],
        time_zone="America/New_York",
    )
    assert account_time_zone(DEMO_CUSTOMER_ID) == NEW_YORK


def test_a_day_with_a_clock_change_is_23_hours_long():
    start, end = local_day(datetime(2026, 3, 8, 12, tzinfo=UTC), NEW_YORK)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


def test_agents_count_where_they_share_a_tag_ringing_counts_as_busy():
    queue = make_queue()
    make_agent("available", [SALES_TAG_ID])
    make_agent("available", [SUPPORT_TAG_ID, SALES_TAG_ID])
    make_agent("ringing", [SALES_TAG_ID])
    make_agent("busy", [SALES_TAG_ID])
    make_agent("away", [SALES_TAG_ID])
    make_agent("available", [SUPPORT_TAG_ID])  # another queue's
    make_agent("available", [SALES_TAG_ID], customer_id=str(uuid.uuid4()))  # another customer's
    assert only(queue).agents == {"available": 2, "busy": 2, "away": 1, "offline": 0}


def test_figures_for_many_queues_take_three_queries(django_assert_num_queries):
    queues = [make_queue() for _ in range(6)]
    for queue in queues:
        make_queuecall(queue, "waiting", joined=NOW - timedelta(seconds=5))
        make_queuecall(
            queue, "done", joined=NOW - timedelta(seconds=50), tm_service=NOW - timedelta(seconds=40)
        )
    make_agent("available", [SALES_TAG_ID])
    with django_assert_num_queries(3):
        summaries = summarize(queues, now=NOW, tz=NEW_YORK)
    assert [(s.waiting, s.answered, s.agents["available"]) for s in summaries] == [(1, 1, 1)] * 6


# --- the simulator's contact center, recounted ------------------------------------------------

# Starts at 23:40 in New York, so the hour crosses midnight and "today" cuts it in two.
START = datetime(2026, 3, 3, 4, 40, tzinfo=UTC)
MINUTES = 60
SEED = 11


class VirtualClock(Clock):
    """The simulator's stamps in its own virtual time, so waits and the day boundary are real."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: Callable[[], float] = lambda: 0.0

    def now(self) -> datetime:
        moment = START + timedelta(seconds=self.seconds())
        if moment <= self._last:
            moment = self._last + timedelta(microseconds=1)
        self._last = moment
        return moment


def play(
    dialect: Dialect,
) -> tuple[State, list[tuple[str, list[dict[str, Any]]]], list[dict[str, Any]], datetime]:
    """Run the seeded scenario; return its state, the frames it sent (each with the queue lists
    GET /queues would have answered at that moment), what a backfill at the start fetched, and "now"."""
    clock = VirtualClock()
    state = State(clock=clock)
    backfill = [
        legacy(f"{resource}_updated", dict(public_view(resource, record)))
        for resource in ("queue", "agent")
        for record in state.all(resource)
    ]
    frames: list[tuple[str, list[dict[str, Any]]]] = []

    def record(change: Change) -> None:
        if change.resource not in ("agent", "queue", "queuecall"):
            return
        topic = publication_topics(change, dialect, state)[0]
        lists = [legacy("queue_updated", dict(queue)) for queue in state.all("queue")]
        frames.append((render(change, dialect, topic), lists))

    state.listeners.append(record)
    scenario = Scenario(state, seed=SEED, rates=Rates(calls_per_minute=3, sms_per_minute=0))
    clock.seconds = lambda: scenario.now
    scenario.advance(MINUTES * 60)
    return state, frames, backfill, START + timedelta(minutes=MINUTES)


def expected_figures(state: State, queue_id: str, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """Straight from the simulator's own records (which know every queuecall's queue)."""
    day = now.astimezone(tz).date()

    def today(stamp: str | None) -> bool:
        return stamp is not None and parse_time(stamp).astimezone(tz).date() == day

    queue = state.get("queue", queue_id)
    calls = [qc for qc in state.all("queuecall") if qc["queue_id"] == queue_id]
    waiting = [qc for qc in calls if qc["status"] in ("waiting", "connecting")]
    answered = [qc for qc in calls if today(qc.get("tm_service"))]
    abandoned = [qc for qc in calls if qc["status"] == "abandoned" and today(qc["tm_update"])]
    in_time = [
        qc
        for qc in answered
        if parse_time(qc["tm_service"]) - parse_time(qc["tm_create"]) <= timedelta(seconds=20)
    ]
    agents = Counter(
        {"ringing": "busy"}.get(agent["status"], agent["status"])
        for agent in state.all("agent")
        if agent["customer_id"] == queue["customer_id"]
        and set(agent.get("tag_ids", ())) & set(queue["tag_ids"])
    )
    return {
        "waiting": len(waiting),
        "longest_since": min((parse_time(qc["tm_create"]) for qc in waiting), default=None),
        "answered": len(answered),
        "answered_in_time": len(in_time),
        "abandoned": len(abandoned),
        "service_level": 100 * len(in_time) / (len(answered) + len(abandoned))
        if answered or abandoned
        else None,
        "agents": {bucket: agents[bucket] for bucket in ("available", "busy", "away", "offline")},
        "all_answered": sum(1 for qc in calls if qc.get("tm_service")),
    }


def figures(queue_id: str, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    summary = only(Queue.objects.get(pk=queue_id), now=now, tz=tz)
    return {
        "waiting": summary.waiting,
        "longest_since": summary.longest_since,
        "answered": summary.answered,
        "answered_in_time": summary.answered_in_time,
        "abandoned": summary.abandoned,
        "service_level": summary.service_level,
        "agents": summary.agents,
    }


def deliver(frame: str, lists: list[dict[str, Any]]) -> None:
    """What the relay does with a frame; for a queuecall whose queue the frame does not name and
    the lists held do not know, it fetches GET /queues (here: the lists as VoIPBIN had them then)."""
    change = apply(json.loads(frame))
    if change is not None and change.resource == "queuecall" and not change.row.queue_id:
        for queue in lists:
            apply(queue)


@pytest.mark.parametrize("dialect", [Dialect.TUTORIAL, Dialect.BARE])
def test_queue_figures_match_a_recount_of_the_simulators_contact_center(dialect):
    state, frames, backfill, now = play(dialect)
    for frame in backfill:
        apply(frame)
    for frame, lists in frames:
        deliver(frame, lists)
    totals = Counter()
    for queue_id in (SALES_QUEUE_ID, SUPPORT_QUEUE_ID, *(q.id for q in CUSTOMERS[1].queues)):
        expected = expected_figures(state, queue_id, now=now, tz=NEW_YORK)
        totals.update(
            answered_today=expected["answered"],
            answered=expected["all_answered"],
            abandoned=expected["abandoned"],
        )
        del expected["all_answered"]
        assert figures(queue_id, now=now, tz=NEW_YORK) == expected, queue_id
    # The hour was busy enough for the comparison to mean something, and midnight cut it.
    assert totals["abandoned"] > 0
    assert 0 < totals["answered_today"] < totals["answered"]


def snapshot() -> dict[str, list[tuple]]:
    """Every live row as stored, to tell that replaying events rewrote nothing."""
    return {
        model.__name__: sorted(model.objects.values_list("pk", "status", "tm_update", "data"), key=str)
        for model in (Queue, Queuecall, Agent)
    }


def test_shuffled_and_repeated_delivery_gives_the_same_figures():
    state, frames, backfill, now = play(Dialect.TUTORIAL)
    for frame in backfill:
        apply(frame)
    shuffled = [frame for frame, _ in frames]
    random.Random(3).shuffle(shuffled)
    for frame in shuffled:
        apply(json.loads(frame))
    held = snapshot()
    for frame in reversed(shuffled):  # every one a duplicate or stale now: nothing is rewritten
        apply(json.loads(frame))
    assert snapshot() == held
    for queue_id in (SALES_QUEUE_ID, SUPPORT_QUEUE_ID):
        expected = expected_figures(state, queue_id, now=now, tz=NEW_YORK)
        del expected["all_answered"]
        assert figures(queue_id, now=now, tz=NEW_YORK) == expected, queue_id
    assert normalize(json.loads(shuffled[0])).dialect == "tutorial"
