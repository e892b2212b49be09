"""What a live update must not take from the user, and the layout at desktop, phone and TV sizes.

Live rows are morphed in place (idiomorph): the tests focus a control, open a timeline or pick a
value, make VoIPBIN change that very row, and check that the page kept the user's place.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dashboard.simulator.accounts import (
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    SALES_QUEUE_ID,
    SUPPORT_QUEUE_ID,
)
from tests.e2e.conftest import assert_accessible, assert_no_overflow, screenshot
from tests.e2e.test_calls_page import new_call, sign_in
from tests.e2e.test_queues_wall import open_live_page

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}

# Layout shifts Chromium reports (those right after input excluded, as CLS does), each with whether
# anything outside the notices' overlay moved.
WATCH_SHIFTS = """
window.__shifts = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) {
    if (e.hadRecentInput) return;
    var outside = e.sources.filter(function (s) {
      var n = s.node && (s.node.nodeType === 1 ? s.node : s.node.parentElement);
      return !(n && n.closest(".overlay"));
    });
    window.__shifts.push({ value: e.value, outside: outside.map(function (s) {
      var n = s.node && (s.node.nodeType === 1 ? s.node : s.node.parentElement);
      return n ? n.tagName + "#" + n.id + "." + n.className : "?";
    }) });
  });
}).observe({ type: "layout-shift", buffered: true });
"""


def test_unsaved_status_choice_and_focus_survive_a_live_update_of_the_row(stack, page):
    sign_in(page, stack, "manager")
    page.goto(stack.web_url + "/agents/")
    select = page.locator(f"#agent-{DEMO_AGENT2_ID}-status")
    expect(select).to_be_visible(timeout=5_000)
    current = select.input_value()
    choice = next(
        v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v != current
    )
    select.select_option(choice)  # picked, not saved
    select.focus()

    stack.sim(
        "POST",
        "/_sim/inject",
        json={"resource": "agent", "data": {"id": DEMO_AGENT2_ID, "name": "Renamed Agent"}},
    )
    row = page.locator(f"#agent-{DEMO_AGENT2_ID}")
    expect(row).to_contain_text("Renamed Agent", timeout=5_000)
    assert select.input_value() == choice  # the unsaved choice is still there
    assert page.evaluate("document.activeElement.id") == f"agent-{DEMO_AGENT2_ID}-status"

    # Saved, the choice becomes VoIPBIN's and the next update keeps it.
    row.get_by_role("button", name="Set").click()
    expect(row).to_have_attribute("data-status", choice, timeout=5_000)
    stack.sim(
        "POST",
        "/_sim/inject",
        json={"resource": "agent", "data": {"id": DEMO_AGENT2_ID, "name": "Agent Two"}},
    )
    expect(row).to_contain_text("Agent Two", timeout=5_000)
    assert select.input_value() == choice


def test_focus_and_an_open_timeline_survive_live_updates_of_the_call(stack, page):
    sign_in(page, stack, "manager")
    journey = stack.sim("POST", "/_sim/journeys", json={"queue_id": SALES_QUEUE_ID}).json()
    call_id = journey["call_id"]
    row = page.locator(f"#call-{call_id}")
    expect(row).to_be_visible(timeout=5_000)
    stack.sim("POST", f"/_sim/journeys/{call_id}/step", json={"to": "flow"})
    expect(row).to_have_attribute("data-phase", "flow", timeout=5_000)

    details = row.locator("details.flow-details")
    details.locator("summary").click()
    expect(row.locator(".flow-timeline .timeline")).to_be_visible(timeout=5_000)  # loaded on opening
    hang_up = row.get_by_role("button", name="Hang up")
    hang_up.focus()

    stack.sim("POST", f"/_sim/journeys/{call_id}/step", json={"to": "queue"})
    expect(row).to_have_attribute("data-phase", "waiting", timeout=5_000)
    stack.sim("POST", f"/_sim/journeys/{call_id}/step", json={"to": "offer", "agent_id": DEMO_AGENT1_ID})
    expect(row).to_have_attribute("data-phase", "connecting", timeout=5_000)
    expect(details).to_have_attribute("open", "")
    expect(row.locator(".flow-timeline .timeline")).to_be_visible()
    assert page.evaluate("document.activeElement.textContent") == "Hang up"
    assert page.evaluate("document.activeElement.closest('tr').id") == f"call-{call_id}"


def test_notices_float_over_the_page_without_moving_it(stack, page):
    page.add_init_script(WATCH_SHIFTS)
    sign_in(page, stack, "agent2")  # serves Support: told of each caller joining it
    open_live_page(page, stack.web_url + "/calls/")
    heading = page.get_by_role("heading", name="Calls", level=1)
    before = heading.bounding_box()
    loading = page.evaluate("window.__shifts.splice(0)")
    assert sum(shift["value"] for shift in loading) < 0.01, loading  # the status line keeps its place too
    for _ in range(5):  # five callers join Support
        caller = stack.sim("POST", "/_sim/journeys", json={"queue_id": SUPPORT_QUEUE_ID}).json()
        for to in ("flow", "queue"):
            stack.sim("POST", f"/_sim/journeys/{caller['call_id']}/step", json={"to": to})
    notices = page.locator("#notices > .notice")
    expect(notices).to_have_count(3, timeout=10_000)  # a few at once, the newest first
    page.wait_for_timeout(500)
    assert heading.bounding_box() == before
    shifts = page.evaluate("window.__shifts")
    assert not [shift for shift in shifts if shift["outside"]], shifts  # the page itself never moved
    assert page.locator("#notices").get_attribute("aria-live") == "polite"
    screenshot(page, "notices-overlay")
    for _ in range(3):
        notices.first.locator("[data-dismiss-notice]").click()
    expect(notices).to_have_count(0)


@pytest.mark.parametrize(
    "path", ["/calls/", "/messages/", "/rules/", "/queues/", "/agents/", "/flows/", "/walls/", "/"]
)
def test_phone_width_has_no_sideways_scrolling_and_a_menu(stack, browser, path):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, stack, "admin")
        page.goto(stack.web_url + path)
        menu = page.get_by_role("button", name="Menu")
        expect(menu).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        assert_no_overflow(page)
        menu.click()
        expect(nav).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "true")
        assert_no_overflow(page)
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
        if path in ("/calls/", "/agents/"):
            screenshot(page, f"phone{path.rstrip('/').replace('/', '-')}")
    finally:
        context.close()


def assert_within_width(locator, width: int) -> None:
    box = locator.bounding_box()
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= width, box


def test_phone_rows_keep_their_actions_in_reach(stack, browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, stack, "manager")
        call = new_call(stack, direction="incoming", status="progressing")
        hang_up = page.locator(f"#call-{call['id']}").get_by_role("button", name="Hang up")
        expect(hang_up).to_be_visible(timeout=5_000)
        assert_within_width(hang_up, PHONE["width"])
        assert_no_overflow(page)
        page.goto(stack.web_url + "/agents/")
        set_status = page.locator(f"#agent-{DEMO_AGENT2_ID}").get_by_role("button", name="Set")
        expect(set_status).to_be_visible()
        assert_within_width(set_status, PHONE["width"])
        assert_no_overflow(page)
    finally:
        context.close()


def test_the_header_fits_on_one_line_at_1280(stack, browser):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        sign_in(page, stack, "admin")  # the longest menu: every page
        tops = page.evaluate(
            """() => Array.from(document.querySelectorAll('.topbar .brand, .topbar nav a, .signout button'))
                .map(el => el.getBoundingClientRect()).map(box => Math.round(box.top + box.height / 2))"""
        )
        assert len(tops) >= 10  # brand, eight pages, sign out
        assert max(tops) - min(tops) <= 2, tops
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        assert_no_overflow(page)
        screenshot(page, "desktop-1280-calls")
    finally:
        context.close()


def test_skip_link_leads_to_the_content(stack, page):
    sign_in(page, stack, "manager")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


PAGES = [
    "/calls/",
    "/messages/",
    "/rules/",
    "/rules/new/",
    "/rules/dry-run/",
    "/rules/replay/",
    "/rules/decisions/",
    "/queues/",
    "/agents/",
    "/flows/",
    "/walls/",
    "/",
]


def test_every_page_is_axe_clean(stack, page):
    page.goto(stack.web_url + "/login/")
    assert_accessible(page, "the sign-in page")
    sign_in(page, stack, "admin")
    new_call(stack, direction="incoming", status="progressing", queue_id=SALES_QUEUE_ID)
    stack.sms("+15557770042", "Hello?")
    for path in PAGES:
        response = page.goto(stack.web_url + path)
        assert response.ok, path
        page.wait_for_timeout(300)  # live state arrived
        assert_accessible(page, path)
    page.goto(stack.web_url + "/messages/")
    page.locator("[data-thread] a").first.click()
    expect(page.get_by_role("heading", name="Reply")).to_be_visible()
    assert_accessible(page, "a thread")


def test_phone_pages_are_axe_clean(stack, browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, stack, "admin")
        for path in ("/calls/", "/queues/", "/agents/", "/messages/"):
            page.goto(stack.web_url + path)
            page.wait_for_timeout(300)
            assert_accessible(page, f"{path} at 390 px")
            page.get_by_role("button", name="Menu").click()
            assert_accessible(page, f"{path} at 390 px, menu open")
    finally:
        context.close()
