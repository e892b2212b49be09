"""Conversations, not call legs, in real Chromium against VoIPBIN's own model (the default dialect).

A caller is walked step by step through the simulator's own scenario code (``/_sim/journeys``):
the call rings, its flow answers, it joins a queue, VoIPBIN dials an agent on a second, outgoing
leg, the agent answers, someone hangs up. Every page must tell the same story, and a plain agent,
to whom VoIPBIN pushes nothing but their own legs, must still see their status, their queue and
the caller, through the customer's account feed, and nothing of other agents' calls.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from dashboard.simulator.accounts import DEMO_AGENT1_ID, DEMO_AGENT2_ID, DEMO_FLOW_ID, SUPPORT_QUEUE_ID
from tests.e2e.conftest import new_wall_link, screenshot
from tests.e2e.test_calls_page import sign_in
from tests.e2e.test_queues_wall import figure, open_live_page

CLOCK = re.compile(r"^\d+:\d\d$")


def journey(stack, queue_id: str = SUPPORT_QUEUE_ID) -> dict:
    return stack.sim("POST", "/_sim/journeys", json={"queue_id": queue_id}).json()


def step(stack, call_id: str, to: str, **fields: str) -> dict:
    return stack.sim("POST", f"/_sim/journeys/{call_id}/step", json={"to": to, **fields}).json()


def signed_in(browser, stack, username: str, path: str):
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    sign_in(page, stack, username)
    open_live_page(page, stack.web_url + path)
    return context, page


def test_a_full_conversation_reads_right_for_the_supervisor_and_the_agent(stack, page, browser):
    sign_in(page, stack, "manager")
    open_live_page(page, stack.web_url + "/calls/")
    agent_context, agent = signed_in(browser, stack, "agent2", "/queues/")  # Sam Chen serves Support
    try:
        answered_before = int(figure(agent, SUPPORT_QUEUE_ID, "answered").inner_text())
        caller = journey(stack)
        row = page.locator(f"#call-{caller['call_id']}")
        expect(row).to_have_attribute("data-phase", "ringing", timeout=5_000)
        expect(row.locator(".phase-label")).to_have_text("Ringing")

        step(stack, caller["call_id"], "flow")  # the IVR picks up: nobody talks yet
        expect(row).to_have_attribute("data-phase", "flow")
        expect(row.locator(".phase-label")).to_have_text("Speaking to the caller")
        expect(row.locator(".agent")).to_have_text("—")

        step(stack, caller["call_id"], "queue")
        expect(row).to_have_attribute("data-phase", "waiting")
        expect(row.locator(".phase-label")).to_have_text("Waiting in Support")
        expect(row.locator("[data-duration-since]").first).to_have_text(CLOCK)
        # The agent: VoIPBIN pushes them no queuecall; the account feed does, for their queue.
        expect(figure(agent, SUPPORT_QUEUE_ID, "waiting")).to_have_text("1", timeout=5_000)
        expect(agent.locator("#notices")).to_contain_text("Caller waiting in Support")

        step(stack, caller["call_id"], "offer", agent_id=DEMO_AGENT2_ID)
        expect(row).to_have_attribute("data-phase", "connecting")
        expect(row.locator(".phase-label")).to_have_text("Ringing Sam Chen")
        expect(row.locator("details.legs summary")).to_have_text("2 legs")

        step(stack, caller["call_id"], "answer")
        expect(row).to_have_attribute("data-phase", "talking")
        expect(row.locator(".phase-label")).to_have_text("Talking with Sam Chen")
        expect(row.locator(".agent")).to_have_text("Sam Chen")
        screenshot(page, "calls-conversation")
        agent.goto(stack.web_url + "/calls/")
        mine = agent.locator(f"#call-{caller['call_id']}")
        expect(mine.locator(".phase-label")).to_have_text("Talking with Sam Chen", timeout=5_000)
        expect(mine.get_by_role("button", name="Hang up")).to_have_count(0)
        expect(agent.locator("#calls-active tr.call")).to_have_count(1)

        page.goto(stack.web_url + "/agents/")
        sam = page.locator(f"#agent-{DEMO_AGENT2_ID}")
        expect(sam.locator(".call")).to_contain_text(caller["call"]["source"]["target"])
        expect(sam.locator(".call")).to_contain_text("talking")
        expect(sam).to_have_attribute("data-status", "busy")

        step(stack, caller["call_id"], "hangup", side="agent")  # either leg ends both
        expect(sam.locator(".call")).to_contain_text("Wrap-up", timeout=5_000)
        page.goto(stack.web_url + "/calls/")
        expect(row.locator(".phase-label")).to_have_text("Sam Chen wrapping up")
        expect(mine).to_have_attribute("data-phase", "wrap_up", timeout=5_000)

        # Sam is done: VoIPBIN's answer shows on their page at once, and the conversation ends.
        agent.goto(stack.web_url + "/agents/")
        own = agent.locator(f"#agent-{DEMO_AGENT2_ID}")
        own.get_by_label("Status for Sam Chen").select_option("available")
        own.get_by_role("button", name="Set").click()
        expect(own).to_have_attribute("data-status", "available")
        ended = page.locator(f"#calls-ended #call-{caller['call_id']}")
        expect(ended.locator(".phase-label")).to_have_text("Completed", timeout=5_000)
        expect(ended.locator(".duration")).to_contain_text("Talked")
        page.goto(stack.web_url + "/queues/")
        expect(figure(page, SUPPORT_QUEUE_ID, "answered")).to_have_text(str(answered_before + 1))
    finally:
        agent_context.close()


def test_a_caller_who_gives_up_is_abandoned_on_every_page_and_the_wall(stack, page, browser):
    sign_in(page, stack, "admin")
    link = new_wall_link(page, stack, "Conversations TV")
    wall_context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        wall = wall_context.new_page()
        wall.goto(link)
        expect(wall.locator("[data-wall-connection]")).to_contain_text("Live", timeout=10_000)
        support = wall.locator(".wall-queue", has_text="Support")
        abandoned = support.locator(".wall-stats div", has_text="Abandoned").locator("dd")
        before = int(abandoned.inner_text())
        open_live_page(page, stack.web_url + "/calls/")

        caller = journey(stack)
        step(stack, caller["call_id"], "flow")
        step(stack, caller["call_id"], "queue")
        expect(support.locator(".wall-figure .value")).not_to_have_text("0", timeout=5_000)
        step(stack, caller["call_id"], "abandon")
        ended = page.locator(f"#calls-ended #call-{caller['call_id']}")
        expect(ended.locator(".phase-label")).to_have_text("Abandoned in queue", timeout=5_000)
        expect(ended.locator(".duration")).to_contain_text("waited")
        expect(ended.locator(".duration")).not_to_contain_text("Talked")
        expect(abandoned).to_have_text(str(before + 1), timeout=5_000)

        page.goto(stack.web_url + "/flows/")
        flow = page.locator(f"#activeflow-{caller['activeflow_id']}")
        expect(flow).to_contain_text("Ended")
        expect(page.locator(f"#flow-group-{DEMO_FLOW_ID}-title")).to_contain_text("Acme Support inbound")
    finally:
        wall_context.close()


def test_a_plain_agent_sees_their_own_status_live_and_nothing_of_other_agents_calls(stack, page, browser):
    agent_context, agent = signed_in(browser, stack, "agent2", "/agents/")
    try:
        own = agent.locator(f"#agent-{DEMO_AGENT2_ID}")
        expect(own).to_have_attribute("data-status", "available", timeout=5_000)
        # Set by a supervisor: VoIPBIN tells the agent nothing; the account feed does.
        sign_in(page, stack, "manager")
        open_live_page(page, stack.web_url + "/agents/")
        sam = page.locator(f"#agent-{DEMO_AGENT2_ID}")
        sam.get_by_label("Status for Sam Chen").select_option("away")
        sam.get_by_role("button", name="Set").click()
        expect(own).to_have_attribute("data-status", "away", timeout=5_000)
        sam.get_by_label("Status for Sam Chen").select_option("available")
        sam.get_by_role("button", name="Set").click()
        expect(own).to_have_attribute("data-status", "available", timeout=5_000)

        agent.goto(stack.web_url + "/calls/")
        expect(agent.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open")
        jamie = journey(stack)  # agent1 serves Support too
        step(stack, jamie["call_id"], "flow")
        step(stack, jamie["call_id"], "queue")
        step(stack, jamie["call_id"], "offer", agent_id=DEMO_AGENT1_ID)
        step(stack, jamie["call_id"], "answer")
        manager_row = page.locator(f"#call-{jamie['call_id']}")
        page.goto(stack.web_url + "/calls/")
        expect(manager_row.locator(".phase-label")).to_have_text("Talking with Jamie Rivera", timeout=5_000)
        expect(agent.locator(f"#call-{jamie['call_id']}")).to_have_count(0)
        agent.reload()
        expect(agent.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open")
        expect(agent.locator(f"#call-{jamie['call_id']}")).to_have_count(0)
        step(stack, jamie["call_id"], "hangup", side="caller")
    finally:
        agent_context.close()
