"""Fixtures of the wall tests: the account a wall shows, and the process's wall feed. The fault
suite's handshake tests import them (tests/faults/conftest.py)."""

from __future__ import annotations

import pytest

from dashboard.models import Account
from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from dashboard.walls import feed as wall_feed


@pytest.fixture
async def feed(live_settings):
    """The process's wall feed, closed after the test with the hub whose account feeds it holds."""
    from dashboard.relay import shutdown_hub

    yield wall_feed.get_feed()
    await wall_feed.shutdown_feed()
    await shutdown_hub()


@pytest.fixture
def account(db) -> Account:
    return Account.objects.create(
        name="Acme", customer_id=DEMO_CUSTOMER_ID, access_key=DEMO_ACCESS_KEY, numbers=[DEMO_SMS_NUMBER]
    )
