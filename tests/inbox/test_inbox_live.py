"""The inbox live: a supervisor's own VoIPBIN session brings SMS to their inbox tabs, nobody else's."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from dashboard.inbox.threads import thread_key
from dashboard.models import Message
from dashboard.simulator.accounts import (
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_CUSTOMER_ID,
    OTHER_SMS_NUMBER,
)
from dashboard.simulator.resources import with_target_status
from tests.inbox.conftest import OTHER_REMOTE, REMOTE, sms, store
from tests.test_live_consumer import nothing_containing, receive_until, socket
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = "/ws/live/inbox/"
THREAD_SOCKET = f"{INBOX}?{urlencode({'our': DEMO_SMS_NUMBER, 'remote': REMOTE})}"  # as thread.html builds it


def message_topics(sim, customer_id: str) -> bool:
    """The simulator holds a session subscribed to this customer's messages (VoIPBIN never acks)."""
    return any(
        t.startswith(f"customer_id:{customer_id}:message")
        for c in sim.stats()["open_connections"]
        for t in c["topics"]
    )


async def inbox_live(communicator, sim, customer_id: str) -> None:
    assert (await communicator.connect())[0]
    await receive_until(communicator, 'data-state="live"')
    await until(lambda: message_topics(sim, customer_id))


async def test_supervisor_receives_the_thread_row_and_message_of_a_new_sms(sim, relay_hub, make_persona):
    manager, outsider = await make_persona("manager"), await make_persona("globex-admin")
    acme, globex = socket(manager, INBOX), socket(outsider, INBOX)
    await inbox_live(acme, sim, manager.customer_id)
    await inbox_live(globex, sim, OTHER_CUSTOMER_ID)

    message = sim.receive_sms(source=REMOTE, text="Is my order shipped?")

    html = await receive_until(acme, f'id="msg-{message["id"]}"')
    key = thread_key(DEMO_SMS_NUMBER, REMOTE)
    assert f'id="threadrow-{key}"' in html
    assert f'data-list="thread-{key}"' in html  # lands only in this thread's list
    assert "Is my order shipped?" in html
    assert "Awaiting reply" in html
    assert 'data-kind="new"' in html
    assert 'data-kind="count"' not in html  # per-user counts are not pushed
    assert await nothing_containing(globex, message["id"], within=0.5)
    assert await Message.objects.filter(pk=message["id"], customer_id=manager.customer_id).aexists()
    for tab in (acme, globex):
        await tab.disconnect()
    await until(lambda: relay_hub.sessions == {})
    await until(lambda: sim.stats()["open_connections"] == [])


async def test_outsider_gets_nothing_of_acme_and_may_not_ask_for_it(sim, relay_hub, make_persona):
    outsider = await make_persona("globex-admin")
    forged = socket(outsider, f"{INBOX}?topics=customer_id:{DEMO_CUSTOMER_ID}:message:*")
    assert await forged.connect() == (False, 4403)
    communicator = socket(outsider, INBOX)
    await inbox_live(communicator, sim, OTHER_CUSTOMER_ID)
    acme = sim.receive_sms(source=REMOTE, text="acme only")
    globex = sim.receive_sms(source=REMOTE, text="globex only", customer_id=OTHER_CUSTOMER_ID)
    html = await receive_until(communicator, f'id="msg-{globex["id"]}"')
    assert thread_key(OTHER_SMS_NUMBER, REMOTE) in html
    assert await nothing_containing(communicator, acme["id"], within=0.5)
    await communicator.disconnect()


async def test_agents_may_not_open_the_inbox_socket_nor_follow_messages(sim, relay_hub, make_persona):
    agent, manager = await make_persona("agent1"), await make_persona("manager")
    refused = socket(agent, INBOX)
    assert await refused.connect() == (False, 4403)
    assert relay_hub.sessions == {}  # refused before any upstream session was opened for it
    calls = socket(agent)
    assert (await calls.connect())[0]
    await receive_until(calls, 'data-state="live"')
    await until(lambda: sim.stats()["open_connections"] and sim.stats()["open_connections"][0]["topics"])
    agent_topics = sim.stats()["open_connections"][0]["topics"]
    assert agent_topics
    assert not [t for t in agent_topics if ":message" in t]
    inbox = socket(manager, INBOX)
    await inbox_live(inbox, sim, manager.customer_id)
    for tab in (calls, inbox):
        await tab.disconnect()


@database_sync_to_async
def reply(user, text: str):
    client = Client()
    client.force_login(user)
    data = {"our": DEMO_SMS_NUMBER, "remote": REMOTE, "text": text}
    return client.post("/messages/thread/reply/", data, HTTP_HX_REQUEST="true")


async def test_a_delivery_update_replaces_the_message_instead_of_adding_one(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    await database_sync_to_async(store)(sms(text="please confirm"))
    key = thread_key(DEMO_SMS_NUMBER, REMOTE)
    tab = socket(manager, THREAD_SOCKET)
    await inbox_live(tab, sim, manager.customer_id)

    assert (await reply(manager, "Confirmed!")).status_code == 200
    sent = sim.sent[0]["message_id"]
    queued = await receive_until(tab, f'id="msg-{sent}"')
    assert "Queued" in queued
    record = sim.state.get("message", sent)
    sim.inject(
        "message", {"id": sent, "targets": with_target_status(record, "delivered", sim.state.clock.stamp())}
    )
    delivered = await receive_until(tab, "Delivered")

    # The same element id, swapped out of band by id (outerHTML), so the browser replaces it.
    item = re.search(rf'<li id="msg-{sent}"[^>]*>', delivered)
    assert item is not None
    assert 'hx-swap-oob="morph"' in item.group(0)
    assert delivered.count(f'id="msg-{sent}"') == 1
    assert await Message.objects.filter(pk=sent).acount() == 1
    assert (await Message.objects.aget(pk=sent)).status == "delivered"
    assert "sent by Lee Morgan" in delivered

    # A reconnecting tab re-renders its thread from state: still one item, now delivered.
    again = socket(manager, THREAD_SOCKET)
    assert (await again.connect())[0]
    resync = await receive_until(again, f'id="thread-{key}"')
    assert resync.count(f'id="msg-{sent}"') == 1
    assert "Delivered" in resync
    for t in (tab, again):
        await t.disconnect()


async def test_a_tab_resyncs_its_own_thread_or_its_filtered_list(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    mine = await database_sync_to_async(store)(sms(text="about the invoice"))
    other = await database_sync_to_async(store)(sms(remote=OTHER_REMOTE, text="something else", minutes=1))

    thread_tab = socket(manager, THREAD_SOCKET)
    assert (await thread_tab.connect())[0]
    html = await receive_until(thread_tab, f'id="thread-{thread_key(DEMO_SMS_NUMBER, REMOTE)}"')
    assert f"msg-{mine.pk}" in html
    assert f"msg-{other.pk}" not in html

    list_tab = socket(manager, f"{INBOX}?q=invoice")
    assert (await list_tab.connect())[0]
    html = await receive_until(list_tab, 'id="inbox-threads"')
    assert f"threadrow-{thread_key(DEMO_SMS_NUMBER, REMOTE)}" in html
    assert f"threadrow-{thread_key(DEMO_SMS_NUMBER, OTHER_REMOTE)}" not in html
    for t in (thread_tab, list_tab):
        await t.disconnect()


async def test_messages_missed_while_voipbin_was_away_are_backfilled(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    tab = socket(manager, INBOX)
    await inbox_live(tab, sim, manager.customer_id)
    sim.set_refusal(503)
    sim.drop_connections()
    await receive_until(tab, 'data-state="retrying"')
    missed = sim.receive_sms(source=REMOTE, text="sent while nobody listened")
    sim.set_refusal(None)
    html = await receive_until(tab, f"threadrow-{thread_key(DEMO_SMS_NUMBER, REMOTE)}")
    assert "sent while nobody listened" in html
    assert await Message.objects.filter(pk=missed["id"]).aexists()
    await tab.disconnect()
