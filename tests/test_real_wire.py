"""VoIPBIN's wire as its own code writes it (bare objects, zero UUIDs, ``tm_update`` null on create),
its gaps and its silences, met by the dashboard over real sockets against the simulator."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from dashboard.backfill import fetch_and_apply
from dashboard.flows.state import apply_activeflow
from dashboard.live import apply_event
from dashboard.models import (
    SETTLED,
    SETTLED_REASON,
    Account,
    Activeflow,
    ActiveflowStep,
    Call,
    Message,
    Queuecall,
)
from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_AGENT1_ID, DEMO_CUSTOMER_ID, SALES_QUEUE_ID
from dashboard.simulator.frames import Dialect, render
from dashboard.simulator.resources import START_ACTION_ID, ZERO_ID, public_view, with_target_status
from dashboard.voipbin.events import normalize
from tests.test_live_consumer import live, receive_until, socket
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)


def frame(sim, resource: str, resource_id: str) -> dict:
    """The resource as the simulator's bare dialect puts it on the wire (and REST lists it)."""
    return dict(public_view(resource, sim.state.get(resource, resource_id)))


# --- zero UUIDs mean none ---------------------------------------------------------------------------


async def test_an_unowned_call_on_the_wire_has_no_phantom_agent(sim):
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    wire = frame(sim, "call", call["id"])
    assert (wire["owner_id"], wire["owner_type"], wire["activeflow_id"]) == (ZERO_ID, "", ZERO_ID)
    event = normalize(wire)
    assert event.owner_agent_id is None
    assert event.topics() == [f"customer_id:{DEMO_CUSTOMER_ID}:call:{call['id']}"]
    change = await database_sync_to_async(apply_event)(event)
    assert change is not None
    row = await Call.objects.aget(pk=call["id"])
    assert row.owner_agent_id == ""
    assert ZERO_ID not in str(row.data)


async def test_a_waiting_queuecall_names_no_agent(sim):
    call = sim.create_call(
        customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing", queue_id=SALES_QUEUE_ID
    )
    queuecall = next(q for q in sim.state.all("queuecall") if q["reference_id"] == call["id"])
    wire = frame(sim, "queuecall", queuecall["id"])
    assert wire["service_agent_id"] == ZERO_ID
    await database_sync_to_async(apply_event)(normalize(wire))
    row = await Queuecall.objects.aget(pk=queuecall["id"])
    assert (row.service_agent_id, row.owner_agent_id) == ("", "")


# --- create events order by tm_create ---------------------------------------------------------------


def _flow_frames(sim) -> list[dict]:
    """Every frame of one scenario caller's flow as the bare dialect sent them, in order."""
    changes = []
    sim.state.listeners.append(lambda change: change.resource == "activeflow" and changes.append(change))
    sim.scenario._call_arrives(sim.state.customer(DEMO_CUSTOMER_ID))
    sim.advance(12)  # rings, the flow answers, greets, and the caller joins a queue
    ours = changes[0].resource_id  # other callers may arrive meanwhile
    return [json.loads(render(change, Dialect.BARE, "")) for change in changes if change.resource_id == ours]


async def test_a_flow_whose_create_frame_arrives_last_still_stands_at_its_latest_action(sim):
    first, *later = _flow_frames(sim)
    assert first["current_action"]["id"] == START_ACTION_ID
    assert first["tm_update"] is None
    assert first["reference_id"] != ZERO_ID
    for data in [*later, first]:  # the create event is delivered last
        await database_sync_to_async(apply_activeflow)(normalize(data))
    row = await Activeflow.objects.aget(pk=first["id"])
    assert row.current_action_type == later[-1]["current_action"]["type"]  # hold music, or the bridge
    assert "queue_join" in [frame["current_action"]["type"] for frame in later]
    steps = [
        step
        async for step in ActiveflowStep.objects.filter(activeflow_id=first["id"])
        .order_by("started_at")
        .values_list("action_id", flat=True)
    ]
    assert steps == [data["current_action"]["id"] for data in later]  # no step for the start placeholder
    assert row.reference_id == first["reference_id"]  # the flow's call, never a zero id


async def test_a_late_message_created_never_takes_a_sent_message_back_to_queued(sim):
    created = sim.state.send_message(
        customer_id=DEMO_CUSTOMER_ID,
        source={"type": "tel", "target": "+15555550102"},
        destinations=[{"type": "tel", "target": "+12025550123"}],
        text="on its way",
    )
    create_frame = frame(sim, "message", created["id"])
    assert create_frame["tm_update"] is None
    sim.state.upsert(
        "message",
        {"id": created["id"], "targets": with_target_status(created, "sent", sim.state.clock.stamp())},
    )
    sent_frame = frame(sim, "message", created["id"])
    for data in (sent_frame, create_frame):  # out of order, as VoIPBIN may deliver them
        await database_sync_to_async(apply_event)(normalize(data))
    row = await Message.objects.aget(pk=created["id"])
    assert row.status == "sent"


# --- no ghosts --------------------------------------------------------------------------------------


async def test_a_call_deleted_while_disconnected_is_settled_on_the_supervisors_page(
    sim, relay_hub, make_persona
):
    manager = await make_persona("manager")
    page = socket(manager)
    assert (await page.connect())[0]
    try:
        await live(page, sim)
        call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing")
        await receive_until(page, f'id="call-{call["id"]}"')
        await until(lambda: Call.objects.filter(pk=call["id"], status="progressing").aexists())
        sim.set_refusal(503)  # VoIPBIN away: the call ends and is deleted while nobody listens
        sim.drop_connections()
        await until(lambda: not sim.stats()["open_connections"])
        sim.delete("call", call["id"])
        sim.set_refusal(None)
        html = await receive_until(page, SETTLED_REASON, timeout=10)
        assert f'id="call-{call["id"]}"' in html
        row = await Call.objects.aget(pk=call["id"])
        assert (row.status, row.hangup_reason, row.data[SETTLED]) == ("hangup", SETTLED_REASON, True)
    finally:
        await page.disconnect()


async def test_an_account_backfill_settles_ghosts_and_leaves_what_voipbin_still_lists(sim, live_settings):
    alive = sim.create_call(
        customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing", queue_id=SALES_QUEUE_ID
    )
    ghost = sim.create_call(
        customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing", queue_id=SALES_QUEUE_ID
    )
    ghost_queuecall = next(q for q in sim.state.all("queuecall") if q["reference_id"] == ghost["id"])
    await fetch_and_apply(accesskey=DEMO_ACCESS_KEY, customer_id=DEMO_CUSTOMER_ID)
    for call in (alive, ghost):
        await database_sync_to_async(apply_event)(normalize(frame(sim, "call", call["id"])))
    assert await Queuecall.objects.filter(status="waiting").acount() == 2
    sim.delete("call", ghost["id"])  # VoIPBIN forgot them; we never heard
    sim.delete("queuecall", ghost_queuecall["id"])
    await asyncio.sleep(0.01)  # the rows' last change is before the backfill's fetch
    changes = await fetch_and_apply(accesskey=DEMO_ACCESS_KEY, customer_id=DEMO_CUSTOMER_ID)
    settled = {(change.resource, change.row.pk) for change in changes if change.row.data.get(SETTLED)}
    assert settled == {("call", ghost["id"]), ("queuecall", ghost_queuecall["id"])}
    ghost_row = await Queuecall.objects.aget(pk=ghost_queuecall["id"])
    assert (ghost_row.status, ghost_row.tm_service) == ("done", None)  # neither answered nor abandoned
    assert (await Call.objects.aget(pk=alive["id"])).status == "progressing"
    assert await Queuecall.objects.filter(status="waiting").acount() == 1
    again = await fetch_and_apply(accesskey=DEMO_ACCESS_KEY, customer_id=DEMO_CUSTOMER_ID)
    assert not [change for change in again if change.row.data.get(SETTLED)]  # settled once


async def test_a_row_newer_than_the_listing_is_not_settled(sim):
    from dashboard.reconcile import Listing, settle_ghosts

    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    await database_sync_to_async(apply_event)(normalize(frame(sim, "call", call["id"])))
    before = timezone.now() - timedelta(seconds=5)  # a listing fetched before this row arrived
    listing = Listing("call", [], complete=True, fetched_at=before)
    assert await database_sync_to_async(settle_ghosts)(listing, DEMO_CUSTOMER_ID) == []
    later = Listing("call", [], complete=True, fetched_at=timezone.now())
    assert [e.resource_id for e in await database_sync_to_async(settle_ghosts)(later, DEMO_CUSTOMER_ID)] == [
        call["id"]
    ]
    # A partial listing speaks only for the stretch of time it covers.
    only_the_future = {"id": "x", "status": "hangup", "tm_create": "2999-01-01T00:00:00Z"}
    partial = Listing("call", [only_the_future], complete=False, fetched_at=timezone.now())
    assert await database_sync_to_async(settle_ghosts)(partial, DEMO_CUSTOMER_ID) == []


@pytest.mark.parametrize("configured", [True, False])
async def test_an_agents_ghost_call_is_settled_through_the_accounts_key_when_one_is_configured(
    sim, relay_hub, make_persona, configured
):
    """VoIPBIN lists nothing to an agent: only the account's access key can tell what is over."""
    if configured:
        await Account.objects.acreate(
            name="Acme", customer_id=DEMO_CUSTOMER_ID, access_key=DEMO_ACCESS_KEY, numbers=["+15555550102"]
        )
    agent = await make_persona("agent1")
    page = socket(agent)
    assert (await page.connect())[0]
    try:
        await live(page, sim)
        call = sim.create_call(
            customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing", owner_id=DEMO_AGENT1_ID
        )
        await receive_until(page, f'id="call-{call["id"]}"')
        sim.set_refusal(503)
        sim.drop_connections()
        await until(lambda: not sim.stats()["open_connections"])
        sim.delete("call", call["id"])
        sim.set_refusal(None)
        await live(page, sim)
        if configured:
            await until(lambda: Call.objects.filter(pk=call["id"], status="hangup").aexists(), timeout=10)
            row = await Call.objects.aget(pk=call["id"])
            assert row.hangup_reason == SETTLED_REASON
        else:  # nothing can tell: the row stays as VoIPBIN last described it
            await asyncio.sleep(0.5)
            assert (await Call.objects.aget(pk=call["id"])).status == "progressing"
    finally:
        await page.disconnect()


async def test_real_news_of_a_settled_call_replaces_the_guess(sim):
    """Settled too early (a list that missed it): VoIPBIN's own later word wins, and the mark goes."""
    from dashboard.reconcile import Listing, settle_ghosts

    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing")
    await database_sync_to_async(apply_event)(normalize(frame(sim, "call", call["id"])))
    listing = Listing("call", [], complete=True, fetched_at=timezone.now())
    for event in await database_sync_to_async(settle_ghosts)(listing, DEMO_CUSTOMER_ID):
        await database_sync_to_async(apply_event)(event)
    assert (await Call.objects.aget(pk=call["id"])).hangup_reason == SETTLED_REASON
    sim.set_call_status(call["id"], "hangup", hangup_by="remote", hangup_reason="busy")
    await database_sync_to_async(apply_event)(normalize(frame(sim, "call", call["id"])))
    row = await Call.objects.aget(pk=call["id"])
    assert (row.status, row.hangup_reason, row.hangup_by) == ("hangup", "busy", "remote")
    assert SETTLED not in row.data


async def test_a_row_settled_by_another_process_shows_after_the_next_backfill(sim, relay_hub, make_persona):
    """The relay worker (another process) may settle a ghost first: no event reaches this process,
    so the resync after this user's own backfill is what shows it."""
    manager = await make_persona("manager")
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing")
    page = socket(manager)
    assert (await page.connect())[0]
    try:
        await live(page, sim)
        await receive_until(page, f'id="call-{call["id"]}"')
        sim.set_refusal(503)
        sim.drop_connections()
        await until(lambda: not sim.stats()["open_connections"])
        sim.delete("call", call["id"])
        row = await Call.objects.aget(pk=call["id"])  # what another process's backfill wrote
        settled = {**row.data, "status": "hangup", SETTLED: True}
        await Call.objects.filter(pk=call["id"]).aupdate(
            status="hangup", hangup_reason=SETTLED_REASON, tm_hangup=timezone.now(), data=settled
        )
        sim.set_refusal(None)
        html = await receive_until(page, SETTLED_REASON, timeout=10)
        assert f'id="call-{call["id"]}"' in html
    finally:
        await page.disconnect()
