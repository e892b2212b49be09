"""Flows in real Chromium: a call's current action changes live, its timeline opens, the flows page counts.

Needs the flows wiring outside ``dashboard/flows/`` (see tests/flows/test_flows_live.py).
"""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_FLOW_ID
from dashboard.simulator.resources import activeflow_record, flow_action
from tests.e2e.conftest import screenshot
from tests.e2e.test_calls_page import new_call, sign_in


def start_flow(stack, call_id: str) -> str:
    flow_id = str(uuid.uuid4())
    record = activeflow_record(
        activeflow_id=flow_id, customer_id=DEMO_CUSTOMER_ID, flow_id=DEMO_FLOW_ID, call_id=call_id
    )
    stack.sim("POST", "/_sim/inject", json={"resource": "activeflow", "data": record})  # at the start
    move(stack, flow_id, "answer", executed=[])  # its first action at once, as the scenario's flows
    return flow_id


def move(stack, flow_id: str, kind: str, *, executed: list[str], status: str = "running") -> None:
    data = {
        "id": flow_id,
        "status": status,
        "current_action": flow_action(DEMO_FLOW_ID, kind),
        "executed_actions": [flow_action(DEMO_FLOW_ID, done) for done in executed],
    }
    stack.sim("POST", "/_sim/inject", json={"resource": "activeflow", "data": data})


def test_a_flows_current_action_changes_live_on_the_calls_page(stack, page):
    sign_in(page, stack, "manager")
    call = new_call(stack, direction="incoming", status="progressing")
    row = page.locator(f"#call-{call['id']}")
    expect(row).to_be_visible(timeout=5_000)
    flow_id = start_flow(stack, call["id"])
    action = page.locator(f"#flow-action-{call['id']}")
    expect(action).to_contain_text("Answering", timeout=5_000)
    move(stack, flow_id, "talk", executed=["answer"])
    expect(action).to_contain_text("Speaking to the caller")

    row.locator("summary").click()  # the timeline opens in the row
    timeline = page.locator(f"#flow-timeline-{call['id']}")
    expect(timeline.locator('[aria-current="step"]')).to_contain_text("Speaking to the caller")
    expect(timeline.locator('[aria-current="step"]')).to_contain_text("now")
    move(stack, flow_id, "queue_join", executed=["answer", "talk"])
    expect(action).to_contain_text("Waiting in queue")
    expect(timeline.locator('[aria-current="step"]')).to_contain_text("Waiting in queue")
    expect(timeline.locator("li")).to_have_count(3)
    screenshot(page, "calls-flow-timeline")


def test_the_flows_page_counts_running_flows_by_action(stack, page):
    sign_in(page, stack, "manager")
    page.goto(stack.web_url + "/flows/")
    expect(page.locator("#upstream-state")).to_contain_text("Live", timeout=10_000)
    first, second = (new_call(stack, direction="incoming", status="progressing") for _ in range(2))
    flows = [start_flow(stack, first["id"]), start_flow(stack, second["id"])]
    group = page.locator(f"#flow-group-{DEMO_FLOW_ID}")
    expect(group.locator('.flow-counts li[data-action="answer"]')).to_contain_text("2", timeout=5_000)
    move(stack, flows[0], "queue_join", executed=["answer"])
    expect(group.locator('.flow-counts li[data-action="queue_join"]')).to_contain_text("1")
    expect(group.locator('.flow-counts li[data-action="answer"]')).to_contain_text("1")
    move(stack, flows[1], "hangup", executed=["answer"], status="ended")
    expect(page.locator(f"#activeflow-{flows[1]}")).to_contain_text("Ended")
    expect(group.locator('.flow-counts li[data-action="answer"]')).to_have_count(0)
    screenshot(page, "flows-supervisor")
