"""The page acknowledges what it reads, so a busy page keeps receiving beyond the unread window."""

from __future__ import annotations

from playwright.sync_api import expect

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
from dashboard.sockets import MAX_UNACKED
from tests.e2e.test_calls_page import sign_in


def test_a_page_that_reads_keeps_receiving_past_the_unread_window(stack, page):
    sign_in(page, stack, "manager")
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    page.reload()  # so the listener sees the page's socket from its start
    expect(page.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open", timeout=10_000)
    calls = []
    for _ in range(MAX_UNACKED + 50):  # one call, one frame: wait for each, so none are coalesced
        seen = len(frames)
        calls.append(
            stack.sim(
                "POST", "/_sim/calls", json={"customer_id": DEMO_CUSTOMER_ID, "status": "ringing"}
            ).json()
        )
        for _ in range(500):
            if len(frames) > seen:
                break
            page.wait_for_timeout(10)  # lets Playwright deliver the socket's events
    expect(page.locator(f"#call-{calls[-1]['id']}")).to_be_visible(timeout=20_000)
    expect(page.locator("#calls-active tr[id^='call-']")).to_have_count(len(calls), timeout=10_000)
    assert len(frames) > MAX_UNACKED  # more frames than the window: acknowledgements moved it on


def test_a_closed_socket_is_tried_again_within_four_seconds_however_many_tries_failed(stack, page):
    """The page's reconnect policy (socket-ack.js) over htmx's, whose waits grow to 64 s: a tab whose
    first tries fell while the server restarted would otherwise wait a minute."""
    sign_in(page, stack, "manager")
    delays = page.evaluate(
        "[0, 1, 2, 3, 6, 20].map(n => Array.from({length: 200}, () => htmx.config.wsReconnectDelay(n)))"
    )
    assert max(delays[0]) <= 1000  # the first try comes within a second, as htmx's
    assert all(0 <= delay <= 4000 for tries in delays for delay in tries)
    assert max(delays[-1]) > 2000  # still jittered over the whole cap, not all at once
