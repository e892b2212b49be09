"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dashboard.simulator.server import SimServer

# --- VoIPBIN simulator fixtures (dashboard/simulator owns this block) ---------------------------


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[SimServer]:
    """The VoIPBIN simulator on a free port: test controls on, scenario engine off.

    Nothing happens unless the test makes it happen (``/_sim/…`` or the
    SimServer methods). The dialect can be chosen indirectly:
    ``@pytest.mark.parametrize("sim", ["legacy"], indirect=True)``.
    """
    server = SimServer(controls=True, scenario=False, dialect=getattr(request, "param", "bare"))
    await server.start()
    yield server
    await server.stop()


# --- end of the VoIPBIN simulator block ---------------------------------------------------------


# --- personas and the live relay ---------------------------------------------------------------
# Who may see what: an agent sees only calls it owns (agent topics); the supervisor (VoIPBIN
# manager) and the admin see every call of Acme; the outsider is Globex's admin and must never
# see anything of Acme's.


@pytest.fixture
def live_settings(sim, settings):
    """Point the dashboard at this test's simulator, with quick reconnects and no grace delay."""
    settings.VOIPBIN_BASE_URL = sim.url
    settings.VOIPBIN_WS_URL = sim.ws_url
    settings.UPSTREAM_BACKOFF_BASE = 0.05
    settings.UPSTREAM_BACKOFF_CAP = 0.2
    settings.RELAY_GRACE_SECONDS = 0.05
    return settings


@pytest.fixture
async def relay_hub(live_settings):
    """The process's relay hub for this test's event loop, shut down (and checked empty) after."""
    from dashboard.relay import get_hub, shutdown_hub

    hub = get_hub()
    yield hub
    await shutdown_hub()


@pytest.fixture
def acme_account(db):
    """Acme's account (its access key), as an operator configures it: the relay worker answers its SMS,
    and web processes keep its account feed for agents' pages (``dashboard.accountfeed``)."""
    from dashboard.models import Account
    from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER

    return Account.objects.create(
        name="Acme Support",
        customer_id=DEMO_CUSTOMER_ID,
        access_key=DEMO_ACCESS_KEY,
        numbers=[DEMO_SMS_NUMBER],
    )


def _persona(sim, username: str):
    from django.contrib.auth import get_user_model

    from dashboard.simulator.accounts import AGENT_IDS

    agent = sim.state.get("agent", AGENT_IDS[username])
    user, _ = get_user_model().objects.update_or_create(
        username=username,
        defaults={
            "first_name": agent["name"],
            "customer_id": agent["customer_id"],
            "agent_id": agent["id"],
            "permission": agent["permission"],
            "voipbin_token": sim.issue_token(username),
        },
    )
    return user


@pytest.fixture
def make_persona(sim, db):
    """A signed-in user as VoIPBIN's /me would describe them, with a valid simulator token."""
    from channels.db import database_sync_to_async

    return database_sync_to_async(lambda username: _persona(sim, username))


@pytest.fixture(autouse=True)
def _in_process_channel_layer(settings):
    """In-process tests use the in-memory layer and process-local leases, whatever REDIS_URL says.

    Redis is tested where it matters, across real processes (tests/multiprocess/); channels-redis
    keeps per-event-loop receive state that does not survive pytest's loop per test.
    """
    from channels.layers import channel_layers

    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start the product as real processes (the ``deployment`` fixture) are ``processes``."""
    for item in items:
        if "deployment" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.processes)
