"""The status page in real Chromium: live state and event counts moving as VoIPBIN pushes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from tests.e2e.conftest import screenshot


def test_event_counts_move_live_in_the_browser(stack, page):
    page.goto(stack.web_url + "/")
    expect(page.locator("#status-panel .state")).to_contain_text("Live", timeout=10_000)
    expect(page.locator("[data-socket-state]")).to_contain_text("Page live")
    before = int(page.locator('[data-counter="events"]').inner_text())
    for _ in range(3):
        stack.sim("POST", "/_sim/calls", json={"customer_id": DEMO_CUSTOMER_ID})
    stack.sim(
        "POST", "/_sim/sms", json={"source": "+15557770001", "destination": DEMO_SMS_NUMBER, "text": "hi"}
    )
    expect(page.locator('[data-counter="events"]')).to_have_text(re.compile(r"\d+"), timeout=5_000)
    page.wait_for_function(
        "n => parseInt(document.querySelector('[data-counter=\"events\"]').textContent) >= n", arg=before + 4
    )
    expect(page.locator("table.by-type")).to_contain_text("message.received")
    expect(page.locator("table.by-type")).to_contain_text("call.status")
    screenshot(page, "status")


def test_upstream_drop_shows_reconnect_and_recovers(stack, page):
    page.goto(stack.web_url + "/")
    expect(page.locator("#status-panel .state")).to_contain_text("Live", timeout=10_000)
    stack.sim("POST", "/_sim/refuse", json={"status": 503})
    stack.sim("POST", "/_sim/drop")
    expect(page.locator("#status-panel .state")).to_contain_text("Reconnecting", timeout=5_000)
    expect(page.locator("#status-panel .reason")).to_contain_text("503")
    stack.sim("POST", "/_sim/refuse", json={"status": None})
    expect(page.locator("#status-panel .state")).to_contain_text("Live", timeout=10_000)
