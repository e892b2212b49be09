"""The agents board and status changes, against the simulator's VoIPBIN.

Who may do what: an agent sees its own row and sets its own status; the manager and the admin see
every Acme agent and set anyone's; the outsider (Globex's admin) sees and changes nothing of Acme's.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from dashboard.live import apply_event
from dashboard.models import Agent, User
from dashboard.simulator.accounts import (
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER,
    DEMO_CUSTOMER_ID,
    OTHER_AGENT_ID,
)
from dashboard.voipbin.events import normalize
from dashboard.voipbin.topics import Permission
from tests.queues.helpers import seed_accounts

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens: any request to "VoIPBIN" would fail with 502


@database_sync_to_async
def get(user, path: str):
    client = Client()
    client.force_login(user)
    return client.get(path)


@database_sync_to_async
def set_status(user, agent_id: str, status: str):
    client = Client()
    client.force_login(user)
    return client.post(f"/agents/{agent_id}/status/", {"status": status}, headers={"HX-Request": "true"})


def row(agent_id: str) -> str:
    return f'id="agent-{agent_id}"'


def status_in_voipbin(sim, agent_id: str) -> str:
    return sim.state.get("agent", agent_id)["status"]


async def test_supervisor_sees_every_agent_with_status_and_current_call(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", owner_id=DEMO_AGENT1_ID)
    await database_sync_to_async(apply_event)(normalize({"type": "call_updated", "data": call}))
    html = (await get(await make_persona("manager"), "/agents/")).content.decode()
    for agent in DEMO_CUSTOMER.agents:
        assert row(agent.id) in html
    assert row(OTHER_AGENT_ID) not in html
    agent1 = html[html.index(row(DEMO_AGENT1_ID)) :]
    agent1 = agent1[: agent1.index("</tr>")]
    assert "Jamie Rivera" in agent1
    assert "●" in agent1  # the icon, and the word:
    assert "Available" in agent1
    assert "data-duration-since=" in agent1  # time in status ticks
    assert call["source"]["target"] in agent1  # the current call
    assert html.count('class="agent-status"') == len(DEMO_CUSTOMER.agents)


async def test_agent_sees_only_its_own_row(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    html = (await get(await make_persona("agent1"), "/agents/")).content.decode()
    assert row(DEMO_AGENT1_ID) in html
    assert html.count('<tr id="agent-') == 1
    assert "customer_id%3A" not in html


async def test_outsider_sees_nothing_of_acmes(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    html = (await get(await make_persona("globex-admin"), "/agents/")).content.decode()
    assert row(OTHER_AGENT_ID) in html
    assert not any(row(agent.id) in html for agent in DEMO_CUSTOMER.agents)


def test_agents_board_needs_sign_in(client):
    response = client.get("/agents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


async def test_agent_sets_its_own_status(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    response = await set_status(await make_persona("agent1"), DEMO_AGENT1_ID, "away")
    assert response.status_code == 200
    assert "set your status to Away" in response.content.decode()
    assert status_in_voipbin(sim, DEMO_AGENT1_ID) == "away"


async def test_supervisor_sets_anyones_status(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    response = await set_status(await make_persona("manager"), DEMO_AGENT2_ID, "offline")
    assert response.status_code == 200
    assert "the status of Sam Chen to Offline" in response.content.decode()
    assert status_in_voipbin(sim, DEMO_AGENT2_ID) == "offline"


async def test_agent_may_not_set_another_agents_status_nor_ask_voipbin(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    agent1 = await make_persona("agent1")
    live_settings.VOIPBIN_BASE_URL = UNREACHABLE
    response = await set_status(agent1, DEMO_AGENT2_ID, "away")
    assert response.status_code == 403
    assert "only change your own status" in response.content.decode()
    assert status_in_voipbin(sim, DEMO_AGENT2_ID) == "available"


async def test_outsider_may_not_set_an_acme_agents_status(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    response = await set_status(await make_persona("globex-admin"), DEMO_AGENT1_ID, "away")
    assert response.status_code == 404
    assert status_in_voipbin(sim, DEMO_AGENT1_ID) == "available"


async def test_voipbins_refusal_is_shown(sim, live_settings, make_persona):
    """Here the user still counts as a manager; VoIPBIN, which demoted them, says no."""
    await database_sync_to_async(seed_accounts)()
    demoted = await make_persona("agent1")
    await User.objects.filter(pk=demoted.pk).aupdate(permission=Permission.MANAGER)
    demoted = await User.objects.aget(pk=demoted.pk)
    response = await set_status(demoted, DEMO_AGENT2_ID, "away")
    assert response.status_code == 502
    html = response.content.decode()
    assert "VoIPBIN did not change the status: an agent may only change its own status" in html
    assert 'role="alert"' in html
    assert status_in_voipbin(sim, DEMO_AGENT2_ID) == "available"


async def test_a_refused_token_asks_to_sign_in_again(sim, live_settings, make_persona):
    await database_sync_to_async(seed_accounts)()
    agent1 = await make_persona("agent1")
    agent1.voipbin_token = sim.issue_token("agent1", lifetime=-1)
    await agent1.asave()
    response = await set_status(agent1, DEMO_AGENT1_ID, "away")
    assert response.status_code == 401
    assert "sign in again" in response.content.decode()
    await agent1.arefresh_from_db()
    assert agent1.voipbin_session_expired
    assert status_in_voipbin(sim, DEMO_AGENT1_ID) == "available"


@pytest.mark.parametrize("status", ["ringing", "dancing", ""])
async def test_only_the_statuses_voipbin_accepts_are_asked_for(sim, live_settings, make_persona, status):
    await database_sync_to_async(seed_accounts)()
    agent1 = await make_persona("agent1")
    live_settings.VOIPBIN_BASE_URL = UNREACHABLE
    response = await set_status(agent1, DEMO_AGENT1_ID, status)
    assert response.status_code == 400
    assert (await Agent.objects.aget(pk=DEMO_AGENT1_ID)).status == "available"
