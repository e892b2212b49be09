"""Who is shown which notice (dashboard.notices), decided over rows as the relay applies them.

Personas (as VoIPBIN describes them): agent1 serves Sales and Support, agent2 Support only,
agent3 Sales only; the manager supervises Acme; Globex's admin and agent belong to another
customer and must never be shown anything of Acme's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.live import apply_event
from dashboard.models import User
from dashboard.notices import NoticeMemory, notices_for, shown_to
from dashboard.relay import Update, render_update
from dashboard.simulator.accounts import (
    CUSTOMERS,
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_CUSTOMER_ID,
    SALES_QUEUE_ID,
    SALES_TAG_ID,
    SUPPORT_QUEUE_ID,
)
from dashboard.voipbin.events import Event, normalize

pytestmark = pytest.mark.django_db

REMOTE, OTHER_REMOTE = "+15555550123", "+15555550124"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def apply(frame: dict) -> tuple[Event, Update]:
    event = normalize(frame)
    change = apply_event(event)
    assert change is not None
    return event, render_update(change)


@pytest.fixture
def acme(db) -> dict[str, User]:
    """Every demo queue and agent in live state (as a supervisor's backfill leaves them), and the users."""
    users = {}
    for customer in CUSTOMERS:
        for queue in customer.queues:
            data = {
                "id": queue.id,
                "customer_id": customer.id,
                "name": queue.name,
                "tag_ids": list(queue.tag_ids),
            }
            apply({"type": "queue_updated", "data": data})
        for agent in customer.agents:
            data = {
                "id": agent.id,
                "customer_id": customer.id,
                "username": agent.username,
                "name": agent.name,
                "permission": int(agent.permission),
                "status": agent.status,
                "tag_ids": list(agent.tag_ids),
            }
            apply({"type": "agent_updated", "data": data})
            users[agent.username] = User.objects.create(
                username=agent.username,
                customer_id=customer.id,
                agent_id=agent.id,
                permission=int(agent.permission),
            )
    return users


def queuecall(
    *, queue_id: str | None, status: str = "waiting", at: datetime | None = None, queuecall_id: str = ""
) -> dict:
    at = at or datetime.now(UTC)
    data = {
        "id": queuecall_id or str(uuid.uuid4()),
        "customer_id": DEMO_CUSTOMER_ID,
        "reference_type": "call",
        "reference_id": str(uuid.uuid4()),
        "status": status,
        "tm_create": stamp(at),
        "tm_update": stamp(at),
    }
    if queue_id:
        data["queue_id"] = queue_id
    return data


def joined(queue_id: str, **kwargs) -> tuple[Event, Update]:
    """The tutorial's ``queue.joined`` for a new caller in the queue."""
    data = queuecall(queue_id=queue_id, **kwargs)
    data["call_id"] = data["reference_id"]
    frame = {
        "event_type": "queue.joined",
        "timestamp": data["tm_update"],
        "topic": f"customer_id:{DEMO_CUSTOMER_ID}:queue:{queue_id}",
        "data": data,
    }
    return apply(frame)


def sms(
    *, remote: str = REMOTE, direction: str = "inbound", text: str = "hello", at: datetime | None = None
) -> dict:
    stamped = stamp(at or datetime.now(UTC))
    inbound = direction == "inbound"
    source, destination = (remote, DEMO_SMS_NUMBER) if inbound else (DEMO_SMS_NUMBER, remote)
    return {
        "id": str(uuid.uuid4()),
        "customer_id": DEMO_CUSTOMER_ID,
        "type": "sms",
        "source": {"type": "tel", "target": source},
        "targets": [
            {"destination": {"type": "tel", "target": destination}, "status": "received", "parts": 1}
        ],
        "text": text,
        "direction": direction,
        "tm_create": stamped,
        "tm_update": stamped,
    }


def received(data: dict) -> tuple[Event, Update]:
    return apply({"type": "message_created", "data": data})


def shown(
    user: User,
    delivered: tuple[Event, Update],
    memory: NoticeMemory | None = None,
    *,
    event_type: str = "",
    backfilled: bool = False,
    now: datetime | None = None,
) -> list[str]:
    """What the relay's ``deliver`` would show this user for an event their session brought."""
    event, update = delivered
    return shown_to(
        user,
        update.notices,
        event_type=event_type or event.type,
        backfilled=backfilled,
        memory=memory or NoticeMemory(),
        now=now or datetime.now(UTC),
    )


# --- a caller joins a queue ----------------------------------------------------------------------


def test_queue_join_is_shown_to_the_queues_agents_and_the_customers_supervisors(acme):
    delivered = joined(SALES_QUEUE_ID)
    for username in ("agent1", "agent3", "manager", "admin"):
        (html,) = shown(acme[username], delivered)
        assert "Caller waiting in Sales" in html
    assert 'hx-swap-oob="afterbegin:#notices"' in html
    assert 'data-kind="queue"' in html
    assert f'data-tag="queuecall-{delivered[0].resource_id}"' in html
    assert 'role="status"' in html
    assert "data-dismiss-notice" in html


def test_agent_of_another_queue_is_shown_nothing(acme):
    assert shown(acme["agent2"], joined(SALES_QUEUE_ID)) == []  # agent2 serves Support only
    assert shown(acme["agent3"], joined(SUPPORT_QUEUE_ID)) == []  # agent3 serves Sales only
    assert len(shown(acme["agent2"], joined(SUPPORT_QUEUE_ID))) == 1


def test_another_customers_users_are_shown_nothing(acme):
    delivered = joined(SALES_QUEUE_ID)
    assert shown(acme["globex-admin"], delivered) == []
    assert shown(acme["globex-agent"], delivered) == []


def test_agent_whose_tag_was_removed_is_shown_nothing_even_if_the_join_reaches_it(acme):
    agent3 = acme["agent3"]
    data = {"id": agent3.agent_id, "customer_id": DEMO_CUSTOMER_ID, "username": "agent3", "tag_ids": []}
    data["tm_update"] = stamp(datetime.now(UTC))
    apply({"type": "agent_updated", "data": data})
    assert shown(agent3, joined(SALES_QUEUE_ID)) == []


def test_the_same_join_is_shown_once_however_often_it_arrives(acme):
    memory = NoticeMemory()
    first = datetime.now(UTC)
    delivered = joined(SALES_QUEUE_ID, at=first)
    assert len(shown(acme["agent1"], delivered, memory)) == 1
    assert shown(acme["agent1"], delivered, memory) == []  # the same event again
    # A later event about the same caller still waiting (VoIPBIN names it queuecall_waiting again).
    again = queuecall(
        queue_id=SALES_QUEUE_ID, at=first + timedelta(seconds=1), queuecall_id=delivered[0].resource_id
    )
    assert shown(acme["agent1"], apply({"type": "queuecall_waiting", "data": again}), memory) == []
    assert len(shown(acme["agent1"], joined(SALES_QUEUE_ID), memory)) == 1  # another caller


def test_backfilled_and_old_joins_are_not_shown(acme):
    assert shown(acme["agent1"], joined(SALES_QUEUE_ID), backfilled=True) == []
    old = joined(SALES_QUEUE_ID, at=datetime.now(UTC) - timedelta(minutes=10))
    assert shown(acme["agent1"], old) == []


def test_only_a_caller_entering_waiting_is_a_join(acme):
    delivered = joined(SALES_QUEUE_ID)
    qc = queuecall(queue_id=SALES_QUEUE_ID, status="service", queuecall_id=delivered[0].resource_id)
    qc["tm_update"] = stamp(datetime.now(UTC) + timedelta(seconds=1))
    serviced = apply({"type": "queuecall_serviced", "data": qc})
    assert serviced[1].notices == ()
    assert shown(acme["agent1"], delivered, event_type="queuecall.updated") == []  # not the join itself


def test_code_dialect_join_without_a_known_queue_reaches_supervisors_only(acme):
    """VoIPBIN's code omits queue_id: until the queue lists place the caller, no agent can be told."""
    delivered = apply({"type": "queuecall_waiting", "data": queuecall(queue_id=None)})
    assert delivered[0].type == "queue.joined"
    (html,) = shown(acme["manager"], delivered)
    assert "Caller waiting" in html
    assert "Sales" not in html
    for username in ("agent1", "agent3", "globex-admin"):
        assert shown(acme[username], delivered) == []


def test_code_dialect_join_in_a_listed_queue_reaches_its_agents(acme):
    data = queuecall(queue_id=None)
    queue = {"id": SALES_QUEUE_ID, "customer_id": DEMO_CUSTOMER_ID, "tag_ids": [SALES_TAG_ID]}
    queue.update(wait_queuecall_ids=[data["id"]], tm_update=stamp(datetime.now(UTC)))
    apply({"type": "queue_updated", "data": queue})  # the queue lists, fetched as VoIPBIN's code needs
    delivered = apply({"type": "queuecall_waiting", "data": data})
    assert len(shown(acme["agent3"], delivered)) == 1
    assert shown(acme["agent2"], delivered) == []


# --- an inbound message ---------------------------------------------------------------------------


def test_inbound_message_is_shown_to_the_customers_supervisors_only(acme):
    delivered = received(sms(text="Where is my <order>?"))
    (html,) = shown(acme["manager"], delivered)
    assert f"New message from {REMOTE}" in html
    assert "Where is my &lt;order&gt;?" in html
    assert 'data-kind="message"' in html
    assert "/messages/thread/?our=" in html
    for username in ("agent1", "agent2", "globex-admin", "globex-agent"):
        assert shown(acme[username], delivered) == []


def test_one_message_notice_per_thread_per_minute(acme):
    manager, memory, now = acme["manager"], NoticeMemory(), datetime.now(UTC)
    first = received(sms(at=now))
    assert len(shown(manager, first, memory, now=now)) == 1
    second = received(sms(at=now + timedelta(seconds=20)))
    assert shown(manager, second, memory, now=now + timedelta(seconds=20)) == []
    elsewhere = received(sms(remote=OTHER_REMOTE, at=now + timedelta(seconds=21)))
    assert len(shown(manager, elsewhere, memory, now=now + timedelta(seconds=21))) == 1
    third = received(sms(at=now + timedelta(seconds=61)))
    assert len(shown(manager, third, memory, now=now + timedelta(seconds=61))) == 1
    # The throttled message never shows later, whatever event about it comes again.
    assert shown(manager, second, memory, now=now + timedelta(seconds=130)) == []


def test_outbound_backfilled_and_old_messages_are_not_shown(acme):
    outbound = received(sms(direction="outbound"))
    assert outbound[1].notices == ()
    assert shown(acme["manager"], received(sms()), backfilled=True) == []
    old = received(sms(at=datetime.now(UTC) - timedelta(minutes=10)))
    assert shown(acme["manager"], old) == []


def test_most_changes_raise_no_notice(acme):
    call = {
        "id": str(uuid.uuid4()),
        "customer_id": OTHER_CUSTOMER_ID,
        "status": "ringing",
        "direction": "incoming",
        "source": {"type": "tel", "target": REMOTE},
        "destination": {"type": "tel", "target": DEMO_SMS_NUMBER},
        "tm_update": stamp(datetime.now(UTC)),
    }
    event = normalize({"type": "call_ringing", "data": call})
    change = apply_event(event)
    assert change is not None
    assert notices_for(change) == ()
