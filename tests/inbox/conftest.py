"""Inbox helpers: messages as VoIPBIN sends them, stored the way the relay stores them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.live import apply_event
from dashboard.models import Message
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from dashboard.voipbin.events import normalize

T0 = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
REMOTE = "+15555550123"
OTHER_REMOTE = "+15555550124"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sms(
    *,
    direction: str = "inbound",
    text: str = "hello",
    remote: str = REMOTE,
    ours: str = DEMO_SMS_NUMBER,
    minutes: float = 0,
    status: str | None = None,
    customer_id: str = DEMO_CUSTOMER_ID,
    message_id: str | None = None,
) -> dict:
    """A message resource (VOIPBIN.md §5) created ``minutes`` after T0, in VoIPBIN's time."""
    at = stamp(T0 + timedelta(minutes=minutes))
    inbound = direction == "inbound"
    source, destination = (remote, ours) if inbound else (ours, remote)
    return {
        "id": message_id or str(uuid.uuid4()),
        "customer_id": customer_id,
        "type": "sms",
        "source": {"type": "tel", "target": source},
        "targets": [
            {
                "destination": {"type": "tel", "target": destination},
                "status": status or ("received" if inbound else "queued"),
                "parts": 1,
                "tm_update": at,
            }
        ],
        "text": text,
        "direction": direction,
        "tm_create": at,
        "tm_update": at,
    }


def store(data: dict) -> Message:
    """Apply the message's event to live state, as the relay does, and return the row."""
    change = apply_event(normalize({"type": "message_created", "data": data}))
    assert change is not None
    return change.row


@pytest.fixture
def people(db):
    """Who may see what: the manager and the admin read Acme's inbox; the agent reads no inbox;
    the outsider is Globex's admin and must never see anything of Acme's."""
    from dashboard.models import User
    from dashboard.simulator.accounts import (
        DEMO_AGENT1_ID,
        DEMO_MANAGER_ID,
        OTHER_ADMIN_ID,
        OTHER_CUSTOMER_ID,
    )
    from dashboard.voipbin.topics import Permission

    def user(username: str, customer_id: str, agent_id: str, permission: Permission) -> User:
        return User.objects.create(
            username=username, customer_id=customer_id, agent_id=agent_id, permission=int(permission)
        )

    return {
        "manager": user("manager", DEMO_CUSTOMER_ID, DEMO_MANAGER_ID, Permission.MANAGER),
        "admin": user("admin", DEMO_CUSTOMER_ID, str(uuid.uuid4()), Permission.ADMIN),
        "agent": user("agent1", DEMO_CUSTOMER_ID, DEMO_AGENT1_ID, Permission.AGENT),
        "outsider": user("globex-admin", OTHER_CUSTOMER_ID, OTHER_ADMIN_ID, Permission.ADMIN),
    }
