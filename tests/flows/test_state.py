"""Activeflow events kept in live state: every dialect, idempotent, in VoIPBIN's order, not arrival's."""

from __future__ import annotations

import pytest

from dashboard.flows.state import apply_activeflow
from dashboard.models import Activeflow, ActiveflowStep
from dashboard.simulator.accounts import DEMO_AGENT1_ID, DEMO_CUSTOMER_ID, DEMO_FLOW_ID, OTHER_CUSTOMER_ID
from dashboard.simulator.resources import flow_action
from dashboard.voipbin.events import normalize
from dashboard.voipbin.topics import format_topic
from tests.flows.helpers import (
    DIALECTS,
    activeflow,
    apply,
    at,
    bare,
    legacy,
    new_id,
    remember_call,
    steps,
    tutorial,
    when,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_each_dialect_keeps_the_activeflow_current(dialect):
    wrap, flow_id, call_id = DIALECTS[dialect], new_id(), new_id()
    created = apply(wrap(activeflow(flow_id, "answer", 1, call_id=call_id)))
    assert created is not None
    assert (created.resource, created.created) == ("activeflow", True)
    moved = apply(wrap(activeflow(flow_id, "talk", 2, call_id=call_id, executed=("answer",))))
    assert moved is not None
    assert not moved.created
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.customer_id, row.flow_id, row.reference_type, row.reference_id) == (
        DEMO_CUSTOMER_ID,
        DEMO_FLOW_ID,
        "call",
        call_id,
    )
    assert (row.status, row.current_action_type, row.tm_update) == ("running", "talk", when(2))
    assert row.current_action_id == flow_action(DEMO_FLOW_ID, "talk")["id"]
    assert steps(flow_id) == [("answer", when(1)), ("talk", when(2))]


def test_the_tutorials_own_fields_are_enough():
    """The tutorial reads ``id``, ``flow_id`` and ``current_action``; the rest comes from the topic."""
    flow_id, call_id = new_id(), new_id()
    remember_call(call_id, activeflow_id=flow_id, owner_id=DEMO_AGENT1_ID)  # the call names its flow
    frame = {
        "event_type": "activeflow.updated",
        "timestamp": at(3),
        "topic": format_topic("customer_id", DEMO_CUSTOMER_ID, "activeflow", flow_id),
        "data": {"id": flow_id, "flow_id": DEMO_FLOW_ID, "current_action": flow_action(DEMO_FLOW_ID, "play")},
    }
    change = apply(frame)
    assert change is not None
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.customer_id, row.status, row.current_action_type, row.tm_update) == (
        DEMO_CUSTOMER_ID,
        "running",
        "play",
        when(3),
    )
    assert (row.reference_type, row.reference_id, row.owner_agent_id) == ("call", call_id, DEMO_AGENT1_ID)
    assert format_topic("agent_id", DEMO_AGENT1_ID, "activeflow", flow_id) in change.topics
    assert steps(flow_id) == [("play", when(3))]
    # An older tutorial frame without tm_update is ordered by its timestamp: it does not regress.
    older = {
        **frame,
        "timestamp": at(2),
        "data": {**frame["data"], "current_action": flow_action(DEMO_FLOW_ID, "answer")},
    }
    assert apply(older) is not None  # its step is news for the timeline…
    assert Activeflow.objects.get(pk=flow_id).current_action_type == "play"  # …but not for the row
    assert steps(flow_id) == [("answer", when(2)), ("play", when(3))]


def test_a_late_older_event_adds_its_step_at_its_own_time_without_regressing():
    flow_id, call_id = new_id(), new_id()
    answer = activeflow(flow_id, "answer", 1, call_id=call_id)
    talk = activeflow(flow_id, "talk", 2, call_id=call_id, executed=("answer",))
    queue = activeflow(flow_id, "queue_join", 3, call_id=call_id, executed=("answer", "talk"))
    for data in (answer, queue):
        assert apply(legacy(data)) is not None
    late = apply(tutorial(talk))
    assert late is not None  # the timeline changed, so the pages hear of it
    assert late.row.current_action_type == "queue_join"
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.current_action_type, row.tm_update, row.data["tm_update"]) == ("queue_join", when(3), at(3))
    assert steps(flow_id) == [("answer", when(1)), ("talk", when(2)), ("queue_join", when(3))]


def test_duplicates_in_any_dialect_add_no_step_and_write_nothing_but_are_still_reported():
    """As new as the row: another process may have stored it first, so its pages must still hear
    of it (as calls and queues are reported); repeats within one process stop at the event key."""
    flow_id = new_id()
    data = activeflow(flow_id, "answer", 1)
    assert apply(tutorial(data)) is not None
    stored = Activeflow.objects.get(pk=flow_id)
    for wrap in (tutorial, legacy, bare):
        repeat = apply(wrap(data))
        assert repeat is not None
        assert not repeat.created
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.data, row.tm_update, row.received_at) == (stored.data, stored.tm_update, stored.received_at)
    assert steps(flow_id) == [("answer", when(1))]
    assert ActiveflowStep.objects.count() == 1


def test_a_stale_activeflow_event_changes_and_reports_nothing():
    flow_id = new_id()
    apply(bare(activeflow(flow_id, "answer", 1)))
    apply(bare(activeflow(flow_id, "talk", 5)))
    assert apply(bare(activeflow(flow_id, "answer", 1))) is None  # older, and its step is known
    assert Activeflow.objects.get(pk=flow_id).tm_update == when(5)


def test_staying_in_an_action_is_one_step_and_a_late_report_moves_it_back():
    flow_id, call_id = new_id(), new_id()
    apply(legacy(activeflow(flow_id, "queue_join", 10, call_id=call_id)))
    # Another update while still waiting in the queue (some other field changed): no new step.
    assert apply(legacy({**activeflow(flow_id, "queue_join", 12, call_id=call_id), "variables": {"x": 1}}))
    assert steps(flow_id) == [("queue_join", when(10))]
    # The report of entering the queue arrives last: the step began earlier than we thought.
    assert apply(legacy(activeflow(flow_id, "queue_join", 8, call_id=call_id))) is not None
    assert steps(flow_id) == [("queue_join", when(8))]
    assert Activeflow.objects.get(pk=flow_id).tm_update == when(12)


def test_a_flow_that_comes_back_to_an_action_has_a_step_for_each_visit():
    flow_id, call_id = new_id(), new_id()
    for kind, second in (("digits_receive", 1), ("play", 2), ("digits_receive", 3)):
        apply(bare(activeflow(flow_id, kind, second, call_id=call_id)))
    assert steps(flow_id) == [("digits_receive", when(1)), ("play", when(2)), ("digits_receive", when(3))]


def test_ending_sets_tm_end_and_a_late_running_event_does_not_revive_it():
    flow_id, call_id = new_id(), new_id()
    apply(legacy(activeflow(flow_id, "talk", 2, call_id=call_id)))
    ended = {**activeflow(flow_id, "hangup", 9, call_id=call_id, status="ended")}
    del ended["tm_end"]  # VoIPBIN may leave it out: the end is when the event says it ended
    assert apply(legacy(ended)) is not None
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.status, row.tm_end) == ("ended", when(9))
    apply(legacy(activeflow(flow_id, "queue_join", 5, call_id=call_id)))
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.status, row.current_action_type, row.tm_end) == ("ended", "hangup", when(9))


def test_a_deleted_activeflow_counts_as_ended():
    flow_id = new_id()
    apply(legacy(activeflow(flow_id, "talk", 2)))
    assert apply(legacy(activeflow(flow_id, "talk", 4), name="activeflow_deleted")) is not None
    row = Activeflow.objects.get(pk=flow_id)
    assert (row.status, row.tm_end) == ("ended", when(4))


def test_the_owner_agent_comes_from_the_call():
    flow_id, call_id = new_id(), new_id()
    remember_call(call_id, owner_id=DEMO_AGENT1_ID)
    change = apply(bare(activeflow(flow_id, "talk", 2, call_id=call_id)))
    assert change is not None
    assert change.row.owner_agent_id == DEMO_AGENT1_ID
    assert format_topic("agent_id", DEMO_AGENT1_ID, "activeflow", flow_id) in change.topics


def test_an_activeflow_of_no_known_customer_is_skipped():
    data = activeflow(new_id(), "talk", 2)
    del data["customer_id"]
    assert apply(bare(data)) is None
    assert not Activeflow.objects.exists()
    assert not ActiveflowStep.objects.exists()


def test_other_resources_are_not_applied_here():
    call = normalize(
        legacy({"id": new_id(), "customer_id": DEMO_CUSTOMER_ID, "status": "ringing"}, "call_updated")
    )
    assert apply_activeflow(call) is None


def test_a_flow_of_another_customer_never_takes_the_agent_of_our_call():
    call_id, flow_id = new_id(), new_id()
    remember_call(call_id, owner_id=DEMO_AGENT1_ID)  # Acme's call, agent1's
    change = apply(bare(activeflow(flow_id, "talk", 2, call_id=call_id, customer_id=OTHER_CUSTOMER_ID)))
    assert change is not None
    assert (change.row.customer_id, change.row.owner_agent_id) == (OTHER_CUSTOMER_ID, "")
    assert not any(topic.startswith("agent_id:") for topic in change.topics)
