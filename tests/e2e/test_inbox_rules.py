"""Auto-replies in real Chromium: an admin writes a rule, tries it, and watches it answer an SMS live."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_calls_page import sign_in

SENDER = "+15557770001"


def relay_listening(stack) -> None:
    """The relay worker's account session holds its subscriptions (VoIPBIN never acknowledges them)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        connections = stack.sim("GET", "/_sim/stats").json()["open_connections"]
        if any(c["access_key"] and any(":message" in t for t in c["topics"]) for c in connections):
            return
        time.sleep(0.1)
    raise AssertionError("the relay worker's account session never subscribed to messages")


def test_admin_creates_a_rule_dry_runs_it_and_sees_the_auto_reply_live(stack, page):
    sign_in(page, stack, "admin")

    page.goto(stack.web_url + "/rules/new/")
    page.get_by_label("Name").fill("Opening hours")
    page.get_by_role("textbox", name="Keywords").fill("hours")
    page.get_by_label("Reply").fill("We are open 9 to 5, {sender}.")
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("main")).to_contain_text("Opening hours")

    page.goto(stack.web_url + "/rules/dry-run/")
    page.get_by_label("Sender").fill(SENDER)
    page.get_by_label("Text").fill("What are your hours?")
    page.get_by_role("button", name="Try the rules").click()
    result = page.locator(".dry-run-results")
    expect(result.locator("tr", has_text="Opening hours")).to_contain_text(f"We are open 9 to 5, {SENDER}.")
    expect(page.locator(".dry-run-summary")).to_contain_text("Nothing was sent")
    screenshot(page, "rules-dry-run")
    assert stack.sim("GET", "/_sim/sent").json()["result"] == []  # a dry run sends nothing

    page.goto(stack.web_url + "/messages/")
    expect(page.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open", timeout=10_000)
    relay_listening(stack)
    stack.sms(SENDER, "Your hours?")
    row = page.locator("[data-thread]", has_text=SENDER)
    expect(row).to_be_visible(timeout=10_000)  # showing the SMS, or already the auto-reply after it
    row.get_by_role("link").click()

    thread = page.locator("main")
    expect(thread).to_contain_text("Your hours?")
    reply = page.locator(".message-outbound", has_text=f"We are open 9 to 5, {SENDER}.")
    expect(reply).to_contain_text("auto-reply (rule Opening hours)", timeout=10_000)
    screenshot(page, "inbox-thread")
    sent = stack.sim("GET", "/_sim/sent").json()["result"]
    assert [item["body"]["text"] for item in sent] == [f"We are open 9 to 5, {SENDER}."]
