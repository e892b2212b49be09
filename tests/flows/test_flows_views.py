"""The flows page and a call's timeline: who may see them, counts by action, ended flows leaving.

Who may see what: the manager (a VoIPBIN manager) sees every flow and call of Acme; agent1 and
agent2 are Acme agents who see only their own calls and have no flows page; the outsider is
Globex's admin and sees nothing of Acme's.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.flows.pages import (
    FLOW_ENDED_LINGER,
    FLOWS_PAGE,
    current_actions,
    flow_groups,
    render_call_flow_action,
)
from dashboard.live import apply_event
from dashboard.models import Activeflow, Call
from dashboard.simulator.accounts import (
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER_ID,
    DEMO_FLOW_ID,
    OTHER_CUSTOMER_ID,
    OTHER_FLOW_ID,
)
from dashboard.voipbin.events import normalize
from tests.flows.helpers import T0, activeflow, apply, legacy, new_id, person, remember_call, when

pytestmark = pytest.mark.django_db

SALES_FLOW_ID = "5a1e5f10-0000-4000-8000-000000000001"


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(person(username))
    return client


def seconds_ago(seconds: float) -> float:
    """The helpers' time (seconds after T0) of ``seconds`` before now."""
    return (timezone.now() - T0).total_seconds() - seconds


def run(kind: str, seconds: float, *, flow_id: str = DEMO_FLOW_ID, customer_id: str = DEMO_CUSTOMER_ID, **kw):
    flow = activeflow(new_id(), kind, seconds, flow_id=flow_id, customer_id=customer_id, **kw)
    assert apply(legacy(flow)) is not None
    return flow


def counts_in(html: str, flow_id: str) -> dict[str, int]:
    """The counts by current action that the group of ``flow_id`` shows."""
    section = re.search(rf'<section id="flow-group-{flow_id}".*?</section>', html, re.S)
    assert section is not None, f"no group for {flow_id}"
    counts = re.findall(
        r'<li data-action="([a-z_]+)">.*?<strong class="num">(\d+)</strong>', section.group(0), re.S
    )
    return {action: int(n) for action, n in counts}


def test_flows_page_is_for_supervisors_only(client):
    assert client_for("manager").get("/flows/").status_code == 200
    assert client_for("agent1").get("/flows/").status_code == 403
    response = client.get("/flows/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_running_flows_are_grouped_by_flow_and_counted_by_current_action():
    now = seconds_ago(5)
    for kind in ("talk", "talk", "queue_join"):
        run(kind, now)
    run("play", now, flow_id=SALES_FLOW_ID)
    globex = run("talk", now, flow_id=OTHER_FLOW_ID, customer_id=OTHER_CUSTOMER_ID)

    html = client_for("manager").get("/flows/").content.decode()
    assert counts_in(html, DEMO_FLOW_ID) == {"talk": 2, "queue_join": 1}
    assert counts_in(html, SALES_FLOW_ID) == {"play": 1}
    assert "Speaking to the caller" in html
    assert "Waiting in queue" in html
    assert "3 running" in html
    assert OTHER_FLOW_ID not in html
    assert globex["id"] not in html
    assert f"/ws/live/flows/?topics=customer_id%3A{DEMO_CUSTOMER_ID}%3Aactiveflow%3A%2A" in html


def test_ended_flows_stay_greyed_for_the_linger_then_drop_off():
    linger = FLOW_ENDED_LINGER.total_seconds()
    running = run("talk", 90)
    ended = run("hangup", 100, status="ended")

    (group,) = flow_groups(customer_id=DEMO_CUSTOMER_ID, now=when(100 + linger - 20))
    assert [flow.pk for flow in group.flows] == [running["id"], ended["id"]]  # running first
    assert [flow.pk for flow in group.running] == [running["id"]]
    assert [(action.type, n) for action, n in group.counts] == [("talk", 1)]  # an ended flow counts no more
    assert group.flows[1].drop_in == 20  # the page lets it go in 20 s

    assert flow_groups(customer_id=DEMO_CUSTOMER_ID, now=when(100 + linger + 1))[0].flows == [group.flows[0]]


def test_first_paint_and_resync_leave_out_flows_ended_before_the_linger():
    long_gone = run("hangup", seconds_ago(FLOW_ENDED_LINGER.total_seconds() + 5), status="ended")
    just_ended = run("hangup", seconds_ago(5), status="ended")
    manager = person("manager")
    for html in (client_for("manager").get("/flows/").content.decode(), FLOWS_PAGE.render_lists(manager)):
        assert f'id="activeflow-{just_ended["id"]}"' in html
        assert f'id="activeflow-{long_gone["id"]}"' not in html
    assert 'id="flow-groups" class="flow-groups" hx-swap-oob="morph"' in FLOWS_PAGE.render_lists(manager)


def test_a_pushed_ended_flow_updates_its_groups_counts_and_shows_greyed():
    call_id = new_id()
    run("talk", seconds_ago(20))
    mine = run("talk", seconds_ago(20), call_id=call_id)
    change = apply(legacy(activeflow(mine["id"], "hangup", seconds_ago(1), call_id=call_id, status="ended")))
    assert change is not None
    fragments = FLOWS_PAGE.render_change(change)
    assert fragments["agent"] == ""  # agents have no flows page
    html = fragments["supervisor"]
    assert 'hx-swap-oob="morph"' in html
    assert counts_in(html, DEMO_FLOW_ID) == {"talk": 1}
    row = re.search(rf'<tr id="activeflow-{mine["id"]}".*?</tr>', html, re.S)
    assert row is not None
    assert 'class="flow-ended"' in row.group(0)
    assert "data-drop-in=" in row.group(0)
    assert "Ended" in row.group(0)


def test_the_last_flow_of_a_group_gone_pushes_an_empty_hidden_group():
    flow = run("talk", 1)  # long ago: ending it now leaves nothing to show
    change = apply(legacy(activeflow(flow["id"], "hangup", 2, status="ended")))
    assert change is not None
    html = FLOWS_PAGE.render_change(change)["supervisor"]
    assert re.search(rf'<section id="flow-group-{DEMO_FLOW_ID}"[^>]* hidden>', html)


# --- a call's timeline ----------------------------------------------------------------------------


def flow_of(call_id: str, *, owner_id: str | None) -> str:
    flow_id = new_id()
    remember_call(call_id, owner_id=owner_id, activeflow_id=flow_id)
    apply(legacy(activeflow(flow_id, "answer", 1, call_id=call_id)))
    apply(legacy(activeflow(flow_id, "queue_join", 3, call_id=call_id, executed=("answer", "talk"))))
    return flow_id


def test_an_agent_opens_the_timeline_of_its_own_call():
    call_id = new_id()
    flow_of(call_id, owner_id=DEMO_AGENT1_ID)
    response = client_for("agent1").get(f"/calls/{call_id}/flow/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html  # without htmx: a page of its own
    current = re.search(
        r'<li data-action="([a-z_]+)" class="current" aria-current="step">(.*?)</li>', html, re.S
    )
    assert current is not None
    assert current.group(1) == "queue_join"
    assert "now" in current.group(2)
    assert html.count('aria-current="step"') == 1
    steps = re.search(r'<ol class="timeline".*?</ol>', html, re.S)
    assert steps is not None
    order = [
        steps.group(0).index(text)
        for text in ("Answering", "Speaking to the caller", "time unknown", "Waiting in queue")
    ]
    assert order == sorted(order)


def test_the_timeline_is_a_fragment_for_htmx():
    call_id = new_id()
    flow_of(call_id, owner_id=None)
    response = client_for("manager").get(f"/calls/{call_id}/flow/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.startswith(f'<div id="flow-timeline-{call_id}" class="flow-timeline">')


@pytest.mark.parametrize("username", ["agent2", "globex-admin"])
def test_others_may_not_open_a_calls_timeline(username):
    call_id = new_id()
    flow_of(call_id, owner_id=DEMO_AGENT1_ID)
    assert client_for(username).get(f"/calls/{call_id}/flow/").status_code == 404


def test_a_call_without_a_flow_says_so():
    call_id = new_id()
    remember_call(call_id, owner_id=DEMO_AGENT2_ID)
    response = client_for("agent2").get(f"/calls/{call_id}/flow/")
    assert response.status_code == 200
    assert "No flow has run for this call yet." in response.content.decode()


# --- the calls page's current action --------------------------------------------------------------


def test_current_actions_take_one_query_whatever_the_number_of_calls(django_assert_num_queries):
    calls = [new_id() for _ in range(5)]
    flows = {call_id: flow_of(call_id, owner_id=None) for call_id in calls}
    # A flow heard of from the tutorial's fields alone (no reference_id), before its call:
    early_call, early_flow = new_id(), new_id()
    apply(
        {
            "event_type": "activeflow.updated",
            "timestamp": when(2).isoformat(),
            "topic": f"customer_id:{DEMO_CUSTOMER_ID}:activeflow:{early_flow}",
            "data": {
                "id": early_flow,
                "flow_id": DEMO_FLOW_ID,
                "current_action": {"id": new_id(), "type": "play"},
            },
        }
    )
    remember_call(early_call, activeflow_id=early_flow)
    rows = [*Call.objects.filter(pk__in=[*calls, early_call]), Call(pk=new_id(), data={})]
    with django_assert_num_queries(1):
        found = current_actions(rows)
    assert {call_id: row.pk for call_id, row in found.items()} == {**flows, early_call: early_flow}
    assert found[early_call].current_action_type == "play"


def test_the_pushed_current_action_swaps_in_by_the_calls_id():
    call_id = new_id()
    flow_id = flow_of(call_id, owner_id=None)
    change = apply(legacy(activeflow(flow_id, "talk", 5, call_id=call_id, executed=("answer", "queue_join"))))
    assert change is not None
    html = render_call_flow_action(change)
    action = re.search(
        rf'<span id="flow-action-{call_id}"[^>]*hx-swap-oob="morph"[^>]*>(.*?)</span>\s*<div', html, re.S
    )
    assert action is not None
    assert "Speaking to the caller" in action.group(1)
    assert f'<div id="flow-timeline-{call_id}" class="flow-timeline" hx-swap-oob="morph">' in html

    ended = apply(legacy(activeflow(flow_id, "hangup", 6, call_id=call_id, status="ended")))
    assert ended is not None
    assert "Flow ended" in render_call_flow_action(ended)


def test_a_flow_that_is_not_a_calls_pushes_nothing_to_the_calls_page():
    data = {**activeflow(new_id(), "message_send", 2), "reference_type": "message"}
    change = apply(legacy(data))
    assert change is not None
    assert Activeflow.objects.get(pk=data["id"]).reference_type == "message"
    assert render_call_flow_action(change) == ""


def test_flows_page_topics_are_the_customers_activeflows_and_none_for_agents():
    assert FLOWS_PAGE.topics(person("manager")) == [f"customer_id:{DEMO_CUSTOMER_ID}:activeflow:*"]
    assert FLOWS_PAGE.topics(person("agent1")) == []
    assert timedelta(seconds=30) <= FLOW_ENDED_LINGER <= timedelta(minutes=5)


def test_a_group_is_named_by_its_flow_once_voipbin_listed_it():
    run("talk", seconds_ago(5))
    html = client_for("manager").get("/flows/").content.decode()
    assert f'<code title="{DEMO_FLOW_ID}">' in html  # not listed yet: its id
    flow = {"id": DEMO_FLOW_ID, "customer_id": DEMO_CUSTOMER_ID, "name": "Acme inbound", "tm_update": None}
    assert apply_event(normalize({"type": "flow_updated", "data": flow})) is not None
    html = client_for("manager").get("/flows/").content.decode()
    assert "Acme inbound" in html
    assert f'<code title="{DEMO_FLOW_ID}">' not in html
