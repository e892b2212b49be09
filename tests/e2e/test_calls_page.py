"""The calls page in real Chromium: sign in with VoIPBIN, watch calls live, hang one up."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from dashboard.simulator.accounts import DEMO_AGENT1_ID, DEMO_CUSTOMER_ID, DEMO_PASSWORD
from tests.e2e.conftest import screenshot


def sign_in(page, stack, username: str) -> None:
    page.goto(stack.web_url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(stack.web_url + "/calls/")
    expect(page.locator("#upstream-state")).to_contain_text("Live", timeout=10_000)


def new_call(stack, **fields) -> dict:
    return stack.sim("POST", "/_sim/calls", json={"customer_id": DEMO_CUSTOMER_ID, **fields}).json()


def test_supervisor_sees_a_call_appear_and_hangs_it_up(stack, page):
    sign_in(page, stack, "manager")
    call = new_call(stack, direction="incoming", status="ringing")
    row = page.locator(f"#call-{call['id']}")
    expect(row).to_contain_text("Ringing", timeout=5_000)
    expect(page.locator("#calls-active")).to_contain_text(call["source"]["target"])
    stack.sim("POST", f"/_sim/calls/{call['id']}/status", json={"status": "progressing"})
    expect(row).to_contain_text("In the flow")  # its flow answered: nobody talks yet
    expect(row.locator("[data-duration-since]")).to_have_text(re.compile(r"\d+:\d\d"))
    screenshot(page, "calls-supervisor")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Hang up").click()
    expect(page.locator("#notices")).to_contain_text("Hang-up requested")
    ended = page.locator(f"#calls-ended #call-{call['id']}")
    expect(ended).to_contain_text("Ended in the flow", timeout=5_000)
    expect(ended).to_contain_text("normal")
    expect(page.locator(f"#calls-active #call-{call['id']}")).to_have_count(0)


def test_agent_sees_only_own_calls(stack, page):
    sign_in(page, stack, "agent1")
    others = new_call(stack, direction="incoming", status="ringing")
    mine = new_call(stack, direction="incoming", status="progressing", owner_id=DEMO_AGENT1_ID)
    expect(page.locator(f"#call-{mine['id']}")).to_contain_text("Talking with Jamie Rivera", timeout=5_000)
    expect(page.locator(f"#call-{others['id']}")).to_have_count(0)
    expect(page.get_by_role("button", name="Hang up")).to_have_count(0)
    page.reload()  # first paint from state shows the same
    expect(page.locator(f"#call-{mine['id']}")).to_be_visible()
    expect(page.locator(f"#call-{others['id']}")).to_have_count(0)
    screenshot(page, "calls-agent")


def test_phone_layout_and_filters(stack, page):
    sign_in(page, stack, "manager")
    incoming = new_call(stack, direction="incoming", status="ringing")
    outgoing = new_call(stack, direction="outgoing", status="dialing")
    page.goto(stack.web_url + "/calls/?direction=incoming")
    expect(page.locator(f"#call-{incoming['id']}")).to_be_visible()
    expect(page.locator(f"#call-{outgoing['id']}")).to_be_hidden()
    late = new_call(stack, direction="outgoing", status="dialing")  # arrives live: hidden by the filter
    expect(page.locator(f"#call-{late['id']}")).to_be_attached(timeout=5_000)
    expect(page.locator(f"#call-{late['id']}")).to_be_hidden()
    page.set_viewport_size({"width": 390, "height": 800})
    expect(page.locator(f"#call-{incoming['id']}")).to_be_visible()
    screenshot(page, "calls-phone")
