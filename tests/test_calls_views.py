"""The calls page's first paint and the hang-up action, against the simulator."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from dashboard.live import apply_event
from dashboard.models import Call
from dashboard.simulator.accounts import DEMO_AGENT1_ID, DEMO_CUSTOMER_ID, OTHER_CUSTOMER_ID
from dashboard.voipbin.events import normalize

pytestmark = pytest.mark.django_db(transaction=True)


def remember(call: dict) -> Call:
    """Put a simulator call into live state as its event would."""
    change = apply_event(normalize({"type": "call_updated", "data": call}))
    assert change is not None
    return change.row


@database_sync_to_async
def post(user, path: str):
    client = Client()
    client.force_login(user)
    return client.post(path)


@database_sync_to_async
def get(user, path: str):
    client = Client()
    client.force_login(user)
    return client.get(path)


async def test_first_paint_shows_what_the_role_may_see(sim, live_settings, make_persona):
    manager, agent = await make_persona("manager"), await make_persona("agent1")
    mine = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", owner_id=DEMO_AGENT1_ID)
    theirs = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    globex = sim.create_call(customer_id=OTHER_CUSTOMER_ID, status="ringing")
    for call in (mine, theirs, globex):
        await database_sync_to_async(remember)(call)

    async def page(user, query=""):
        return (await get(user, "/calls/" + query)).content.decode()

    supervisor_view = await page(manager)
    assert mine["id"] in supervisor_view
    assert theirs["id"] in supervisor_view
    assert globex["id"] not in supervisor_view
    assert "Hang up" in supervisor_view
    agent_view = await page(agent)
    assert mine["id"] in agent_view
    assert theirs["id"] not in agent_view
    assert globex["id"] not in agent_view
    assert "Hang up" not in agent_view
    ringing_only = await page(manager, "?phase=ringing")
    assert theirs["id"] in ringing_only
    assert mine["id"] not in ringing_only


def test_calls_page_needs_sign_in(client):
    response = client.get("/calls/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


async def test_supervisor_hangs_up_through_voipbin(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing")
    await database_sync_to_async(remember)(call)
    response = await post(manager, f"/calls/{call['id']}/hangup/")
    assert response.status_code == 200
    assert "Hang-up requested" in response.content.decode()
    assert sim.state.get("call", call["id"])["status"] in ("terminating", "hangup")


async def test_agent_may_not_hang_up(sim, live_settings, make_persona):
    agent = await make_persona("agent1")
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", owner_id=DEMO_AGENT1_ID)
    await database_sync_to_async(remember)(call)
    response = await post(agent, f"/calls/{call['id']}/hangup/")
    assert response.status_code == 403
    assert sim.state.get("call", call["id"])["status"] == "progressing"


async def test_hang_up_of_another_customers_call_is_refused_here(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    globex = sim.create_call(customer_id=OTHER_CUSTOMER_ID, status="progressing")
    await database_sync_to_async(remember)(globex)
    response = await post(manager, f"/calls/{globex['id']}/hangup/")
    assert response.status_code == 404
    assert sim.state.get("call", globex["id"])["status"] == "progressing"


async def test_voipbin_refusal_is_shown(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing")
    await database_sync_to_async(remember)(call)
    live_settings.VOIPBIN_BASE_URL = "http://127.0.0.1:9"  # nothing listens: VoIPBIN unreachable
    response = await post(manager, f"/calls/{call['id']}/hangup/")
    assert response.status_code == 502
    assert "VoIPBIN did not hang up the call" in response.content.decode()
    assert 'role="alert"' in response.content.decode()


async def test_expired_token_on_hang_up_asks_to_sign_in_again(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    manager.voipbin_token = sim.issue_token("manager", lifetime=-1)
    await manager.asave()
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing")
    await database_sync_to_async(remember)(call)
    response = await post(manager, f"/calls/{call['id']}/hangup/")
    assert response.status_code == 401
    assert "sign in again" in response.content.decode()
    await manager.arefresh_from_db()
    assert manager.voipbin_session_expired


def test_an_event_another_process_already_stored_is_still_reported_but_a_stale_one_is_not(db):
    """Each process renders for its own tabs; the database is shared, so 'already stored' is not 'seen'."""
    from dashboard.models import Call

    call = {
        "id": "c-shared",
        "customer_id": DEMO_CUSTOMER_ID,
        "status": "progressing",
        "direction": "incoming",
        "tm_update": "2026-01-20T10:00:05.000000Z",
    }
    first = apply_event(normalize({"type": "call_updated", "data": call}))
    again = apply_event(normalize({"type": "call_updated", "data": call}))
    stale = apply_event(
        normalize(
            {
                "type": "call_updated",
                "data": {**call, "status": "ringing", "tm_update": "2026-01-20T10:00:01Z"},
            }
        )
    )
    assert first is not None
    assert again is not None
    assert again.row.status == "progressing"
    assert stale is None
    assert Call.objects.get(pk="c-shared").status == "progressing"


async def test_tabs_reconnecting_together_share_one_lists_render_until_state_changes(
    sim, live_settings, make_persona, django_assert_num_queries
):
    """Every supervisor of a customer sees the same calls: a restart's thousand resyncs render once."""
    from dashboard.pages import CALLS_PAGE

    manager, admin, agent = [await make_persona(name) for name in ("manager", "admin", "agent1")]
    store = database_sync_to_async(remember)
    await store(sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing"))
    render = database_sync_to_async(CALLS_PAGE.render_lists)
    first = await render(manager)

    def admins_render_without_a_query():
        with django_assert_num_queries(0):
            return CALLS_PAGE.render_lists(admin)

    assert await database_sync_to_async(admins_render_without_a_query)() == first
    assert await render(agent) != first  # an agent's own calls only: rendered for agents

    new = await store(sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing"))
    again = await render(admin)
    assert new.pk in again
    assert new.pk not in first
