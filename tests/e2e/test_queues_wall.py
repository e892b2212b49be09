"""Issue 6 in real Chromium: the queues page, the agents board and the wall display, live from VoIPBIN.

The simulator has no control that moves a queuecall on, so these tests move one the way VoIPBIN
would tell us: ``/_sim/inject`` merges ``{"id", "status"}`` into the queuecall and publishes it.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER,
    SALES_QUEUE_ID,
    SUPPORT_QUEUE_ID,
)
from tests.e2e.conftest import screenshot
from tests.e2e.test_calls_page import new_call, sign_in

WALL_VIEWPORT = {"width": 1280, "height": 720}

# A WebSocket from the page: did it open, and with which code did it close?
PROBE_SOCKET = """url => new Promise(resolve => {
  const socket = new WebSocket(url);
  socket.onopen = () => { resolve({opened: true}); socket.close(); };
  socket.onclose = event => resolve({opened: false, code: event.code});
})"""


def waiting_caller(stack, queue_id: str) -> tuple[dict, dict]:
    """An inbound call waiting in the queue, and its queuecall (as VoIPBIN lists it)."""
    call = new_call(stack, direction="incoming", status="progressing", queue_id=queue_id)
    queuecalls = stack.sim(
        "GET", "/v1.0/queuecalls", params={"accesskey": DEMO_ACCESS_KEY, "page_size": 100}
    ).json()["result"]
    (queuecall,) = [q for q in queuecalls if q["reference_id"] == call["id"]]
    assert queuecall["status"] == "waiting"
    return call, queuecall


def move_queuecall(stack, queuecall_id: str, status: str, **fields: str) -> None:
    stack.sim(
        "POST",
        "/_sim/inject",
        json={"resource": "queuecall", "data": {"id": queuecall_id, "status": status, **fields}},
    )


def account_sessions(stack) -> int:
    """Access-key sockets subscribed to the account's messages (the relay worker's, a wall feed's)."""
    connections = stack.sim("GET", "/_sim/stats").json()["open_connections"]
    return sum(1 for c in connections if c["access_key"] and any(":message" in t for t in c["topics"]))


def wait_for_account_sessions(stack, count: int) -> None:
    """VoIPBIN never acknowledges a subscription: poll the simulator until it holds them."""
    deadline = time.monotonic() + 10
    while account_sessions(stack) < count:
        assert time.monotonic() < deadline, f"fewer than {count} account sessions subscribed"
        time.sleep(0.1)


def open_live_page(page, url: str) -> None:
    """Open a live page and wait for its socket's first frame: the resync that re-renders its lists.

    Until then a click may land on an element the resync is about to replace (a thresholds form
    opened, then rendered closed again).
    """
    page.add_init_script(
        "window.__frames = 0; document.addEventListener('htmx:wsAfterMessage', () => window.__frames++)"
    )
    page.goto(url)
    expect(page.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open", timeout=10_000)
    page.wait_for_function("window.__frames > 0")


def figure(page, queue_id: str, name: str):
    return page.locator(f"#queue-{queue_id} [data-figure='{name}']")


def set_thresholds(page, queue_id: str, **values: int) -> None:
    """Through the card's own thresholds form (htmx: the form and the card come back re-rendered)."""
    form = page.locator(f"#queue-{queue_id}-thresholds")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    labels = {"warn_waiting": "Warn at waiting", "critical_waiting": "Critical at waiting"}
    for name, value in values.items():
        form.get_by_label(labels[name], exact=True).fill(str(value))
    form.get_by_role("button", name="Save thresholds").click()
    expect(page.locator(f"#queue-{queue_id}-thresholds")).to_contain_text("Thresholds saved.")


def test_supervisor_queue_card_follows_a_caller_live(stack, page):
    sign_in(page, stack, "manager")
    open_live_page(page, stack.web_url + "/queues/")
    card = page.locator(f"#queue-{SALES_QUEUE_ID}")
    expect(card.locator("h2")).to_have_text("Sales")
    state = card.locator(".queue-state")
    # The state is words and an icon, not a colour alone.
    expect(state.locator(".label")).to_be_visible()
    expect(state.locator(".label")).to_have_text("Normal")
    expect(state.locator(".icon")).to_have_text("✓")
    expect(figure(page, SALES_QUEUE_ID, "waiting")).to_have_text("0")
    expect(figure(page, SALES_QUEUE_ID, "longest")).to_have_text("—")

    _, answered = waiting_caller(stack, SALES_QUEUE_ID)
    expect(figure(page, SALES_QUEUE_ID, "waiting")).to_have_text("1", timeout=5_000)
    longest = figure(page, SALES_QUEUE_ID, "longest").locator("[data-duration-since]")
    expect(longest).to_have_text(re.compile(r"^\d+:\d\d$"))
    first = longest.inner_text()
    expect(longest).not_to_have_text(first, timeout=3_000)  # the wait ticks between updates
    expect(state.locator(".label")).to_have_text("Normal")  # no threshold set yet

    set_thresholds(page, SALES_QUEUE_ID, warn_waiting=1, critical_waiting=3)
    expect(state.locator(".label")).to_have_text("Warning")
    expect(state.locator(".icon")).to_have_text("⚠")
    expect(state.locator(".reason")).to_contain_text("1 waiting (limit 1)")
    expect(card).to_have_attribute("data-level", "warning")
    screenshot(page, "queues-supervisor")

    # An agent takes the call: waiting drops, answered counts, the card is back to normal.
    move_queuecall(stack, answered["id"], "service", service_agent_id=DEMO_AGENT1_ID)
    expect(figure(page, SALES_QUEUE_ID, "waiting")).to_have_text("0", timeout=5_000)
    expect(figure(page, SALES_QUEUE_ID, "answered")).to_have_text("1")
    expect(figure(page, SALES_QUEUE_ID, "longest")).to_have_text("—")
    expect(state.locator(".label")).to_have_text("Normal")
    expect(state.locator(".icon")).to_have_text("✓")
    expect(figure(page, SALES_QUEUE_ID, "service-level")).to_have_text("100 %")

    # A second caller gives up while waiting.
    abandoned_call, abandoned = waiting_caller(stack, SALES_QUEUE_ID)
    expect(figure(page, SALES_QUEUE_ID, "waiting")).to_have_text("1", timeout=5_000)
    expect(state.locator(".label")).to_have_text("Warning")
    stack.sim(
        "POST",
        f"/_sim/calls/{abandoned_call['id']}/status",
        json={"status": "hangup", "hangup_by": "remote", "hangup_reason": "cancel"},
    )
    move_queuecall(stack, abandoned["id"], "abandoned")
    expect(figure(page, SALES_QUEUE_ID, "waiting")).to_have_text("0", timeout=5_000)
    expect(figure(page, SALES_QUEUE_ID, "abandoned")).to_have_text("1")
    expect(figure(page, SALES_QUEUE_ID, "service-level")).to_have_text("50 %")
    # Half the callers answered in time is below the default critical level (60 %).
    expect(state.locator(".label")).to_have_text("Critical")
    expect(state.locator(".icon")).to_have_text("✖")
    expect(state.locator(".reason")).to_contain_text("service level 50 % (below 60 %)")

    page.reload()  # the first paint from state agrees with what was streamed, thresholds kept
    expect(figure(page, SALES_QUEUE_ID, "answered")).to_have_text("1")
    expect(figure(page, SALES_QUEUE_ID, "abandoned")).to_have_text("1")
    expect(state.locator(".label")).to_have_text("Critical")
    expect(page.locator(f"#q-{SALES_QUEUE_ID}-warn_waiting")).to_have_value("1")


def test_agent_sets_own_status_and_sees_voipbins_event(stack, page, browser):
    sign_in(page, stack, "agent1")
    open_live_page(page, stack.web_url + "/agents/")
    row = page.locator(f"#agent-{DEMO_AGENT1_ID}")
    expect(row).to_contain_text("Jamie Rivera", timeout=5_000)
    expect(row.locator(".status")).to_have_text(re.compile(r"Available"))

    # Only the agent's own row and its own controls: VoIPBIN shows agents only themselves.
    expect(page.locator("tr.agent")).to_have_count(1)
    expect(page.locator(f"#agent-{DEMO_AGENT2_ID}")).to_have_count(0)
    expect(page.locator("form.agent-status")).to_have_count(1)
    expect(page.locator(f"#agent-{DEMO_AGENT2_ID}-status")).to_have_count(0)

    row.get_by_label("Status for Jamie Rivera").select_option("away")
    row.get_by_role("button", name="Set").click()
    expect(page.locator("#notices")).to_contain_text("VoIPBIN set your status to Away.")
    # VoIPBIN's answer shows at once: it pushes a plain agent no event of its own status change.
    expect(row).to_have_attribute("data-status", "away", timeout=5_000)
    expect(row.locator(".status")).to_have_text(re.compile(r"Away"))
    expect(row.get_by_label("Status for Jamie Rivera")).to_have_value("away")
    screenshot(page, "agents-agent")

    # A request for another agent's status is refused even without the controls.
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    refused = page.request.post(
        f"{stack.web_url}/agents/{DEMO_AGENT2_ID}/status/",
        form={"status": "away"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert refused.status == 403
    assert "only change your own status" in refused.text()

    # A supervisor sees the change on the whole board, with controls for everyone.
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        supervisor = context.new_page()
        sign_in(supervisor, stack, "manager")
        open_live_page(supervisor, stack.web_url + "/agents/")
        expect(supervisor.locator(f"#agent-{DEMO_AGENT1_ID}")).to_have_attribute("data-status", "away")
        expect(supervisor.locator(f"#agent-{DEMO_AGENT2_ID}-status")).to_be_visible()
        expect(supervisor.locator("tr.agent")).to_have_count(len(DEMO_CUSTOMER.agents))
        screenshot(supervisor, "agents-supervisor")
    finally:
        context.close()


def test_wall_display_lives_on_its_link_alone_until_revoked(stack, page, browser):
    sign_in(page, stack, "admin")
    open_live_page(page, stack.web_url + "/queues/")
    set_thresholds(page, SUPPORT_QUEUE_ID, warn_waiting=1, critical_waiting=3)

    page.goto(stack.web_url + "/walls/")
    page.get_by_label("Name").fill("Floor TV")
    expect(page.get_by_label("Queues")).to_be_checked()
    expect(page.get_by_label("Inbox")).to_be_checked()
    page.get_by_label("Seconds per panel").fill("5")
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_label("New wall display link").input_value()
    token = re.fullmatch(rf"{re.escape(stack.web_url)}/wall/([A-Za-z0-9_-]+)/", link).group(1)
    page.goto(stack.web_url + "/walls/")  # shown once: not on the next visit
    expect(page.get_by_label("New wall display link")).to_have_count(0)
    expect(page.locator("tr", has_text="Floor TV")).to_contain_text("Active")
    expect(page.locator("tr", has_text="Floor TV")).to_contain_text("5 s")
    screenshot(page, "walls")

    wall_context = browser.new_context(viewport=WALL_VIEWPORT)
    closes: list[int] = []
    wall_context.expose_function("wallSocketClosed", lambda code: closes.append(code))
    wall_context.add_init_script(
        "document.addEventListener('htmx:wsClose', e => window.wallSocketClosed(e.detail.event.code))"
    )
    probe_context = browser.new_context()
    try:
        sessions = account_sessions(stack)
        wall = wall_context.new_page()
        wall.goto(link)
        expect(wall.get_by_role("heading", level=1)).to_have_text("Floor TV")
        assert wall_context.cookies() == []
        expect(wall.locator("[data-wall-connection]")).to_contain_text("Live", timeout=10_000)
        expect(wall.locator("[data-wall-connection]")).to_have_attribute("data-wall-connection", "open")
        assert wall_context.cookies() == []
        # The first wall of an account holds the web process's account feed (no Redis here, so the
        # relay worker's changes do not reach this process), unless an agent's pages hold it
        # already: the relay worker's session and the feed, from now on.
        wait_for_account_sessions(stack, max(sessions, 2))

        # Callers and an SMS reach the wall live, with nobody signed in.
        sales = wall.locator(".wall-queue", has_text="Sales")
        support = wall.locator(".wall-queue", has_text="Support")
        sales_before = int(sales.locator(".wall-figure .value").text_content())
        support_before = int(support.locator(".wall-figure .value").text_content())
        waiting_caller(stack, SUPPORT_QUEUE_ID)
        waiting_caller(stack, SALES_QUEUE_ID)
        expect(support.locator(".wall-figure .value")).to_have_text(str(support_before + 1), timeout=5_000)
        expect(sales.locator(".wall-figure .value")).to_have_text(str(sales_before + 1), timeout=5_000)
        # The state in words and an icon, not colour only (Support: warning from 1 waiting).
        expect(support.locator(".wall-level")).to_have_text(re.compile(r"⚠\s*Warning"))
        expect(support).to_have_attribute("data-level", "warning")
        expect(support.locator("[data-wait-since]")).to_have_text(re.compile(r"^\d+ s$"))
        stack.sms("+15557770123", "Is my order on its way?")
        thread = wall.locator("#wall-inbox li", has_text="+15557770123")
        expect(thread).to_contain_text("Is my order on its way?", timeout=5_000)

        # Two panels, 5 s each: the shown one changes (one at a time), and comes back.
        panels = wall.locator(".wall-panel")
        expect(panels).to_have_count(2)
        expect(wall.locator(".wall-panel.is-shown")).to_have_count(1)
        first = wall.locator(".wall-panel.is-shown").get_attribute("data-panel")
        other = "inbox" if first == "queues" else "queues"
        expect(wall.locator(f'.wall-panel[data-panel="{other}"]')).to_be_visible(timeout=7_000)
        expect(wall.locator(f'.wall-panel[data-panel="{first}"]')).to_be_hidden()
        screenshot(wall, f"wall-{other}")
        expect(wall.locator(f'.wall-panel[data-panel="{first}"]')).to_be_visible(timeout=7_000)
        expect(wall.locator(f'.wall-panel[data-panel="{other}"]')).to_be_hidden()
        screenshot(wall, f"wall-{first}")
        assert wall_context.cookies() == []

        # The token opens the wall and its socket, nothing else.
        probe = probe_context.new_page()
        probe.goto(f"{stack.web_url}/calls/?token={token}")
        expect(probe).to_have_url(re.compile(r"/login/"))
        expect(probe.get_by_role("button", name="Sign in")).to_be_visible()
        ws_url = stack.web_url.replace("http://", "ws://")
        assert probe.evaluate(PROBE_SOCKET, f"{ws_url}/ws/wall/{token}/") == {"opened": True}
        live_calls = probe.evaluate(PROBE_SOCKET, f"{ws_url}/ws/live/calls/?token={token}")
        assert live_calls["opened"] is False, live_calls

        # Revoked on /walls/: the open wall's socket closes (4410) and the page says so by itself.
        assert closes == []
        page.goto(stack.web_url + "/walls/")
        row = page.locator("tr", has_text="Floor TV")
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Revoke").click()
        expect(row).to_contain_text("Revoked")
        expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        expect(wall.get_by_role("heading", level=1)).to_contain_text("not valid", timeout=10_000)
        assert 4410 in closes, closes
        assert wall_context.cookies() == []
        assert probe.evaluate(PROBE_SOCKET, f"{ws_url}/ws/wall/{token}/")["opened"] is False
    finally:
        probe_context.close()
        wall_context.close()
