"""One conversation per caller: the customer's call, its flow, its queue stay and the agent leg, joined.

Events go through ``normalize`` and ``apply_event`` in the code dialect's shapes (bare resources,
zero ids, the agent reached on a second, outgoing call), so what is checked here is what pages get.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from dashboard.calls.conversations import Outcome, Phase, conversation_of
from dashboard.calls.pages import CALLS_PAGE
from dashboard.live import apply_event
from dashboard.simulator.accounts import (
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER_ID,
    DEMO_FLOW_ID,
    SUPPORT_QUEUE_ID,
)
from dashboard.simulator.resources import flow_action
from dashboard.simulator.timestamps import format_time
from dashboard.voipbin.events import normalize
from dashboard.voipbin.topics import Permission, format_topic
from tests.queues.helpers import person, seed_accounts

pytestmark = pytest.mark.django_db

ZERO = "00000000-0000-0000-0000-000000000000"
BASE = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
CALLER = {"type": "tel", "target": "+12025550111", "target_name": "", "name": "", "detail": ""}
OUR_NUMBER = {"type": "tel", "target": "+15555550101", "target_name": "", "name": "", "detail": ""}


def at(seconds: float) -> str:
    return format_time(BASE + timedelta(seconds=seconds))


def new_id() -> str:
    return str(uuid.uuid4())


def apply(resource: str, data: dict[str, Any], event: str = "updated"):
    return apply_event(normalize({"type": f"{resource}_{event}", "data": data}))


class Contact:
    """One caller walked through VoIPBIN's resources, in the code's shapes."""

    def __init__(self) -> None:
        self.call_id, self.flow_id, self.queuecall_id, self.leg_id = new_id(), new_id(), new_id(), new_id()
        self.call: dict[str, Any] = {}
        self.leg: dict[str, Any] = {}

    def ring(self, t: float):
        self.call = {
            "id": self.call_id,
            "customer_id": DEMO_CUSTOMER_ID,
            "owner_type": "",
            "owner_id": ZERO,
            "master_call_id": ZERO,
            "activeflow_id": self.flow_id,
            "flow_id": DEMO_FLOW_ID,
            "direction": "incoming",
            "source": CALLER,
            "destination": OUR_NUMBER,
            "status": "ringing",
            "tm_create": at(t),
        }
        return apply("call", self.call, "created")

    def call_moves(self, t: float, status: str, **fields: Any):
        self.call = {**self.call, "status": status, "tm_update": at(t), **fields}
        return apply("call", self.call)

    def flow_at(self, t: float, action: str, status: str = "running"):
        data = {
            "id": self.flow_id,
            "customer_id": DEMO_CUSTOMER_ID,
            "flow_id": DEMO_FLOW_ID,
            "status": status,
            "reference_type": "call",
            "reference_id": self.call_id,
            "current_action": flow_action(DEMO_FLOW_ID, action),
            "tm_create": at(0),
            "tm_update": at(t),
        }
        return apply("activeflow", data)

    def queue(self, t: float, status: str, **fields: Any):
        data = {
            "id": self.queuecall_id,
            "customer_id": DEMO_CUSTOMER_ID,
            "queue_id": SUPPORT_QUEUE_ID,
            "reference_type": "call",
            "reference_id": self.call_id,
            "status": status,
            "service_agent_id": ZERO,
            "tm_create": at(10),
            "tm_update": at(t),
            **fields,
        }
        return apply("queuecall", data)

    def dial_agent(self, t: float, agent_id: str = DEMO_AGENT2_ID):
        self.leg = {
            "id": self.leg_id,
            "customer_id": DEMO_CUSTOMER_ID,
            "owner_type": "agent",
            "owner_id": agent_id,
            "master_call_id": self.call_id,
            "direction": "outgoing",
            "source": CALLER,
            "destination": {
                "type": "extension",
                "target": "1002",
                "target_name": "",
                "name": "",
                "detail": "",
            },
            "status": "ringing",
            "tm_create": at(t),
        }
        return apply("call", self.leg, "created")

    def leg_moves(self, t: float, status: str, **fields: Any):
        self.leg = {**self.leg, "status": status, "tm_update": at(t), **fields}
        return apply("call", self.leg)

    def agent(self, t: float, status: str, agent_id: str = DEMO_AGENT2_ID):
        return apply(
            "agent", {"id": agent_id, "customer_id": DEMO_CUSTOMER_ID, "status": status, "tm_update": at(t)}
        )

    @property
    def now(self):
        conversation = conversation_of(self.call_id)
        assert conversation is not None
        return conversation


@pytest.fixture(autouse=True)
def accounts():
    seed_accounts(stamp=format_time(BASE - timedelta(hours=1)))


def test_a_caller_answered_by_an_agent_reads_as_people_see_it():
    contact = Contact()
    contact.ring(0)
    assert (contact.now.phase, contact.now.label) == (Phase.RINGING, "Ringing")
    contact.call_moves(3, "progressing", tm_progressing=at(3))
    contact.flow_at(3, "talk")
    now = contact.now
    assert now.phase is Phase.FLOW  # progressing is the flow picking up, not a person
    assert now.label == "Speaking to the caller"
    assert now.since == BASE + timedelta(seconds=3)
    assert now.outcome is None
    assert now.agent_name == ""

    contact.flow_at(10, "queue_join")
    contact.queue(10, "waiting")
    assert (contact.now.phase, contact.now.label) == (Phase.WAITING, "Waiting in Support")
    assert contact.now.since == BASE + timedelta(seconds=10)  # the wait counts from joining the queue

    contact.queue(40, "connecting", service_agent_id=DEMO_AGENT2_ID)
    contact.dial_agent(40)
    contact.agent(40, "ringing")
    now = contact.now
    assert (now.phase, now.label) == (Phase.CONNECTING, "Ringing Sam Chen")  # named by VoIPBIN's list
    assert now.since == BASE + timedelta(seconds=10)
    assert now.ringing_since == BASE + timedelta(seconds=40)

    contact.leg_moves(44, "progressing", tm_progressing=at(44))
    contact.queue(44, "service", tm_service=at(44), duration_waiting=34000)
    contact.agent(44, "busy")
    now = contact.now
    assert (now.phase, now.label, now.agent_id) == (Phase.TALKING, "Talking with Sam Chen", DEMO_AGENT2_ID)
    assert now.since == BASE + timedelta(seconds=44)  # talk counts from the agent leg's answer
    assert [leg.pk for leg in now.legs] == [contact.leg_id]

    contact.leg_moves(100, "hangup", hangup_by="local", hangup_reason="normal", tm_hangup=at(100))
    contact.call_moves(100, "hangup", hangup_by="remote", hangup_reason="normal", tm_hangup=at(100))
    contact.queue(100, "done", duration_service=56000)
    now = contact.now
    assert now.outcome is Outcome.COMPLETED
    assert now.phase is Phase.WRAP_UP  # Sam is still busy with it
    assert now.talk == timedelta(seconds=56)
    assert now.wait == timedelta(seconds=34)

    contact.agent(130, "available")
    assert (contact.now.phase, contact.now.label) == (Phase.ENDED, "Completed")


def test_a_caller_who_gives_up_in_the_queue_is_abandoned_and_never_talked():
    contact = Contact()
    contact.ring(0)
    contact.call_moves(2, "progressing", tm_progressing=at(2))
    contact.queue(10, "waiting")
    contact.call_moves(74, "hangup", hangup_by="remote", hangup_reason="cancel", tm_hangup=at(74))
    contact.queue(74, "abandoned", duration_waiting=64000)
    now = contact.now
    assert (now.phase, now.outcome, now.label) == (Phase.ENDED, Outcome.ABANDONED, "Abandoned in queue")
    assert now.talk is None
    assert now.wait == timedelta(seconds=64)
    row = CALLS_PAGE.render_change(apply("call", {**contact.call, "tm_update": at(75)}))["supervisor"]
    assert "Abandoned in queue" in row
    assert "waited 1:04" in row
    assert "Talked" not in row


def test_a_caller_who_hangs_up_while_an_agent_rings_is_abandoned():
    contact = Contact()
    contact.ring(0)
    contact.call_moves(2, "progressing", tm_progressing=at(2))
    contact.queue(10, "connecting", service_agent_id=DEMO_AGENT2_ID)
    contact.dial_agent(12)
    contact.call_moves(15, "hangup", hangup_by="remote", hangup_reason="cancel", tm_hangup=at(15))
    contact.leg_moves(15, "hangup", hangup_reason="cancel", tm_hangup=at(15))
    assert contact.now.outcome is Outcome.ABANDONED


def test_calls_that_never_reached_a_queue_end_in_the_flow_or_are_missed():
    in_flow, missed = Contact(), Contact()
    in_flow.ring(0)
    in_flow.call_moves(2, "progressing", tm_progressing=at(2))
    in_flow.call_moves(20, "hangup", hangup_reason="normal", tm_hangup=at(20))
    missed.ring(0)
    missed.call_moves(9, "hangup", hangup_reason="noanswer", tm_hangup=at(9))
    assert (in_flow.now.outcome, missed.now.outcome) == (Outcome.FLOW, Outcome.MISSED)


def test_the_tutorial_shape_without_an_agent_leg_reads_the_same():
    """The tutorial's dialect gives the customer's call the agent as owner; the queue says when."""
    contact = Contact()
    contact.ring(0)
    contact.call_moves(2, "progressing", tm_progressing=at(2))
    contact.queue(10, "service", service_agent_id=DEMO_AGENT1_ID, tm_service=at(30))
    contact.call_moves(30, "progressing", owner_type="agent", owner_id=DEMO_AGENT1_ID)
    now = contact.now
    assert (now.phase, now.label) == (Phase.TALKING, "Talking with Jamie Rivera")
    assert now.since == BASE + timedelta(seconds=30)


def test_every_part_of_a_conversation_goes_to_the_agents_on_it():
    contact = Contact()
    contact.ring(0)
    agent_topic = format_topic("agent_id", DEMO_AGENT2_ID, "call", contact.call_id)
    waiting = contact.queue(10, "waiting")
    assert agent_topic not in waiting.topics  # nobody's yet: supervisors only
    offered = contact.queue(40, "connecting", service_agent_id=DEMO_AGENT2_ID)
    assert agent_topic in offered.topics
    contact.dial_agent(40)
    caller_side = contact.call_moves(41, "progressing", tm_progressing=at(41))
    assert (
        agent_topic in caller_side.topics
    )  # the customer's call, which VoIPBIN publishes to the customer only
    assert format_topic("agent_id", DEMO_AGENT1_ID, "call", contact.call_id) not in caller_side.topics
    flow = contact.flow_at(42, "confbridge_join")
    assert agent_topic in flow.topics


def test_the_calls_page_lists_one_row_per_conversation_and_agents_only_their_own():
    mine, other = Contact(), Contact()
    for contact in (mine, other):
        contact.ring(0)
        contact.call_moves(2, "progressing", tm_progressing=at(2))
        contact.queue(
            10, "connecting", service_agent_id=DEMO_AGENT2_ID if contact is mine else DEMO_AGENT1_ID
        )
    mine.dial_agent(12, DEMO_AGENT2_ID)
    other.dial_agent(12, DEMO_AGENT1_ID)
    supervisor = person(agent_id=new_id(), permission=Permission.MANAGER)
    listed = [c.pk for c in CALLS_PAGE.lists(supervisor)["active"]]
    assert sorted(listed) == sorted([mine.call_id, other.call_id])  # legs live inside their rows
    sam = person(agent_id=DEMO_AGENT2_ID, permission=Permission.AGENT)
    assert [c.pk for c in CALLS_PAGE.lists(sam)["active"]] == [mine.call_id]
    html = CALLS_PAGE.render_lists(sam)
    assert mine.call_id in html
    assert mine.leg_id in html
    assert other.call_id not in html


def test_a_leg_whose_customer_call_is_unknown_shows_on_its_own_until_the_call_arrives():
    contact = Contact()
    contact.call_id = new_id()
    contact.dial_agent(12)
    sam = person(agent_id=DEMO_AGENT2_ID, permission=Permission.AGENT)
    assert [c.pk for c in CALLS_PAGE.lists(sam)["active"]] == [contact.leg_id]
    change = contact.ring(0)
    rendered = CALLS_PAGE.render_change(change)["agent"]
    assert f'<tr id="call-{contact.leg_id}" hx-swap-oob="delete">' in rendered
    assert [c.pk for c in CALLS_PAGE.lists(sam)["active"]] == [contact.call_id]
