"""Flows live through the relay: the supervisors' flows page, and each call's current action.

These tests need the flows wiring outside ``dashboard/flows/``: ``live.apply_event`` dispatching
activeflow events, the relay's sessions subscribing to activeflows, ``FlowsPage`` registered in
``dashboard.pages.PAGES``, and the calls page following activeflows (resources, ``render_change``,
first paint). Without it they fail: that is what they are for.

Who may see what: the manager sees every flow of Acme; agents have no flows page; the outsider
is Globex's admin and never sees anything of Acme's.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_FLOW_ID, OTHER_CUSTOMER_ID
from dashboard.simulator.resources import START_ACTION_ID, activeflow_record, flow_action
from tests.flows.helpers import activeflow, at, legacy, new_id, remember_call
from tests.flows.test_flows_views import counts_in
from tests.test_live_consumer import nothing_containing, receive_until, socket
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

FLOWS = "/ws/live/flows/"
CALLS = "/ws/live/calls/"


def subscribed(sim, customer_id: str, resource: str) -> bool:
    """The simulator holds a session subscribed to this customer's ``resource`` (VoIPBIN never acks)."""
    return any(
        topic.startswith(f"customer_id:{customer_id}:{resource}")
        for connection in sim.stats()["open_connections"]
        for topic in connection["topics"]
    )


async def live_on(communicator, sim, customer_id: str) -> None:
    assert (await communicator.connect())[0]
    await receive_until(communicator, 'data-state="live"')
    await until(lambda: subscribed(sim, customer_id, "activeflow"))


def start_flow(sim, call_id: str) -> str:
    flow_id = new_id()
    record = activeflow_record(
        activeflow_id=flow_id, customer_id=DEMO_CUSTOMER_ID, flow_id=DEMO_FLOW_ID, call_id=call_id
    )
    sim.inject("activeflow", record)  # at VoIPBIN's reserved start action: not a step
    move(sim, flow_id, "answer")  # its first action, at once, as the scenario's flows do
    return flow_id


def move(sim, flow_id: str, kind: str, *, status: str = "running") -> None:
    """The flow goes on to ``kind``, as the simulator's scenario moves it."""
    current = sim.state.get("activeflow", flow_id)
    sim.inject(
        "activeflow",
        {
            "id": flow_id,
            "status": status,
            "current_action": flow_action(DEMO_FLOW_ID, kind),
            "executed_actions": [
                *current.get("executed_actions", []),
                *([current["current_action"]] if current["current_action"]["id"] != START_ACTION_ID else []),
            ],
        },
    )


@pytest.mark.parametrize("sim", ["tutorial", "legacy", "bare"], indirect=True)
async def test_supervisor_watches_flows_move_and_end_on_the_flows_page(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    tab = socket(manager, FLOWS)
    await live_on(tab, sim, DEMO_CUSTOMER_ID)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    flow_id = start_flow(sim, call["id"])
    await receive_until(tab, f'id="activeflow-{flow_id}"')
    html = await receive_until(tab, '<li data-action="answer">')
    assert counts_in(html, DEMO_FLOW_ID) == {"answer": 1}
    move(sim, flow_id, "talk")
    html = await receive_until(tab, '<li data-action="talk">')
    assert counts_in(html, DEMO_FLOW_ID) == {"talk": 1}
    move(sim, flow_id, "hangup", status="ended")
    html = await receive_until(tab, 'class="flow-ended"')
    assert counts_in(html, DEMO_FLOW_ID) == {}
    assert "0 running" in html
    await tab.disconnect()


async def test_agents_have_no_flows_page_socket(relay_hub, make_persona):
    agent = await make_persona("agent1")
    connected, code = await socket(agent, FLOWS).connect()
    assert (connected, code) == (False, 4403)
    assert relay_hub.sessions == {}


async def test_the_outsider_never_sees_acmes_flows(sim, relay_hub, make_persona):
    outsider = await make_persona("globex-admin")
    tab = socket(outsider, FLOWS)
    await live_on(tab, sim, OTHER_CUSTOMER_ID)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    flow_id = start_flow(sim, call["id"])
    assert await nothing_containing(tab, flow_id, within=1.0)
    await tab.disconnect()


async def test_a_calls_current_action_changes_live_on_the_calls_page(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    tab = socket(manager, CALLS)
    await live_on(tab, sim, DEMO_CUSTOMER_ID)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    await receive_until(tab, f'id="call-{call["id"]}"')
    flow_id = start_flow(sim, call["id"])
    html = await receive_until(tab, "Answering")
    assert f'<span id="flow-action-{call["id"]}"' in html
    move(sim, flow_id, "queue_join")
    html = await receive_until(tab, "Waiting in queue")
    assert f'id="flow-action-{call["id"]}"' in html
    assert f'id="flow-timeline-{call["id"]}"' in html  # an open timeline follows too

    # A late, older frame adds its step to the timeline but leaves the current action alone.
    current = sim.state.get("activeflow", flow_id)
    late = legacy({**current, "current_action": flow_action(DEMO_FLOW_ID, "play"), "tm_update": at(0)})
    sim.broadcast_raw(json.dumps(late))
    html = await receive_until(tab, 'data-action="play"')
    assert "Waiting in queue" in html
    assert 'aria-current="step"' in html
    await tab.disconnect()


async def test_calls_page_first_paint_shows_each_calls_current_action(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    call_id, flow_id = new_id(), new_id()

    @database_sync_to_async
    def remember_and_get():
        remember_call(call_id)
        from tests.flows.helpers import apply

        apply(legacy(activeflow(flow_id, "queue_join", 3, call_id=call_id)))
        client = Client()
        client.force_login(manager)
        return client.get("/calls/").content.decode()

    html = await remember_and_get()
    assert f'id="flow-action-{call_id}"' in html
    assert "Waiting in queue" in html
    assert f'hx-get="/calls/{call_id}/flow/"' in html
