"""The browser socket of a signed-in user: handshake rules, topic permissions, relay, cleanup."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from dashboard import relay
from dashboard.relay import end_user_session
from dashboard.simulator.accounts import DEMO_AGENT1_ID, DEMO_CUSTOMER_ID, OTHER_CUSTOMER_ID
from dashboard.sockets import CLOSE_FLOOD, CLOSE_TOO_BIG
from dashboard.voipbin.events import parse_time
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def socket(user, path: str = "/ws/live/calls/", origin=ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[origin] if origin else [])
    communicator.scope["user"] = user  # as SessionUserMiddleware would set it from the session cookie
    return communicator


async def receive_until(communicator: WebsocketCommunicator, needle: str, timeout: float = 5.0) -> str:
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            html = await communicator.receive_from(timeout=timeout)
            seen.append(html)
            if needle in html:
                return html


async def live(communicator: WebsocketCommunicator, sim) -> None:
    """The page shows Live and the simulator holds the session's subscriptions (VoIPBIN never acks)."""
    await receive_until(communicator, 'data-state="live"')
    await until(
        lambda: sim.stats()["open_connections"] and all(c["topics"] for c in sim.stats()["open_connections"])
    )


async def nothing_containing(communicator: WebsocketCommunicator, needle: str, within: float = 1.0) -> bool:
    try:
        async with asyncio.timeout(within):
            while True:
                if needle in await communicator.receive_from(timeout=within):
                    return False
    except TimeoutError:
        return True


async def test_anonymous_handshake_is_rejected(relay_hub):
    from django.contrib.auth.models import AnonymousUser

    connected, _ = await socket(AnonymousUser()).connect()
    assert not connected
    assert relay_hub.sessions == {}


async def test_foreign_origin_is_rejected_before_accept(relay_hub, make_persona):
    manager = await make_persona("manager")
    connected, _ = await socket(manager, origin=(b"origin", b"https://evil.example")).connect()
    assert not connected
    assert relay_hub.sessions == {}


async def test_agent_asking_for_customer_topics_is_rejected(relay_hub, make_persona):
    agent = await make_persona("agent1")
    path = f"/ws/live/calls/?topics=customer_id:{DEMO_CUSTOMER_ID}:call:*"
    connected, code = await socket(agent, path).connect()
    assert not connected
    assert code == 4403
    assert relay_hub.sessions == {}


async def test_supervisor_may_not_forge_another_customers_topics(relay_hub, make_persona):
    manager = await make_persona("manager")
    connected, code = await socket(
        manager, f"/ws/live/calls/?topics=customer_id:{OTHER_CUSTOMER_ID}:call:*"
    ).connect()
    assert (connected, code) == (False, 4403)


async def test_supervisor_sees_a_call_appear_change_and_end(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    communicator = socket(manager)
    connected, _ = await communicator.connect()
    assert connected
    await live(communicator, sim)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    row = await receive_until(communicator, f'id="call-{call["id"]}"')
    assert 'data-phase="ringing"' in row
    assert "Hang up" in row  # supervisors get the button
    sim.set_call_status(call["id"], "progressing")
    assert 'data-phase="flow"' in await receive_until(communicator, 'data-phase="flow"')  # its flow picked up
    sim.set_call_status(call["id"], "hangup")
    ended = await receive_until(communicator, 'data-list="calls-ended"')
    assert f'id="call-{call["id"]}"' in ended
    await communicator.disconnect()


async def test_agent_receives_only_own_calls(sim, relay_hub, make_persona):
    agent = await make_persona("agent1")
    communicator = socket(agent)
    connected, _ = await communicator.connect()
    assert connected
    await live(communicator, sim)
    other = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    mine = sim.create_call(
        customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing", owner_id=DEMO_AGENT1_ID
    )
    row = await receive_until(communicator, f'id="call-{mine["id"]}"')
    assert "Hang up" not in row
    assert await nothing_containing(communicator, other["id"], within=0.5)
    await communicator.disconnect()


async def test_user_of_another_customer_never_receives_acme_events(sim, relay_hub, make_persona):
    outsider = await make_persona("globex-admin")
    # Forged topics naming Acme are refused outright…
    forged = socket(outsider, f"/ws/live/calls/?topics=customer_id:{DEMO_CUSTOMER_ID}:call:*")
    assert (await forged.connect())[0] is False
    # …and the outsider's own socket gets nothing of Acme's, even when asking to widen later.
    communicator = socket(outsider)
    assert (await communicator.connect())[0]
    await live(communicator, sim)
    await communicator.send_to(
        text_data=json.dumps({"type": "subscribe", "topics": [f"customer_id:{DEMO_CUSTOMER_ID}:call:*"]})
    )
    assert "Not allowed" in await receive_until(communicator, "socket-error")
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    assert await nothing_containing(communicator, call["id"], within=1.0)
    await communicator.disconnect()


async def test_bad_frames_get_an_error_and_the_socket_stays(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    await live(communicator, sim)
    await communicator.send_to(text_data="{nope")
    assert "not valid JSON" in await receive_until(communicator, "socket-error")
    await communicator.send_to(text_data=json.dumps({"type": "dance"}))
    assert "subscribe" in await receive_until(communicator, "socket-error")
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    await receive_until(communicator, call["id"])
    await communicator.disconnect()


async def test_oversized_frame_closes_4009(relay_hub, make_persona):
    manager = await make_persona("manager")
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="x" * (64 * 1024 + 1))
    output = await until(lambda: _closed(communicator))
    assert output["code"] == CLOSE_TOO_BIG


async def test_flood_closes_4008(relay_hub, make_persona):
    manager = await make_persona("manager")
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    for _ in range(60):
        await communicator.send_to(text_data=json.dumps({"type": "unsubscribe", "topics": []}))
    output = await until(lambda: _closed(communicator))
    assert output["code"] == CLOSE_FLOOD


async def _closed(communicator: WebsocketCommunicator):
    while True:
        try:
            output = await communicator.receive_output(timeout=0.1)
        except TimeoutError:
            return None
        if output["type"] == "websocket.close":
            return output


async def test_tabs_share_one_upstream_session_closed_after_the_grace_period(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    tabs = [socket(manager) for _ in range(3)]
    for tab in tabs:
        assert (await tab.connect())[0]
    assert list(relay_hub.sessions) == [manager.pk]
    await live(tabs[0], sim)
    assert len(sim.stats()["open_connections"]) == 1
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    for tab in tabs:
        await receive_until(tab, call["id"])
    for tab in tabs:
        await tab.disconnect()
    await until(lambda: relay_hub.sessions == {})
    await until(lambda: sim.stats()["open_connections"] == [])


async def test_logout_closes_every_socket_and_the_upstream_session(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    tabs = [socket(manager) for _ in range(2)]
    for tab in tabs:
        assert (await tab.connect())[0]
        await receive_until(tab, 'data-state="live"')
    await end_user_session(manager.pk)
    for tab in tabs:
        output = await until(lambda t=tab: _closed(t))
        assert output["code"] == 4001
    assert relay_hub.sessions == {}
    await until(lambda: sim.stats()["open_connections"] == [])


async def test_expired_token_shows_sign_in_again(sim, relay_hub, make_persona):
    from dashboard.models import User

    manager = await make_persona("manager")
    manager.voipbin_token = sim.issue_token("manager", lifetime=-1)
    await manager.asave()
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    html = await receive_until(communicator, "sign in again")
    assert 'data-state="stopped"' in html or 'data-state="expired"' in html
    await until(lambda: User.objects.filter(pk=manager.pk, token_rejected_at__isnull=False).aexists())
    await communicator.disconnect()


async def test_hundred_connect_disconnect_cycles_leave_nothing_behind(sim, relay_hub, make_persona):
    from channels.layers import get_channel_layer

    manager = await make_persona("manager")

    async def cycle() -> None:
        communicator = socket(manager)
        assert (await communicator.connect())[0]
        await communicator.disconnect()

    await cycle()  # the hub's own maintenance task starts with the first socket
    await until(lambda: relay_hub.sessions == {})
    baseline = asyncio.all_tasks()
    for _ in range(100):
        await cycle()
    await until(lambda: relay_hub.sessions == {})
    await until(lambda: sim.stats()["open_connections"] == [])
    groups = getattr(get_channel_layer(), "groups", {})
    assert not [name for name, members in groups.items() if members]
    await until(lambda: not (asyncio.all_tasks() - baseline))


async def test_dropped_upstream_recovers_and_backfill_resyncs_the_page(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    await live(communicator, sim)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="progressing")
    await receive_until(communicator, f'id="call-{call["id"]}"')
    # VoIPBIN goes away; the call ends while nobody is listening, so its event is lost…
    sim.set_refusal(503)
    sim.drop_connections()
    await receive_until(communicator, 'data-state="retrying"')
    sim.set_call_status(call["id"], "hangup")
    # …and comes back: the session reconnects and backfills over REST.
    sim.set_refusal(None)
    row = await receive_until(communicator, 'data-list="calls-ended"')
    assert f'id="call-{call["id"]}"' in row
    from dashboard.models import Call

    assert (await Call.objects.aget(pk=call["id"])).status == "hangup"
    await communicator.disconnect()


async def test_duplicate_and_stale_events_never_regress_a_row(sim, relay_hub, make_persona):
    from dashboard.models import Call

    manager = await make_persona("manager")
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    seen = ""  # the resync at connect, "Live", and the resync that ends the backfill
    while seen.count('id="calls-active"') < 2 or 'data-state="live"' not in seen:
        seen += await communicator.receive_from(timeout=5)
    await until(
        lambda: sim.stats()["open_connections"] and all(c["topics"] for c in sim.stats()["open_connections"])
    )
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    ringing = dict(sim.state.get("call", call["id"]))
    sim.set_call_status(call["id"], "hangup")
    await receive_until(communicator, 'data-list="calls-ended"')
    # A "ringing" from before the hangup arrives late (and twice, and once more exactly as first
    # sent): a new key each time it differs, but older than the row, so nothing changes or is pushed.
    created = ringing["tm_create"]  # the create event: VoIPBIN leaves tm_update out until an update
    assert "tm_update" not in ringing
    later = parse_time(created) + timedelta(microseconds=1)
    late = {**ringing, "tm_update": later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    for data in (late, late, ringing):
        stamp = data.get("tm_update") or created
        sim.broadcast_raw(json.dumps({"event_type": "call.status", "timestamp": stamp, "data": data}))
    assert await nothing_containing(communicator, call["id"], within=0.5)
    assert (await Call.objects.aget(pk=call["id"])).status == "hangup"
    await communicator.disconnect()


async def test_event_from_several_sessions_is_applied_and_rendered_once(
    sim, relay_hub, make_persona, monkeypatch
):
    """Three supervisors, three upstream sessions, one event: one DB write, one render, three rows shown."""
    import dashboard.relay.pipeline as relay

    applied, rendered = [], []
    real_apply, real_render = relay.apply_event, relay.render_update

    def counting_apply(event):
        applied.append(event.resource_id)
        return real_apply(event)

    def counting_render(change, shown):
        rendered.append(change.row.pk)
        return real_render(change, shown)

    monkeypatch.setattr(relay, "apply_event", counting_apply)
    monkeypatch.setattr(relay, "render_update", counting_render)
    users = [await make_persona(name) for name in ("manager", "admin")]
    tabs = [socket(user) for user in users] + [socket(users[0])]
    for tab in tabs:
        assert (await tab.connect())[0]
        await live(tab, sim)
    await until(lambda: len(sim.stats()["open_connections"]) == 2)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    for tab in tabs:
        await receive_until(tab, call["id"])
    assert applied.count(call["id"]) == 1
    assert rendered.count(call["id"]) == 1
    for tab in tabs:
        await tab.disconnect()


async def test_only_the_pages_and_audiences_open_here_are_rendered(sim, relay_hub, make_persona, monkeypatch):
    """A call event renders the supervisors' calls row while only supervisors' calls tabs are open;
    the agents' row too once an agent's calls tab opens; no other page kind (none is open)."""
    import dashboard.relay.pipeline as relay

    renders = {}
    real_render = relay.render_update

    def recording_render(change, shown):
        update = real_render(change, shown)
        renders[change.row.pk] = {kind: sorted(html) for kind, html in update.fragments.items()}
        return update

    monkeypatch.setattr(relay, "render_update", recording_render)
    manager = await make_persona("manager")
    supervisor_tab = socket(manager)
    assert (await supervisor_tab.connect())[0]
    await live(supervisor_tab, sim)
    first = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    await receive_until(supervisor_tab, first["id"])

    agent_tab = socket(await make_persona("agent1"))
    assert (await agent_tab.connect())[0]
    await receive_until(agent_tab, 'data-state="live"')
    await until(lambda: len(sim.stats()["open_connections"]) == 2)
    await until(lambda: all(c["topics"] for c in sim.stats()["open_connections"]))
    second = sim.create_call(
        customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing", owner_id=DEMO_AGENT1_ID
    )
    await receive_until(supervisor_tab, second["id"])
    assert "Hang up" not in await receive_until(agent_tab, second["id"])

    assert renders[first["id"]] == {"calls": ["supervisor"]}
    assert renders[second["id"]] == {"calls": ["agent", "supervisor"]}
    await supervisor_tab.disconnect()
    await agent_tab.disconnect()


async def test_one_users_sign_out_mid_apply_does_not_stall_another_users_session(
    sim, relay_hub, make_persona, monkeypatch
):
    """Both sessions wait on one shared apply; cancelling the first must not cancel the second."""
    import dashboard.relay.pipeline as relay

    real_apply = relay.apply_event

    def slow_apply(event):
        time.sleep(0.3)
        return real_apply(event)

    monkeypatch.setattr(relay, "apply_event", slow_apply)
    manager, admin = await make_persona("manager"), await make_persona("admin")
    leaving, staying = socket(manager), socket(admin)
    for tab in (leaving, staying):
        assert (await tab.connect())[0]
        await live(tab, sim)
    await until(lambda: len(sim.stats()["open_connections"]) == 2)
    first = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    await asyncio.sleep(0.1)  # both sessions are now inside the shared apply
    await end_user_session(manager.pk)
    await receive_until(staying, first["id"])
    second = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    await receive_until(staying, second["id"])
    assert relay_hub.sessions[admin.pk].upstream.state.value == "live"
    await staying.disconnect()


class RecordingSocket:
    """A stand-in browser socket for driving the hub directly."""

    page_kind = "calls"

    def __init__(self, user) -> None:
        self.user = user
        self.frames: list[str] = []

    def wants(self, topics) -> bool:
        return True

    def offer(self, html: str) -> None:
        self.frames.append(html)

    async def push(self, html: str) -> None:
        self.offer(html)

    async def resync(self) -> None:
        pass

    async def end(self, code: int = 4001) -> None:
        pass


async def test_cached_update_overtaken_by_a_newer_one_is_not_handed_out(sim, relay_hub, make_persona):
    """A's session sees ringing then hangup; B's sees them the other way round: B must end on hangup."""
    from dashboard.voipbin.events import normalize

    manager, admin = await make_persona("manager"), await make_persona("admin")
    a, b = RecordingSocket(manager), RecordingSocket(admin)
    for tab in (a, b):
        relay_hub.sessions[tab.user.pk] = relay.UserSession(user=tab.user, sockets={tab})
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    ringing = normalize({"type": "call_ringing", "data": dict(sim.state.get("call", call["id"]))})
    hangup = normalize({"type": "call_hangup", "data": dict(sim.set_call_status(call["id"], "hangup"))})
    await relay_hub.deliver(manager.pk, ringing)
    await relay_hub.deliver(manager.pk, hangup)
    await relay_hub.deliver(admin.pk, hangup)
    await relay_hub.deliver(admin.pk, ringing)  # late and stale
    assert 'data-phase="ringing"' in a.frames[0]
    assert 'data-phase="ended"' in a.frames[-1]
    assert len(b.frames) == 1
    assert 'data-phase="ended"' in b.frames[0]


async def test_signing_in_again_after_a_refused_token_revives_the_page(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    manager.voipbin_token = sim.issue_token("manager", lifetime=-1)
    await manager.asave()
    stale_tab = socket(manager)
    assert (await stale_tab.connect())[0]
    await receive_until(stale_tab, "sign in again")
    # The user signs in again (new token) while the old tab is still open.
    fresh = await make_persona("manager")
    fresh.token_rejected_at = None
    await fresh.asave()
    new_tab = socket(fresh)
    assert (await new_tab.connect())[0]
    await live(new_tab, sim)
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    await receive_until(new_tab, call["id"])
    await receive_until(stale_tab, call["id"])  # the old tab shares the revived session
    for tab in (stale_tab, new_tab):
        await tab.disconnect()
