"""A flow's timeline: VoIPBIN's time order whatever the arrival order, the current step marked."""

from __future__ import annotations

from datetime import datetime

import pytest

from dashboard.flows.labels import describe
from dashboard.flows.timeline import Entry, merge, timeline
from dashboard.models import Activeflow, ActiveflowStep
from tests.flows.helpers import activeflow, apply, legacy, new_id, tutorial, when


def shown(entries: list[Entry]) -> list[tuple[str, datetime | None, bool]]:
    return [(entry.action.type, entry.started_at, entry.current) for entry in entries]


@pytest.mark.django_db
def test_timeline_follows_voipbin_times_not_arrival():
    flow_id, call_id = new_id(), new_id()
    talk = activeflow(flow_id, "talk", 2, call_id=call_id, executed=("answer",))
    queue = activeflow(flow_id, "queue_join", 3, call_id=call_id, executed=("answer", "talk"))
    answer = activeflow(flow_id, "answer", 1, call_id=call_id)
    for data in (queue, answer, talk):  # the newest arrives first, the oldest last but one
        apply(tutorial(data))
    entries = timeline(Activeflow.objects.get(pk=flow_id))
    assert shown(entries) == [
        ("answer", when(1), False),
        ("talk", when(2), False),
        ("queue_join", when(3), True),
    ]
    assert [entry.action.label for entry in entries] == [
        "Answering",
        "Speaking to the caller",
        "Waiting in queue",
    ]


@pytest.mark.django_db
def test_executed_actions_that_never_arrived_are_shown_without_a_time_where_they_ran():
    flow_id, call_id = new_id(), new_id()
    apply(legacy(activeflow(flow_id, "answer", 1, call_id=call_id)))
    apply(legacy(activeflow(flow_id, "queue_join", 5, call_id=call_id, executed=("answer", "play", "talk"))))
    row = Activeflow.objects.get(pk=flow_id)
    assert shown(timeline(row)) == [
        ("answer", when(1), False),
        ("play", None, False),
        ("talk", None, False),
        ("queue_join", when(5), True),
    ]
    # The lost event turns up after all: the action gets its time, and is not shown twice.
    apply(legacy(activeflow(flow_id, "talk", 3, call_id=call_id, executed=("answer", "play"))))
    assert shown(timeline(row)) == [
        ("answer", when(1), False),
        ("play", None, False),
        ("talk", when(3), False),
        ("queue_join", when(5), True),
    ]


@pytest.mark.django_db
def test_an_ended_flow_has_no_current_step():
    flow_id, call_id = new_id(), new_id()
    apply(legacy(activeflow(flow_id, "talk", 2, call_id=call_id)))
    apply(legacy(activeflow(flow_id, "hangup", 4, call_id=call_id, status="ended", executed=("talk",))))
    assert shown(timeline(Activeflow.objects.get(pk=flow_id))) == [
        ("talk", when(2), False),
        ("hangup", when(4), False),
    ]


def step(action_id: str, seconds: float) -> ActiveflowStep:
    return ActiveflowStep(
        activeflow_id="af", action_id=action_id, action_type=action_id, started_at=when(seconds)
    )


def test_executed_list_that_includes_the_current_action_marks_it_once():
    entries = merge(
        steps=[step("a", 1), step("b", 2)],
        executed=[("a", "a"), ("b", "b")],
        current_id="b",
        current_type="b",
        running=True,
    )
    assert shown(entries) == [("a", when(1), False), ("b", when(2), True)]


def test_a_loop_marks_the_latest_visit_as_current():
    entries = merge(
        steps=[step("a", 1), step("b", 2), step("a", 3)],
        executed=[("a", "a"), ("b", "b")],
        current_id="a",
        current_type="a",
        running=True,
    )
    assert shown(entries) == [("a", when(1), False), ("b", when(2), False), ("a", when(3), True)]


def test_a_current_action_with_no_step_yet_is_current_without_a_time():
    entries = merge(
        steps=[step("a", 1)], executed=[("a", "a")], current_id="c", current_type="connect", running=True
    )
    assert shown(entries) == [("a", when(1), False), ("connect", None, True)]
    assert entries[-1].action.label == "Connecting"


@pytest.mark.parametrize(
    ("action_type", "label"),
    [
        ("answer", "Answering"),
        ("talk", "Speaking to the caller"),
        ("queue_join", "Waiting in queue"),
        ("play", "Playing a message"),
        ("hangup", "Hanging up"),
        ("ai_talk_summary", "Ai talk summary"),  # unknown to us: the type itself, in words
        ("", "Starting"),  # VoIPBIN's start placeholder: nothing run yet
        ("  ", "Unknown action"),
    ],
)
def test_action_types_read_as_words_with_an_icon(action_type, label):
    action = describe(action_type)
    assert (action.type, action.label) == (action_type, label)
    assert action.icon
