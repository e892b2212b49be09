"""Notices through the relay, against the simulator over real sockets, in every wire dialect.

Who may see what: agent1 serves Sales and Support, agent2 Support only; the manager supervises
Acme; Globex's admin and agent belong to another customer. A user is only ever shown notices for
events their own VoIPBIN session delivered, on whatever page they have open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dashboard.backfill import fetch_and_apply
from dashboard.models import Message
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, OTHER_CUSTOMER_ID, OTHER_QUEUE_ID, SALES_QUEUE_ID
from tests.queues.test_queues_live import connect, queuecall_of
from tests.test_live_consumer import nothing_containing, receive_until
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

CALLS, AGENTS, QUEUES = "/ws/live/calls/", "/ws/live/agents/", "/ws/live/queues/"
NOTICE = "data-live-notice"
REMOTE, OTHER_REMOTE = "+15555550123", "+15555550124"


async def frames_until(page, done: Callable[[str], bool], timeout: float = 5.0) -> str:
    """Every frame up to the one after which ``done`` holds for all of them, joined."""
    seen = ""
    async with asyncio.timeout(timeout):
        while not done(seen):
            seen += await page.receive_from(timeout=timeout)
    return seen


async def queues_known(make_persona) -> None:
    """Queues and agents in live state, as the relay worker's account session keeps them."""
    manager = await make_persona("manager")
    await fetch_and_apply(token=manager.voipbin_token, customer_id=manager.customer_id)


async def settled(relay_hub) -> None:
    """Nothing of the hub's still touching the database when the test ends."""
    await until(lambda: relay_hub.sessions == {})
    await until(lambda: not relay_hub.queue_lists.busy)


# The tutorial's contract: queue.joined reaches the agents serving the queue under agent_id topics.
# VoIPBIN's code publishes queuecalls under customer_id only (docs/VOIPBIN.md §3): the next test.
@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)
async def test_member_agent_is_shown_a_queue_join_on_every_open_page(sim, relay_hub, make_persona):
    await queues_known(make_persona)
    agent1, agent2 = await make_persona("agent1"), await make_persona("agent2")
    calls, board = await connect(agent1, CALLS, sim), await connect(agent1, AGENTS, sim)
    other_queue = await connect(agent2, CALLS, sim)  # agent2 serves Support only
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", queue_id=SALES_QUEUE_ID)
    qc = queuecall_of(sim, call["id"])
    for page in (calls, board):
        html = await receive_until(page, NOTICE)
        assert "Caller waiting in Sales" in html
        assert f'data-tag="queuecall-{qc["id"]}"' in html
        assert call["source"]["target"] not in html  # an agent is not shown callers it does not serve
    assert await nothing_containing(other_queue, NOTICE, within=0.5)
    # VoIPBIN says the same caller is waiting again: no second notice; the next caller's comes next.
    sim.inject("queuecall", {"id": qc["id"], "status": "waiting"}, event="queuecall_waiting")
    later = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", queue_id=SALES_QUEUE_ID)
    html = await receive_until(calls, NOTICE)
    assert f'data-tag="queuecall-{queuecall_of(sim, later["id"])["id"]}"' in html
    assert qc["id"] not in html
    for page in (calls, board, other_queue):
        await page.disconnect()
    await settled(relay_hub)


async def test_under_voipbins_code_a_member_agent_is_shown_a_join_through_the_account_feed(
    sim, relay_hub, make_persona, acme_account
):
    """VoIPBIN's code pushes agents no queuecall, and names no queue on one: the account feed brings
    the caller, the queue lists place it, and only then do the queue's members get the notice."""
    await queues_known(make_persona)
    agent1, agent2 = await make_persona("agent1"), await make_persona("agent2")
    sales = await connect(agent1, QUEUES, sim)
    support_only = await connect(agent2, CALLS, sim)
    await until(lambda: any(c["access_key"] for c in sim.stats()["open_connections"]))
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", queue_id=SALES_QUEUE_ID)
    html = await receive_until(sales, NOTICE)
    assert "Caller waiting in Sales" in html
    assert f'data-tag="queuecall-{queuecall_of(sim, call["id"])["id"]}"' in html
    assert await nothing_containing(support_only, NOTICE, within=0.5)
    for page in (sales, support_only):
        await page.disconnect()
    await until(lambda: not relay_hub.feed_queue_lists.busy)
    await settled(relay_hub)


async def test_other_customers_users_are_shown_nothing_of_an_acme_join(sim, relay_hub, make_persona):
    await queues_known(make_persona)
    outsiders = [await make_persona("globex-admin"), await make_persona("globex-agent")]
    pages = [await connect(user, CALLS, sim) for user in outsiders]
    sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", queue_id=SALES_QUEUE_ID)
    for page in pages:
        assert await nothing_containing(page, NOTICE, within=0.5)
    # Their own customer's join does reach them: the test above is not silent by accident.
    sim.create_call(customer_id=OTHER_CUSTOMER_ID, status="progressing", queue_id=OTHER_QUEUE_ID)
    assert "Caller waiting" in await receive_until(pages[0], NOTICE)
    for page in pages:
        await page.disconnect()
    await settled(relay_hub)


@pytest.mark.parametrize("sim", ["legacy", "bare"], indirect=True)
async def test_code_dialect_join_is_shown_to_supervisors_at_once(sim, relay_hub, make_persona):
    """``queuecall_waiting`` without a queue_id, under the customer's topics only (VoIPBIN's code).

    The supervisor is told at once, before the queue lists say which queue it is. VoIPBIN's code
    publishes a waiting caller to no agent, so no agent's session delivers it and no agent is
    shown it (tutorial VoIPBIN sends ``queue.joined`` to a queue's agents: see the test above).
    """
    manager, agent1 = await make_persona("manager"), await make_persona("agent1")
    supervisor, agent = await connect(manager, CALLS, sim), await connect(agent1, CALLS, sim)
    outsider = await connect(await make_persona("globex-admin"), CALLS, sim)
    sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", queue_id=SALES_QUEUE_ID)
    assert "Caller waiting" in await receive_until(supervisor, NOTICE)
    assert await nothing_containing(agent, NOTICE, within=0.5)
    assert await nothing_containing(outsider, NOTICE, within=0.1)
    for page in (supervisor, agent, outsider):
        await page.disconnect()
    await settled(relay_hub)


async def test_supervisor_is_shown_a_new_message_once_per_thread_per_minute(sim, relay_hub, make_persona):
    manager, agent1 = await make_persona("manager"), await make_persona("agent1")
    calls, agent = await connect(manager, CALLS, sim), await connect(agent1, CALLS, sim)
    outsider = await connect(await make_persona("globex-admin"), QUEUES, sim)
    sim.receive_sms(source=REMOTE, text="Is my order shipped?")
    html = await receive_until(calls, NOTICE)
    assert f"New message from {REMOTE}" in html
    assert "Is my order shipped?" in html
    sim.receive_sms(source=REMOTE, text="Hello?")  # the same thread within the minute: no notice
    sim.receive_sms(source=OTHER_REMOTE, text="Another thread")
    html = await receive_until(calls, NOTICE)
    assert "Another thread" in html
    assert "Hello?" not in html
    assert await nothing_containing(agent, NOTICE, within=0.2)  # agents do not follow messages
    assert await nothing_containing(outsider, NOTICE, within=0.1)
    for page in (calls, agent, outsider):
        await page.disconnect()
    await settled(relay_hub)


async def test_what_the_backfill_brings_after_a_gap_raises_no_notice(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    calls = await connect(manager, CALLS, sim)
    await receive_until(calls, 'data-state="live"')
    sim.set_refusal(503)
    sim.drop_connections()
    await receive_until(calls, 'data-state="retrying"')
    missed = sim.receive_sms(source=REMOTE, text="Sent while you were away")
    sim.set_refusal(None)
    # Live again, then the resync that ends the backfill: the missed message is stored, not notified.
    seen = await frames_until(
        calls, lambda seen: 'id="calls-active"' in seen.partition('data-state="live"')[2]
    )
    assert await Message.objects.filter(pk=missed["id"]).aexists()
    assert NOTICE not in seen
    sim.receive_sms(source=OTHER_REMOTE, text="Sent now")  # while live messages notify again, first
    html = await receive_until(calls, NOTICE)
    assert "Sent now" in html
    assert "Sent while you were away" not in html
    await calls.disconnect()
    await settled(relay_hub)


async def test_notices_from_the_owning_process_reach_this_process_tabs(sim, relay_hub, make_persona):
    """Another process owns the session: its decided notices come with the update, once."""
    agent1 = await make_persona("agent1")
    calls = await connect(agent1, CALLS, sim)
    html = '<div hx-swap-oob="afterbegin:#notices"><div class="notice" data-live-notice>Caller</div></div>'
    message = {"type": "relay.updates", "topics": [], "fragments": {}, "users": [[agent1.pk, [html]]]}
    await relay_hub._on_message(message)
    assert html in await receive_until(calls, NOTICE)
    await calls.disconnect()
    await settled(relay_hub)
