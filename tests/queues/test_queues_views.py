"""The queues page: who sees which queue, the state shown, and the thresholds form.

Personas (tests/conftest.py): agent1 serves Sales and Support, agent2 Support, agent3 Sales; the
manager sees every Acme queue and sets thresholds; the outsider (Globex's admin) sees only Globex.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from dashboard.models import Agent, Queue, Queuecall
from dashboard.queues.pages import QUEUES_PAGE
from dashboard.simulator.accounts import (
    DEMO_AGENT1_ID,
    DEMO_AGENT3_ID,
    DEMO_CUSTOMER_ID,
    OTHER_QUEUE_ID,
    SALES_QUEUE_ID,
    SUPPORT_QUEUE_ID,
)
from tests.queues.helpers import apply, at, legacy, seed_accounts

pytestmark = pytest.mark.django_db(transaction=True)

VALID = {
    "service_level_seconds": "30",
    "warn_waiting": "1",
    "critical_waiting": "4",
    "warn_longest_wait_seconds": "45",
    "critical_longest_wait_seconds": "90",
    "warn_service_level": "85",
    "critical_service_level": "70",
}


@database_sync_to_async
def get(user, path: str):
    client = Client()
    client.force_login(user)
    return client.get(path)


@database_sync_to_async
def post(user, path: str, data: dict, *, htmx: bool = True):
    client = Client()
    client.force_login(user)
    return client.post(path, data, headers={"HX-Request": "true"} if htmx else {})


@database_sync_to_async
def seed(*, waiting_in_sales: int = 0) -> None:
    seed_accounts()
    for _ in range(waiting_in_sales):
        Queuecall.objects.create(
            pk=str(uuid.uuid4()),
            customer_id=DEMO_CUSTOMER_ID,
            queue_id=SALES_QUEUE_ID,
            status="waiting",
            tm_create=timezone.now() - timedelta(seconds=5),
        )


def card(queue_id: str) -> str:
    return f'id="queue-{queue_id}"'


async def test_each_role_sees_the_queues_it_may(sim, live_settings, make_persona):
    await seed()

    async def page(username: str) -> str:
        response = await get(await make_persona(username), "/queues/")
        assert response.status_code == 200
        return response.content.decode()

    acme = (SALES_QUEUE_ID, SUPPORT_QUEUE_ID)
    manager = await page("manager")
    assert all(card(q) in manager for q in acme)
    assert card(OTHER_QUEUE_ID) not in manager
    assert "Save thresholds" in manager
    assert f"customer_id%3A{DEMO_CUSTOMER_ID}%3Aqueue" in manager
    agent2 = await page("agent2")
    assert (card(SUPPORT_QUEUE_ID) in agent2, card(SALES_QUEUE_ID) in agent2) == (True, False)
    assert "Save thresholds" not in agent2
    assert "customer_id%3A" not in agent2  # its socket declares its own agent topics only
    agent3 = await page("agent3")
    assert (card(SALES_QUEUE_ID) in agent3, card(SUPPORT_QUEUE_ID) in agent3) == (True, False)
    agent1 = await page("agent1")
    assert all(card(q) in agent1 for q in acme)
    outsider = await page("globex-admin")
    assert card(OTHER_QUEUE_ID) in outsider
    assert not any(card(q) in outsider for q in acme)


async def test_an_agent_sees_its_queues_once_its_own_agent_row_is_known(sim, live_settings, make_persona):
    """Until its agent row arrives (its own backfill, GET /me) we cannot tell an agent's queues."""
    await database_sync_to_async(seed_accounts)()
    await Agent.objects.filter(pk=DEMO_AGENT1_ID).adelete()
    agent1 = await make_persona("agent1")
    html = (await get(agent1, "/queues/")).content.decode()
    assert card(SALES_QUEUE_ID) not in html
    assert "No queues to show yet" in html
    record = {**sim.state.get("agent", DEMO_AGENT1_ID), "tm_update": at(1)}
    await database_sync_to_async(apply)(legacy("agent_updated", record))
    html = (await get(agent1, "/queues/")).content.decode()
    assert card(SALES_QUEUE_ID) in html


async def test_the_state_is_shown_with_icon_and_text(sim, live_settings, make_persona):
    await seed(waiting_in_sales=6)  # the default critical count
    html = (await get(await make_persona("manager"), "/queues/")).content.decode()
    sales = html[html.index(card(SALES_QUEUE_ID)) :]
    assert 'data-state="critical"' in sales[:400]
    assert "✖" in sales
    assert "Critical" in sales
    assert "6 waiting (limit 6)" in sales
    support = html[html.index(card(SUPPORT_QUEUE_ID)) :]
    assert 'data-state="normal"' in support[:400]
    assert "Normal" in support


async def test_sound_is_off_until_asked_for(sim, live_settings, make_persona):
    html = (await get(await make_persona("manager"), "/queues/")).content.decode()
    assert 'id="queue-sound" aria-pressed="false"' in html
    assert "js/queues.js" in html


def test_queues_page_needs_sign_in(client):
    response = client.get("/queues/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


async def test_supervisor_sets_thresholds_and_the_card_follows(sim, live_settings, make_persona):
    await seed(waiting_in_sales=1)
    manager = await make_persona("manager")
    response = await post(manager, f"/queues/{SALES_QUEUE_ID}/thresholds/", VALID)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thresholds saved" in html
    assert card(SALES_QUEUE_ID) in html
    assert 'hx-swap-oob="morph"' in html
    assert 'data-state="warning"' in html  # one waiting now meets "warn at 1"
    queue = await Queue.objects.aget(pk=SALES_QUEUE_ID)
    assert (queue.service_level_seconds, queue.warn_waiting, queue.critical_service_level) == (30, 1, 70)
    assert queue.name == "Sales"  # VoIPBIN's fields untouched


async def test_saving_without_javascript_goes_back_to_the_page(sim, live_settings, make_persona):
    await seed()
    response = await post(
        await make_persona("manager"), f"/queues/{SALES_QUEUE_ID}/thresholds/", VALID, htmx=False
    )
    assert (response.status_code, response["Location"]) == (302, "/queues/")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("critical_waiting", "0", "The critical count must be at least the warning count."),
        ("critical_longest_wait_seconds", "10", "The critical wait must be at least the warning wait."),
        ("critical_service_level", "90", "The critical level must be at most the warning level."),
        ("warn_service_level", "120", "A percentage is at most 100."),
        ("service_level_seconds", "0", "Give at least one second."),
        ("warn_waiting", "-1", "greater than or equal to 0"),
        ("warn_waiting", "many", "Enter a whole number."),
        ("service_level_seconds", str(10**14), "less than or equal to 86400"),  # overflowed timedelta
    ],
)
async def test_inconsistent_thresholds_are_refused_with_the_reason(
    sim, live_settings, make_persona, field, value, message
):
    await seed()
    response = await post(
        await make_persona("manager"), f"/queues/{SALES_QUEUE_ID}/thresholds/", {**VALID, field: value}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'role="alert"' in html
    assert f'id="q-{SALES_QUEUE_ID}-{field}"' in html  # the form comes back, with the field marked
    queue = await Queue.objects.aget(pk=SALES_QUEUE_ID)
    assert (queue.warn_waiting, queue.critical_waiting, queue.service_level_seconds) == (3, 6, 20)


async def test_agent_may_not_set_thresholds(sim, live_settings, make_persona):
    await seed()
    response = await post(await make_persona("agent1"), f"/queues/{SALES_QUEUE_ID}/thresholds/", VALID)
    assert response.status_code == 403
    assert (await Queue.objects.aget(pk=SALES_QUEUE_ID)).warn_waiting == 3


async def test_outsider_cannot_touch_an_acme_queue(sim, live_settings, make_persona):
    await seed()
    response = await post(await make_persona("globex-admin"), f"/queues/{SALES_QUEUE_ID}/thresholds/", VALID)
    assert response.status_code == 404
    assert (await Queue.objects.aget(pk=SALES_QUEUE_ID)).warn_waiting == 3


# --- what a change pushes ---------------------------------------------------------------------


def test_an_agent_is_pushed_only_cards_of_queues_it_still_belongs_to():
    seed_accounts()
    change = apply(
        legacy(
            "agent_updated",
            {"id": DEMO_AGENT3_ID, "customer_id": DEMO_CUSTOMER_ID, "tag_ids": [], "tm_update": at(9)},
        )
    )
    fragments = QUEUES_PAGE.render_change(change)
    assert card(SALES_QUEUE_ID) in fragments["supervisor"]  # one agent fewer in Sales
    assert fragments["agent"] == ""  # agent3 is no longer shown Sales


def test_a_queuecall_pushes_its_queue_card_to_both_audiences_without_the_form():
    seed_accounts()
    change = apply(
        legacy(
            "queuecall_waiting",
            {
                "id": str(uuid.uuid4()),
                "customer_id": DEMO_CUSTOMER_ID,
                "queue_id": SUPPORT_QUEUE_ID,
                "status": "waiting",
                "tm_update": at(3),
            },
        )
    )
    fragments = QUEUES_PAGE.render_change(change)
    for html in fragments.values():
        assert card(SUPPORT_QUEUE_ID) in html
        assert 'data-waiting="1"' in html
        assert card(SALES_QUEUE_ID) not in html
        assert "Save thresholds" not in html  # the form sits beside the card, untouched by updates
