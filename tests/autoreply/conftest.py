"""Acme as its admin would set it up, a rule that answers everything, and relays closed after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dashboard.accountrelay import AccountRelay
from dashboard.models import Account, Rule
from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_NUMBERS
from tests.autoreply.helpers import REPLY


@pytest.fixture
def account(live_settings) -> Account:
    """Acme, as its admin would set it up: every demo number ours, Berlin time."""
    return Account.objects.create(
        name="Acme",
        customer_id=DEMO_CUSTOMER_ID,
        access_key=DEMO_ACCESS_KEY,
        numbers=list(DEMO_NUMBERS),
        time_zone="Europe/Berlin",
    )


@pytest.fixture
def rule(account: Account) -> Rule:
    """Answers every message (no conditions), at most once an hour per sender."""
    return Rule.objects.create(account=account, name="Hello", order=1, reply=REPLY)


@pytest.fixture
async def relays(account: Account) -> AsyncIterator[list[AccountRelay]]:
    """Account relays started by the test; all closed, and checked idle, afterwards."""
    started: list[AccountRelay] = []
    yield started
    for relay in started:
        await relay.close()
        assert relay.pending == 0
        assert relay.sessions == {}
