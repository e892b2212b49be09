"""Agent, queue and queuecall events applied to live state: idempotent, ordered by VoIPBIN, tenant-safe."""

from __future__ import annotations

import uuid

import pytest

from dashboard import rows
from dashboard.models import Agent, Queue, Queuecall
from dashboard.queues.forms import save_thresholds
from dashboard.queues.pages import QUEUES_PAGE
from dashboard.simulator.accounts import (
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_AGENT3_ID,
    DEMO_CUSTOMER,
    DEMO_CUSTOMER_ID,
    OTHER_CUSTOMER_ID,
    OTHER_QUEUE_ID,
    SALES_QUEUE_ID,
    SUPPORT_QUEUE_ID,
)
from dashboard.voipbin.events import parse_time
from dashboard.voipbin.topics import Permission, format_topic, matches_any
from tests.queues.helpers import apply, at, legacy, person, queuecall, seed_accounts

pytestmark = pytest.mark.django_db


def agent_event(status: str, seconds: float, **fields) -> dict:
    data = {"id": DEMO_AGENT2_ID, "customer_id": DEMO_CUSTOMER_ID, "username": "agent2", "status": status}
    return legacy("agent_status_updated", {**data, "tm_update": at(seconds), **fields})


def new_id() -> str:
    return str(uuid.uuid4())


# --- agents -----------------------------------------------------------------------------------


def test_agent_status_since_moves_only_when_the_status_changes():
    assert apply(agent_event("available", 0)).created
    assert Agent.objects.get(pk=DEMO_AGENT2_ID).status_since == parse_time(at(0))
    assert apply(agent_event("available", 10, name="Sam Chen")) is not None  # details, same status
    agent = Agent.objects.get(pk=DEMO_AGENT2_ID)
    assert (agent.name, agent.status_since) == ("Sam Chen", parse_time(at(0)))
    apply(agent_event("away", 20))
    assert Agent.objects.get(pk=DEMO_AGENT2_ID).status_since == parse_time(at(20))


def test_duplicate_and_stale_agent_events_change_nothing():
    apply(agent_event("away", 20))
    repeat = apply(agent_event("away", 20))  # as new as the row: reported (other processes), not written
    assert repeat is not None
    assert repeat.row.status == "away"
    assert apply(agent_event("busy", 10)) is None  # older than what we hold
    agent = Agent.objects.get(pk=DEMO_AGENT2_ID)
    assert (agent.status, agent.status_since) == ("away", parse_time(at(20)))
    assert agent.owner_agent_id == DEMO_AGENT2_ID  # so LiveQuerySet.visible_to shows an agent itself


def test_tutorial_agent_status_takes_the_customer_from_its_topic():
    change = apply(
        {
            "event_type": "agent.status",
            "timestamp": at(5),
            "topic": format_topic("customer_id", DEMO_CUSTOMER_ID, "agent", DEMO_AGENT1_ID),
            "data": {"agent_id": DEMO_AGENT1_ID, "status": "busy", "tm_update": at(5)},
        }
    )
    assert change is not None
    agent = Agent.objects.get(pk=DEMO_AGENT1_ID)
    assert (agent.customer_id, agent.status, agent.status_since) == (
        DEMO_CUSTOMER_ID,
        "busy",
        parse_time(at(5)),
    )


def test_an_agent_leaving_a_queue_names_it_as_former():
    seed_accounts()
    change = apply(
        legacy(
            "agent_updated",
            {"id": DEMO_AGENT3_ID, "customer_id": DEMO_CUSTOMER_ID, "tag_ids": [], "tm_update": at(30)},
        )
    )
    assert change.queue_ids == ()
    assert change.former_queue_ids == (SALES_QUEUE_ID,)


def test_two_workers_inserting_the_same_agent_settle_it(monkeypatch):
    """The row appears between our look-up and our insert: the event is applied as an update."""
    apply(agent_event("available", 0))
    real_locked, calls = rows._locked, []

    def missed_once(model, pk):
        calls.append(pk)
        return None if len(calls) == 1 else real_locked(model, pk)

    monkeypatch.setattr(rows, "_locked", missed_once)
    change = apply(agent_event("away", 20))
    assert change is not None
    assert not change.created
    assert Agent.objects.get(pk=DEMO_AGENT2_ID).status == "away"


# --- queues -----------------------------------------------------------------------------------


def test_queue_events_keep_the_thresholds_supervisors_set():
    seed_accounts()
    queue = Queue.objects.get(pk=SALES_QUEUE_ID)
    queue.warn_waiting, queue.critical_waiting = 5, 9
    save_thresholds(queue=queue)
    apply(legacy("queue_updated", {"id": SALES_QUEUE_ID, "name": "Sales EMEA", "tm_update": at(40)}))
    queue = Queue.objects.get(pk=SALES_QUEUE_ID)
    assert (queue.name, queue.warn_waiting, queue.critical_waiting) == ("Sales EMEA", 5, 9)


# --- queuecalls -------------------------------------------------------------------------------


def test_queuecall_times_follow_its_status():
    seed_accounts()
    qc = new_id()
    apply(legacy("queuecall_waiting", queuecall(qc, "waiting", 1, queue_id=SALES_QUEUE_ID)))
    row = Queuecall.objects.get(pk=qc)
    assert (row.queue_id, row.tm_create, row.tm_service, row.tm_end) == (
        SALES_QUEUE_ID,
        parse_time(at(0)),
        None,
        None,
    )
    apply(legacy("queuecall_serviced", queuecall(qc, "service", 12, service_agent_id=DEMO_AGENT1_ID)))
    row = Queuecall.objects.get(pk=qc)
    assert (row.tm_service, row.service_agent_id, row.owner_agent_id) == (
        parse_time(at(12)),
        DEMO_AGENT1_ID,
        DEMO_AGENT1_ID,
    )
    apply(legacy("queuecall_done", queuecall(qc, "done", 90)))
    row = Queuecall.objects.get(pk=qc)
    assert (row.status, row.tm_service, row.tm_end) == ("done", parse_time(at(12)), parse_time(at(90)))


def test_a_done_queuecall_seen_only_at_its_end_takes_its_answer_time_from_the_wait():
    seed_accounts()
    qc = new_id()
    apply(
        legacy("queuecall_done", queuecall(qc, "done", 300, queue_id=SALES_QUEUE_ID, duration_waiting=15000))
    )
    row = Queuecall.objects.get(pk=qc)
    assert (row.tm_service, row.tm_end) == (parse_time(at(15)), parse_time(at(300)))


def test_tutorial_queue_joined_carries_the_queue():
    seed_accounts()
    qc = new_id()
    change = apply(
        {
            "event_type": "queue.joined",
            "timestamp": at(3),
            "topic": format_topic("customer_id", DEMO_CUSTOMER_ID, "queue", SUPPORT_QUEUE_ID),
            "data": {
                "id": qc,
                "call_id": "c-1",
                "queue_id": SUPPORT_QUEUE_ID,
                "status": "waiting",
                "tm_update": at(3),
            },
        }
    )
    row = Queuecall.objects.get(pk=qc)
    assert (row.queue_id, row.customer_id, row.reference_id) == (SUPPORT_QUEUE_ID, DEMO_CUSTOMER_ID, "c-1")
    assert row.tm_create == parse_time(at(3))  # no tm_create in the tutorial's payload: the join time
    assert change.queue_ids == (SUPPORT_QUEUE_ID,)


def test_code_dialect_queuecall_finds_its_queue_in_the_lists_fetched_before():
    seed_accounts()
    qc = new_id()
    apply(legacy("queue_updated", {"id": SUPPORT_QUEUE_ID, "wait_queuecall_ids": [qc], "tm_update": at(5)}))
    change = apply(queuecall(qc, "waiting", 5))  # bare object, no queue_id
    assert Queuecall.objects.get(pk=qc).queue_id == SUPPORT_QUEUE_ID
    assert change.queue_ids == (SUPPORT_QUEUE_ID,)


def test_code_dialect_queuecall_gets_its_queue_when_the_lists_arrive_later():
    seed_accounts()
    qc = new_id()
    change = apply(queuecall(qc, "waiting", 5))
    assert change.queue_ids == ()
    assert Queuecall.objects.get(pk=qc).queue_id == ""
    lists = legacy("queue_updated", {"id": SALES_QUEUE_ID, "service_queuecall_ids": [qc], "tm_update": at(6)})
    assert apply(lists).queue_ids == (SALES_QUEUE_ID,)
    assert Queuecall.objects.get(pk=qc).queue_id == SALES_QUEUE_ID


def test_lists_already_held_still_map_a_queuecall_that_arrives_after_them():
    """The same GET /queues answer again (not newer) still maps a queuecall that came meanwhile."""
    seed_accounts()
    qc = new_id()
    lists = legacy("queue_updated", {"id": SALES_QUEUE_ID, "wait_queuecall_ids": [qc], "tm_update": at(6)})
    apply(lists)
    Queuecall.objects.create(pk=qc, customer_id=DEMO_CUSTOMER_ID, status="waiting", data={})
    assert apply(lists).queue_ids == (SALES_QUEUE_ID,)
    assert Queuecall.objects.get(pk=qc).queue_id == SALES_QUEUE_ID
    again = apply(lists)  # nothing left to map, nothing newer: the same row reported, not rewritten
    assert again is not None
    assert again.row.wait_queuecall_ids == [qc]


def test_another_customers_queue_lists_never_claim_a_queuecall():
    seed_accounts()
    qc = new_id()
    apply(queuecall(qc, "waiting", 5))
    apply(legacy("queue_updated", {"id": OTHER_QUEUE_ID, "wait_queuecall_ids": [qc], "tm_update": at(6)}))
    assert Queuecall.objects.get(pk=qc).queue_id == ""
    assert Queue.objects.get(pk=OTHER_QUEUE_ID).customer_id == OTHER_CUSTOMER_ID


def test_out_of_order_and_duplicate_queuecall_events_end_where_voipbin_did():
    seed_accounts()
    qc = new_id()
    done = queuecall(qc, "done", 60, queue_id=SALES_QUEUE_ID, tm_service=at(20))
    assert apply(legacy("queuecall_done", done)).created
    assert apply(legacy("queuecall_waiting", queuecall(qc, "waiting", 2, queue_id=SALES_QUEUE_ID))) is None
    assert apply(legacy("queuecall_serviced", queuecall(qc, "service", 20, queue_id=SALES_QUEUE_ID))) is None
    assert apply(legacy("queuecall_done", done)).row.status == "done"  # the same state again
    row = Queuecall.objects.get(pk=qc)
    assert (row.status, row.tm_service, row.tm_end) == ("done", parse_time(at(20)), parse_time(at(60)))


def test_an_abandoned_queuecall_ends_when_it_was_abandoned():
    seed_accounts()
    qc = new_id()
    apply(queuecall(qc, "waiting", 1, queue_id=SALES_QUEUE_ID))
    apply(queuecall(qc, "abandoned", 45, queue_id=SALES_QUEUE_ID))
    row = Queuecall.objects.get(pk=qc)
    assert (row.status, row.tm_service, row.tm_end) == ("abandoned", None, parse_time(at(45)))


# --- where changes go -------------------------------------------------------------------------


def test_queue_card_changes_reach_the_queues_members_and_no_other_agent():
    seed_accounts()
    change = apply(queuecall(new_id(), "waiting", 5, queue_id=SALES_QUEUE_ID))
    sales = next(queue for queue in DEMO_CUSTOMER.queues if queue.id == SALES_QUEUE_ID)
    members = {agent.id for agent in DEMO_CUSTOMER.agents if set(sales.tag_ids) & set(agent.tag_ids)}
    assert DEMO_AGENT1_ID in members
    assert DEMO_AGENT2_ID not in members
    agent_topics = {t.split(":")[1] for t in change.topics if t.startswith("agent_id:")}
    assert agent_topics == members
    for agent_id in (DEMO_AGENT1_ID, DEMO_AGENT2_ID, DEMO_AGENT3_ID):
        viewer = person(agent_id=agent_id, permission=Permission.AGENT)
        assert matches_any(frozenset(QUEUES_PAGE.topics(viewer)), change.topics) is (agent_id in members)
    supervisor = person(agent_id=str(uuid.uuid4()), permission=Permission.MANAGER)
    assert matches_any(frozenset(QUEUES_PAGE.topics(supervisor)), change.topics)
    outsider = person(agent_id=str(uuid.uuid4()), permission=Permission.ADMIN, customer_id=OTHER_CUSTOMER_ID)
    assert not matches_any(frozenset(QUEUES_PAGE.topics(outsider)), change.topics)


def test_an_agent_serving_a_call_of_a_queue_it_does_not_belong_to_gets_no_card():
    """VoIPBIN publishes a queuecall under its serving agent's scope; the card must not follow it."""
    seed_accounts()
    change = apply(
        queuecall(new_id(), "service", 5, queue_id=SALES_QUEUE_ID, service_agent_id=DEMO_AGENT2_ID)
    )
    agent2 = person(agent_id=DEMO_AGENT2_ID, permission=Permission.AGENT)
    assert not matches_any(frozenset(QUEUES_PAGE.topics(agent2)), change.topics)
    # …not even when the browser declares the code's three-part prefix, which matches queuecall topics.
    assert not matches_any(frozenset({f"agent_id:{DEMO_AGENT2_ID}:queue"}), change.topics)
