"""Inbox pages, manual replies through the simulator, and the CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient, Client

from dashboard.inbox.threads import thread_key
from dashboard.models import Message, ThreadRead
from dashboard.simulator.accounts import (
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_CUSTOMER_ID,
    OTHER_SMS_NUMBER,
)
from tests.inbox.conftest import OTHER_REMOTE, REMOTE, sms, store

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}
THREAD = {"our": DEMO_SMS_NUMBER, "remote": REMOTE}


@database_sync_to_async
def get(user, path: str, **params):
    client = Client()
    client.force_login(user)
    return client.get(path, params)


@database_sync_to_async
def post(user, path: str, data: dict, **headers):
    client = Client()
    client.force_login(user)
    return client.post(path, data, **headers)


async def download(user, **params) -> tuple[int, str]:
    """The export as a browser gets it: streamed (the view hands ASGI an async iterator)."""
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get("/messages/export.csv", params)
    if not response.streaming:
        return response.status_code, response.content.decode()
    chunks = [chunk async for chunk in response.streaming_content]
    return response.status_code, b"".join(chunks).decode()


remember = database_sync_to_async(store)


# --- who sees the inbox ------------------------------------------------------------------------


async def test_agent_gets_a_403_page_and_no_nav_link(sim, live_settings, make_persona):
    agent = await make_persona("agent1")
    await remember(sms(text="for supervisors only"))
    response = await get(agent, "/messages/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "for supervisors and admins" in page
    assert "for supervisors only" not in page
    assert (await get(agent, "/messages/thread/", **THREAD)).status_code == 403
    assert (await download(agent))[0] == 403
    calls_page = (await get(agent, "/calls/")).content.decode()
    assert ">Inbox</a>" not in calls_page


def test_inbox_needs_sign_in(client):
    for path in ("/messages/", "/messages/thread/", "/messages/export.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


async def test_supervisor_sees_threads_with_unread_count_and_the_nav_link(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms(text="first", minutes=1))
    await remember(sms(text="second", minutes=2))
    await remember(sms(remote=OTHER_REMOTE, direction="outbound", text="we wrote", minutes=3))
    response = await get(manager, "/messages/")
    page = response.content.decode()
    assert response.status_code == 200
    assert ">Inbox</a>" in page
    assert f'id="threadrow-{thread_key(DEMO_SMS_NUMBER, REMOTE)}"' in page
    assert "2 unread</span>" in page
    assert "Awaiting reply" in page
    assert page.index(OTHER_REMOTE) < page.index(REMOTE)  # newest thread first
    assert 'ws-connect="/ws/live/inbox/?' in page


async def test_search_and_unanswered_filter_the_list(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms(text="where is my parcel", minutes=1))
    await remember(sms(remote=OTHER_REMOTE, text="hello", minutes=2))
    await remember(sms(remote=OTHER_REMOTE, direction="outbound", text="hi!", minutes=3))
    found = (await get(manager, "/messages/", q="PARCEL")).content.decode()
    assert REMOTE in found
    assert OTHER_REMOTE not in found
    unanswered = (await get(manager, "/messages/", unanswered="1")).content.decode()
    assert f"threadrow-{thread_key(DEMO_SMS_NUMBER, REMOTE)}" in unanswered
    assert f"threadrow-{thread_key(DEMO_SMS_NUMBER, OTHER_REMOTE)}" not in unanswered


async def test_outsider_sees_nothing_of_acme_and_a_forged_thread_is_404(sim, live_settings, make_persona):
    outsider = await make_persona("globex-admin")
    await remember(sms(text="acme secret"))
    await remember(sms(customer_id=OTHER_CUSTOMER_ID, ours=OTHER_SMS_NUMBER, text="globex hello"))
    page = (await get(outsider, "/messages/")).content.decode()
    assert "globex hello" in page
    assert "acme secret" not in page
    forged = await get(outsider, "/messages/thread/", **THREAD)
    assert forged.status_code == 404
    assert "acme secret" not in forged.content.decode()
    refused = await post(outsider, "/messages/thread/reply/", {**THREAD, "text": "hijack"}, **HTMX)
    assert refused.status_code == 404
    assert sim.sent == []


async def test_opening_a_thread_shows_it_in_voipbin_order_and_marks_it_read(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms(text="later", minutes=5))
    await remember(sms(text="earlier", minutes=1))
    response = await get(manager, "/messages/thread/", **THREAD)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("earlier") < page.index("later")
    assert f'id="thread-{thread_key(DEMO_SMS_NUMBER, REMOTE)}"' in page
    assert '<time datetime="2026-01-20T10:01:00' in page
    assert "Received" in page
    assert await ThreadRead.objects.filter(user=manager, remote=REMOTE).aexists()
    assert " unread</span>" not in (await get(manager, "/messages/")).content.decode()


async def test_unknown_thread_is_404(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    assert (
        await get(manager, "/messages/thread/", our=DEMO_SMS_NUMBER, remote="+15550000000")
    ).status_code == 404
    assert (await get(manager, "/messages/thread/")).status_code == 404


# --- manual replies ----------------------------------------------------------------------------


async def test_reply_is_sent_once_with_the_users_own_session_and_stored_as_theirs(
    sim, live_settings, make_persona
):
    manager = await make_persona("manager")
    await remember(sms(text="can you call me?"))
    response = await post(manager, "/messages/thread/reply/", {**THREAD, "text": " On it! "}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Sent to {REMOTE}" in html
    assert len(sim.sent) == 1
    sent = sim.sent[0]
    assert sent["agent_id"] == manager.agent_id  # the user's own token, not an account key
    assert sent["body"]["text"] == "On it!"
    assert sent["body"]["source"]["target"] == DEMO_SMS_NUMBER
    assert [d["target"] for d in sent["body"]["destinations"]] == [REMOTE]
    stored = await Message.objects.select_related("sent_by").aget(pk=sent["message_id"])
    assert stored.sent_by == manager
    assert (stored.direction, stored.remote, stored.our_number) == ("outbound", REMOTE, DEMO_SMS_NUMBER)
    assert f'id="msg-{stored.pk}"' in html  # shown at once, out of band
    assert "sent by Lee Morgan" in html
    assert "On it!</textarea>" not in html  # the form is cleared after a send


async def test_empty_reply_is_a_form_error_and_nothing_is_sent(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms())
    response = await post(manager, "/messages/thread/reply/", {**THREAD, "text": "   "}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Write a message before sending." in html
    assert 'aria-invalid="true"' in html
    assert sim.sent == []


async def test_low_balance_is_shown_and_the_text_kept(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms())
    sim.set_insufficient_balance(DEMO_CUSTOMER_ID, True)
    response = await post(manager, "/messages/thread/reply/", {**THREAD, "text": "keep me"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 402
    assert "balance is too low" in html
    assert 'role="alert"' in html
    assert "keep me</textarea>" in html
    assert sim.sent == []
    assert not await Message.objects.filter(direction="outbound").aexists()


async def test_voipbin_bad_request_is_shown(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms(remote="12345", text="short code"))  # not E.164: VoIPBIN refuses to answer it
    response = await post(
        manager, "/messages/thread/reply/", {"our": DEMO_SMS_NUMBER, "remote": "12345", "text": "hi"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "VoIPBIN rejected the message" in html
    assert "E.164" in html  # VoIPBIN's own words
    assert sim.sent == []


@pytest.fixture
async def silent_voipbin(live_settings) -> AsyncIterator[list[bytes]]:
    """A VoIPBIN that takes requests and never answers; yields the requests it got."""
    received: list[bytes] = []
    done = asyncio.Event()
    handlers: list[asyncio.Task] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())
        received.append(await reader.read(65536))
        await done.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    live_settings.VOIPBIN_BASE_URL = f"http://127.0.0.1:{port}"
    live_settings.VOIPBIN_HTTP_TIMEOUT = 0.3
    yield received
    done.set()
    await asyncio.gather(*handlers, return_exceptions=True)
    server.close()
    await server.wait_closed()


async def test_timeout_says_outcome_unknown_and_is_not_retried(sim, silent_voipbin, make_persona):
    manager = await make_persona("manager")
    await remember(sms())
    response = await post(manager, "/messages/thread/reply/", {**THREAD, "text": "did it go?"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 504
    assert "outcome is unknown" in html
    assert "Check the thread before sending it again" in html
    assert "did it go?</textarea>" in html
    assert [request.split(b" ")[0] for request in silent_voipbin] == [b"POST"]  # one attempt only


async def test_refused_token_asks_to_sign_in_again(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    manager.voipbin_token = sim.issue_token("manager", lifetime=-1)
    await manager.asave()
    await remember(sms())
    response = await post(manager, "/messages/thread/reply/", {**THREAD, "text": "hello"}, **HTMX)
    assert response.status_code == 401
    assert "sign in again" in response.content.decode()
    await manager.arefresh_from_db()
    assert manager.voipbin_session_expired
    assert sim.sent == []


async def test_agent_may_not_reply(sim, live_settings, make_persona):
    agent = await make_persona("agent1")
    await remember(sms())
    response = await post(agent, "/messages/thread/reply/", {**THREAD, "text": "hello"}, **HTMX)
    assert response.status_code == 403
    assert sim.sent == []


async def test_reply_without_javascript_redirects_back_to_the_thread(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms())
    response = await post(manager, "/messages/thread/reply/", {**THREAD, "text": "plain form"})
    assert response.status_code == 302
    assert response["Location"] == "/messages/thread/?" + urlencode(THREAD)
    assert len(sim.sent) == 1


# --- CSV export --------------------------------------------------------------------------------


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_export_has_one_row_per_message_of_the_listed_threads(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms(text='=HYPERLINK("http://evil")', minutes=1))
    await remember(sms(direction="outbound", text="@reply", status="delivered", minutes=2))
    await remember(sms(remote=OTHER_REMOTE, text="other thread", minutes=3))
    await remember(sms(customer_id=OTHER_CUSTOMER_ID, ours=OTHER_SMS_NUMBER, text="globex"))

    status, body = await download(manager, q="HYPERLINK")
    assert status == 200
    table = rows(body)
    assert table[0][:5] == ["time (UTC)", "direction", "our number", "remote", "text"]
    assert table[1:] == [
        [
            "2026-01-20T10:01:00Z",
            "inbound",
            f"'{DEMO_SMS_NUMBER}",
            f"'{REMOTE}",
            '\'=HYPERLINK("http://evil")',
            "received",
            "",
            "",
        ],
        [
            "2026-01-20T10:02:00Z",
            "outbound",
            f"'{DEMO_SMS_NUMBER}",
            f"'{REMOTE}",
            "'@reply",
            "delivered",
            "",
            "",
        ],
    ]
    everything = rows((await download(manager))[1])
    assert len(everything) == 4  # header and Acme's three, never Globex's


async def test_export_by_day_range(sim, live_settings, make_persona):
    manager = await make_persona("manager")
    await remember(sms(text="in range"))  # 2026-01-20
    await remember(sms(text="next day", minutes=24 * 60))
    status, body = await download(manager, **{"from": "2026-01-20", "to": "2026-01-20"})
    assert status == 200
    assert [row[4] for row in rows(body)[1:]] == ["in range"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30"},
        {"to": "20/01/2026"},
        {"from": "2026-02-02", "to": "2026-02-01"},
        {"to": "9999-12-31"},  # the day after would overflow
        {"from": "0001-01-01"},
    ],
)
async def test_bad_export_dates_are_a_400_with_a_reason(sim, live_settings, make_persona, params):
    manager = await make_persona("manager")
    status, body = await download(manager, **params)
    assert status == 400
    assert "YYYY-MM-DD" in body or "is after" in body or "between 2000 and 2100" in body
