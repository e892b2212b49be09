"""Personas and accounts for the rules pages, without the simulator (pure view tests).

Who may do what: Acme's **admin** (VoIPBIN permission 32) edits Acme's rules; Acme's
**supervisor** (manager, 64) views them, dry-runs, replays and reads the decision log but changes
nothing; Acme's **agent** (16) gets 403 everywhere; the **outsider** is Globex's admin and must
never see or touch anything of Acme's (404 for Acme's ids).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from dashboard.models import Account, Message, Rule, User
from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_ADMIN_ID,
    DEMO_AGENT1_ID,
    DEMO_CUSTOMER_ID,
    DEMO_MANAGER_ID,
    DEMO_NUMBERS,
    DEMO_SMS_NUMBER,
    OTHER_ACCESS_KEY,
    OTHER_ADMIN_ID,
    OTHER_CUSTOMER_ID,
    OTHER_NUMBERS,
)
from dashboard.voipbin.topics import Permission

CUSTOMER = "+15551234567"
OUR_NUMBER = DEMO_SMS_NUMBER


def make_user(username: str, *, customer_id: str, agent_id: str, permission: Permission) -> User:
    return User.objects.create_user(
        username=username,
        first_name=username.capitalize(),
        customer_id=customer_id,
        agent_id=agent_id,
        permission=int(permission),
    )


@pytest.fixture
def acme(db) -> Account:
    """Acme's account, Berlin time, every demo number ours, first match wins."""
    return Account.objects.create(
        name="Acme",
        customer_id=DEMO_CUSTOMER_ID,
        access_key=DEMO_ACCESS_KEY,
        numbers=list(DEMO_NUMBERS),
        time_zone="Europe/Berlin",
    )


@pytest.fixture
def globex(db) -> Account:
    return Account.objects.create(
        name="Globex", customer_id=OTHER_CUSTOMER_ID, access_key=OTHER_ACCESS_KEY, numbers=list(OTHER_NUMBERS)
    )


@pytest.fixture
def globex_rule(globex: Account) -> Rule:
    return Rule.objects.create(account=globex, name="Globex secret rule", order=10, reply="Globex says hi")


@pytest.fixture
def acme_admin(db) -> User:
    return make_user(
        "admin", customer_id=DEMO_CUSTOMER_ID, agent_id=DEMO_ADMIN_ID, permission=Permission.ADMIN
    )


@pytest.fixture
def supervisor(db) -> User:
    return make_user(
        "manager", customer_id=DEMO_CUSTOMER_ID, agent_id=DEMO_MANAGER_ID, permission=Permission.MANAGER
    )


@pytest.fixture
def agent(db) -> User:
    return make_user(
        "agent1", customer_id=DEMO_CUSTOMER_ID, agent_id=DEMO_AGENT1_ID, permission=Permission.AGENT
    )


@pytest.fixture
def outsider(db) -> User:
    return make_user(
        "globex-admin", customer_id=OTHER_CUSTOMER_ID, agent_id=OTHER_ADMIN_ID, permission=Permission.ADMIN
    )


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rule(account: Account, name: str, order: int, **fields: Any) -> Rule:
    fields.setdefault("reply", f"{name} reply to {{sender}}")
    return Rule.objects.create(account=account, name=name, order=order, **fields)


def inbound(
    account: Account,
    message_id: str,
    *,
    at: datetime,
    text: str,
    sender: str = CUSTOMER,
    to: str = OUR_NUMBER,
) -> Message:
    """An inbound SMS as the relay stores it."""
    return Message.objects.create(
        pk=message_id,
        account=account,
        customer_id=account.customer_id,
        direction="inbound",
        source=sender,
        destination=to,
        remote=sender,
        our_number=to,
        text=text,
        tm_create=at,
    )
