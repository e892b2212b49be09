"""Gaps and silences as a supervisor meets them in Chromium: no ghost call, and no "Live" that lies."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import new_wall_link
from tests.e2e.test_calls_page import new_call, sign_in


def test_a_call_that_ended_while_voipbin_was_away_leaves_the_active_list(stack, page):
    sign_in(page, stack, "manager")
    call = new_call(stack, direction="incoming", status="progressing")
    expect(page.locator(f"#calls-active #call-{call['id']}")).to_be_visible(timeout=5_000)
    stack.sim("POST", "/_sim/refuse", json={"status": 503})  # VoIPBIN away…
    stack.sim("POST", "/_sim/drop")
    expect(page.locator("#upstream-state")).to_contain_text("Reconnecting", timeout=5_000)
    stack.sim("POST", "/_sim/delete", json={"resource": "call", "id": call["id"]})  # …and the call gone
    stack.sim("POST", "/_sim/refuse", json={"status": None})
    expect(page.locator("#upstream-state")).to_contain_text("VoIPBIN Live", timeout=10_000)
    expect(page.locator(f"#calls-active #call-{call['id']}")).to_have_count(0, timeout=5_000)
    ended = page.locator(f"#calls-ended #call-{call['id']}")
    expect(ended).to_contain_text("ended while disconnected")


def test_a_silent_voipbin_is_said_in_words_stops_the_clocks_and_comes_back_live(stack, page):
    sign_in(page, stack, "manager")
    call = new_call(stack, direction="incoming", status="progressing")
    timer = page.locator(f"#call-{call['id']} [data-duration-since]")
    expect(timer).to_have_text(re.compile(r"\d+:\d\d"), timeout=5_000)
    state = page.locator("#upstream-state")
    stack.sim("POST", "/_sim/stall", json={"enabled": True})
    try:
        # 4 s of silence, then said; the figures stand as of the last thing heard
        expect(state).to_contain_text(
            re.compile(r"VoIPBIN silent since \d\d:\d\d:\d\d: figures as of then"), timeout=8_000
        )
        expect(page.locator("html")).to_have_class(re.compile(r"\bstale\b"))
        frozen = timer.text_content()
        page.wait_for_timeout(2_500)
        assert timer.text_content() == frozen  # the talk clock stands still with the figures
        expect(state).not_to_contain_text("Live")
    finally:
        stack.sim("POST", "/_sim/stall", json={"enabled": False})
    expect(state).to_contain_text("VoIPBIN Live", timeout=15_000)
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bstale\b"))
    expect(timer).not_to_have_text(frozen, timeout=3_000)


def test_a_wall_says_voipbin_is_silent_instead_of_live_and_recovers(stack, page, browser):
    sign_in(page, stack, "admin")
    link = new_wall_link(page, stack, "Silence TV")
    wall_context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        wall = wall_context.new_page()
        wall.goto(link)
        connection = wall.locator("[data-wall-connection]")
        expect(connection).to_have_attribute("data-wall-connection", "open", timeout=10_000)
        stamp = wall.locator("#wall-updated")
        stack.sim("POST", "/_sim/stall", json={"enabled": True})
        try:
            expect(stamp).to_contain_text(re.compile(r"VoIPBIN silent since \d\d:\d\d:\d\d"), timeout=8_000)
            expect(connection).to_contain_text("Waiting for VoIPBIN")  # never "Live" beside it
            expect(connection).to_have_attribute("data-wall-connection", "stale")
            expect(wall.locator("html")).to_have_class(re.compile(r"\bstale\b"))
        finally:
            stack.sim("POST", "/_sim/stall", json={"enabled": False})
        expect(connection).to_contain_text("Live", timeout=15_000)
        expect(stamp).not_to_contain_text("silent")
    finally:
        wall_context.close()
