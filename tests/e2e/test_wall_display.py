"""The team wall display on a TV, in real Chromium: it fills the screen, its figures read across a room,
it says which panel is on, and each queue's state is a word and an icon, in both colour schemes.

Sizes are the computed ones at 1920x1080 (a TV) and 1280x720 (a small TV or a 720p stick): key
figures at least 48 px and 32 px, labels at least 20 px at 1080p. The queues' states come from their
thresholds (set on /queues/) and callers the simulator puts in the queues; more queues are injected
as VoIPBIN would announce them, so the grid is checked with the most tiles it is made for (8).
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, SALES_QUEUE_ID, SUPPORT_QUEUE_ID
from tests.e2e.conftest import assert_accessible, assert_no_overflow, new_wall_link, screenshot
from tests.e2e.test_calls_page import sign_in
from tests.e2e.test_queues_wall import open_live_page, set_thresholds, waiting_caller

TV = {"width": 1920, "height": 1080}
SMALL_TV = {"width": 1280, "height": 720}
EXTRA_QUEUES = ("Billing", "Returns", "VIP", "Night shift", "Spanish", "Tech L2")  # 2 + 6 = 8 tiles
# What VoIPBIN's queue carries (the simulator's resources.queue_record): its fields tell the frame's kind.
QUEUE_FIELDS = {
    "customer_id": DEMO_CUSTOMER_ID,
    "routing_method": "random",
    "tag_ids": [],
    "wait_queuecall_ids": [],
    "service_queuecall_ids": [],
}

# Computed font sizes of what is shown now: the key figures, and the words that label them.
MEASURE = """() => {
  const shown = document.querySelector(".wall-panel.is-shown");
  const size = el => parseFloat(getComputedStyle(el).fontSize);
  const sizes = selector => [...shown.querySelectorAll(selector)]
    .map(el => ({text: el.textContent.trim(), px: size(el)}));
  return {
    figures: sizes(".wall-figure .value, .wall-stats dd, .wall-inbox-figures dd"),
    labels: sizes(".wall-figure .unit, .wall-stats dt, .wall-inbox-figures dt"),
    states: sizes(".wall-level"),
    main: document.querySelector("main").getBoundingClientRect().height / innerHeight,
    panel: shown.getBoundingClientRect().height / innerHeight,
    clipped: [...shown.querySelectorAll(".wall-queue")].filter(el => el.scrollHeight > el.clientHeight + 1)
      .map(el => el.querySelector("h3").textContent),
  };
}"""


def wall_link(page, stack, name: str, *, seconds: int, panels: tuple[str, ...] = ("Queues", "Inbox")) -> str:
    """Like conftest.new_wall_link, with the panels and the seconds per panel chosen."""
    page.goto(stack.web_url + "/walls/")
    page.get_by_label("Name").fill(name)
    for panel in ("Queues", "Inbox"):
        page.get_by_label(panel).set_checked(panel in panels)
    page.get_by_label("Seconds per panel").fill(str(seconds))
    page.get_by_role("button", name="Create link").click()
    return page.get_by_label("New wall display link").input_value()


def open_wall(browser, link: str, viewport: dict):
    context = browser.new_context(viewport=viewport)
    wall = context.new_page()
    wall.goto(link)
    connection = wall.locator("[data-wall-connection]")
    expect(connection).to_have_attribute("data-wall-connection", "open", timeout=10_000)
    return context, wall


def measure(wall, minimum: float, *, labels: float | None = None) -> dict:
    sizes = wall.evaluate(MEASURE)
    assert sizes["figures"], "no key figure on the panel shown"
    small = [f for f in sizes["figures"] if f["px"] < minimum]
    assert not small, f"key figures under {minimum} px: {small}"
    if labels is not None:
        tiny = [f for f in sizes["labels"] if f["px"] < labels]
        assert not tiny, f"labels under {labels} px: {tiny}"
    assert sizes["main"] >= 0.9, f"the main area is {sizes['main']:.0%} of the screen's height"
    assert sizes["panel"] >= 0.85, f"the panel shown is {sizes['panel']:.0%} of the screen's height"
    assert not sizes["clipped"], f"tiles cut off at the bottom: {sizes['clipped']}"
    return sizes


def accessible_in_both_schemes(wall, what: str) -> None:
    backgrounds = set()
    for scheme in ("dark", "light"):
        wall.emulate_media(color_scheme=scheme)
        backgrounds.add(wall.evaluate("getComputedStyle(document.body).backgroundColor"))
        assert_accessible(wall, f"{what}, {scheme}")
    assert len(backgrounds) == 2, "the wall has one colour scheme, not a light and a dark one"
    wall.emulate_media(color_scheme="dark")


def test_wall_fills_a_tv_and_reads_across_a_room(stack, page, browser):
    sign_in(page, stack, "admin")
    open_live_page(page, stack.web_url + "/queues/")
    set_thresholds(page, SALES_QUEUE_ID, warn_waiting=1, critical_waiting=2)
    set_thresholds(page, SUPPORT_QUEUE_ID, warn_waiting=1, critical_waiting=3)
    link = wall_link(page, stack, "Team TV", seconds=600)  # stays on its first panel, Queues

    context, wall = open_wall(browser, link, TV)
    try:
        queues = wall.locator("#wall-queues")
        expect(queues).to_have_attribute("data-count", "2")
        two = measure(wall, 48, labels=20)
        # Which panel is on, and how many there are: words and dots, not announced at every turn.
        indicator = wall.locator("[data-wall-indicator]")
        expect(indicator.locator(".wall-indicator-text")).to_have_text(re.compile(r"^Queues\s*·\s*1 of 2$"))
        expect(indicator).to_have_attribute("aria-live", "off")
        dots = indicator.locator(".wall-dots li")
        expect(dots).to_have_count(2)
        expect(dots.nth(0)).to_have_attribute("aria-current", "true")
        expect(dots.nth(1)).not_to_have_attribute("aria-current", re.compile(".*"))

        # Three callers: Sales goes critical (2 waiting), Support warning (1); the tiles follow live.
        sales = wall.locator(".wall-queue", has_text="Sales")
        support = wall.locator(".wall-queue", has_text="Support")
        expect(sales.locator(".wall-level")).to_have_text(re.compile(r"^✓\s*Normal$"))
        waiting_caller(stack, SALES_QUEUE_ID)
        waiting_caller(stack, SALES_QUEUE_ID)
        waiting_caller(stack, SUPPORT_QUEUE_ID)
        expect(sales.locator(".wall-figure .value")).to_have_text("2", timeout=5_000)
        expect(support.locator(".wall-figure .value")).to_have_text("1", timeout=5_000)
        expect(sales.locator(".wall-level")).to_have_text(re.compile(r"^✖\s*Critical$"))
        expect(sales).to_have_attribute("data-level", "critical")
        expect(sales.locator(".wall-reason")).to_contain_text("2 waiting (limit 2)")
        expect(support.locator(".wall-level")).to_have_text(re.compile(r"^⚠\s*Warning$"))
        expect(support).to_have_attribute("data-level", "warning")
        expect(sales.locator("[data-wait-since]")).to_have_text(re.compile(r"^\d+ s$"))

        # Six more queues, announced as VoIPBIN would: the grid takes all eight, live, and stays legible.
        for name in EXTRA_QUEUES:
            stack.sim(
                "POST",
                "/_sim/inject",
                json={"resource": "queue", "data": {**QUEUE_FIELDS, "id": str(uuid.uuid4()), "name": name}},
            )
        expect(queues).to_have_attribute("data-count", "8", timeout=5_000)
        expect(wall.locator(".wall-queue")).to_have_count(8)
        for name in EXTRA_QUEUES:
            expect(wall.locator(".wall-queue", has_text=name).locator(".wall-level")).to_have_text(
                re.compile(r"^✓\s*Normal$")
            )
        levels = wall.locator(".wall-queue").evaluate_all("tiles => tiles.map(t => t.dataset.level)")
        assert sorted(set(levels)) == ["critical", "normal", "warning"], levels
        eight = measure(wall, 48, labels=20)
        assert min(f["px"] for f in eight["figures"]) <= min(f["px"] for f in two["figures"])
        assert min(s["px"] for s in eight["states"]) >= 32, eight["states"]
        assert_no_overflow(wall)
        accessible_in_both_schemes(wall, "wall at 1920x1080")
        screenshot(wall, "wall-tv-1920")

        wall.set_viewport_size(SMALL_TV)
        expect(queues).to_have_attribute("data-count", "8")
        small = measure(wall, 32)
        assert min(f["px"] for f in small["figures"]) < min(f["px"] for f in eight["figures"])  # it scales
        assert_no_overflow(wall)
        accessible_in_both_schemes(wall, "wall at 1280x720")
        screenshot(wall, "wall-tv-1280")
    finally:
        context.close()


def test_an_inbox_only_wall_shows_its_figures_and_names_its_one_panel(stack, page, browser):
    sign_in(page, stack, "admin")
    link = wall_link(page, stack, "Inbox TV", seconds=600, panels=("Inbox",))
    context, wall = open_wall(browser, link, TV)
    try:
        indicator = wall.locator("[data-wall-indicator]")
        # One panel: named, with no "1 of 1" and no dots.
        expect(indicator.locator(".wall-indicator-text")).to_have_text("Inbox")
        expect(indicator.locator(".wall-dots")).to_have_count(0)
        expect(wall.locator(".wall-panel")).to_have_count(1)
        expect(wall.locator("#wall-queues")).to_have_count(0)
        waiting = wall.locator("[data-figure='inbox-waiting']")
        before = int(waiting.inner_text())
        stack.sms("+15557770199", "Is anyone there?")
        thread = wall.locator("#wall-inbox li", has_text="+15557770199")
        expect(thread).to_contain_text("Is anyone there?", timeout=5_000)
        expect(waiting).to_have_text(str(before + 1))
        expect(wall.locator("[data-figure='inbox-longest']")).to_have_text(re.compile(r"^\d+ (s|min)$"))
        measure(wall, 48, labels=20)
        assert_no_overflow(wall)
        accessible_in_both_schemes(wall, "inbox wall at 1920x1080")
        screenshot(wall, "wall-tv-inbox-1920")
        wall.set_viewport_size(SMALL_TV)
        measure(wall, 32)
        assert_no_overflow(wall)
        accessible_in_both_schemes(wall, "inbox wall at 1280x720")
    finally:
        context.close()


def test_the_panel_indicator_follows_the_rotation(stack, page, browser):
    sign_in(page, stack, "admin")
    context, wall = open_wall(browser, new_wall_link(page, stack, "Rotating TV"), TV)
    try:
        indicator = wall.locator("[data-wall-indicator]")
        text, dots = indicator.locator(".wall-indicator-text"), indicator.locator(".wall-dots li")
        expect(text).to_have_text(re.compile(r"^Queues\s*·\s*1 of 2$"))
        # The form's default is 15 s a panel: the inbox comes round, the indicator and its dots with it.
        expect(wall.locator('.wall-panel[data-panel="inbox"]')).to_be_visible(timeout=20_000)
        expect(text).to_have_text(re.compile(r"^Inbox\s*·\s*2 of 2$"))
        expect(dots.nth(1)).to_have_attribute("aria-current", "true")
        expect(dots.nth(0)).not_to_have_attribute("aria-current", re.compile(".*"))
        expect(wall.locator('.wall-panel[data-panel="queues"]')).to_be_hidden()
        measure(wall, 48, labels=20)
        expect(wall.locator('.wall-panel[data-panel="queues"]')).to_be_visible(timeout=20_000)
        expect(text).to_have_text(re.compile(r"^Queues\s*·\s*1 of 2$"))
        expect(dots.nth(0)).to_have_attribute("aria-current", "true")
    finally:
        context.close()
