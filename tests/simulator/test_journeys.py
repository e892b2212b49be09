"""One caller walked step by step through the scenario's own transitions (``/_sim/journeys``),
and the agent leg VoIPBIN dials for a queue: its fields, and how either leg's hangup ends both."""

from __future__ import annotations

import httpx
import pytest

from dashboard.simulator.accounts import (
    AGENT_IDS,
    DEMO_ACCESS_KEY,
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER_ID,
    OTHER_CUSTOMER_ID,
    OTHER_HELPDESK_NUMBER,
    OTHER_QUEUE_ID,
    SALES_QUEUE_ID,
    SUPPORT_QUEUE_ID,
)
from tests.simulator.helpers import ZERO_ID, control, until

CALLER = "+12025550177"


async def walk(sim, *steps: str | dict, queue_id: str = SALES_QUEUE_ID) -> list[dict]:
    """Start a journey, then take each step (a name, or a step body); every answer, in order."""
    views = [await control(sim, "journeys", {"queue_id": queue_id, "source": CALLER})]
    for step in steps:
        body = {"to": step} if isinstance(step, str) else step
        views.append(await control(sim, f"journeys/{views[0]['call_id']}/step", body))
    return views


async def test_a_journey_walks_through_flow_queue_agent_leg_and_hangup(sim):
    offer = {"to": "offer", "agent_id": DEMO_AGENT1_ID}
    started, answered, queued, offered, talking, ended = await walk(
        sim, "flow", "queue", offer, "answer", {"to": "hangup", "side": "agent"}
    )
    call_id = started["call_id"]
    assert (started["stage"], started["call"]["status"], started["call"]["direction"]) == (
        "flow",
        "ringing",
        "incoming",
    )
    assert started["call"]["source"] == {"type": "tel", "target": CALLER}
    assert started["activeflow"]["id"] == started["activeflow_id"] == started["call"]["activeflow_id"]
    assert started["activeflow"]["current_action"]["type"] == "answer"
    assert started["queuecall"] is started["agent_call"] is None
    assert (answered["call"]["status"], answered["activeflow"]["current_action"]["type"]) == (
        "progressing",
        "talk",
    )
    assert (queued["stage"], queued["queuecall"]["status"]) == ("waiting", "waiting")
    assert queued["activeflow"]["current_action"]["type"] == "play"  # the queue's hold music
    assert queued["activeflow"]["executed_actions"][-1]["type"] == "queue_join"

    leg = offered["agent_call"]
    assert offered["stage"] == "connecting"
    assert (leg["direction"], leg["status"], leg["owner_type"], leg["owner_id"]) == (
        "outgoing",
        "ringing",
        "agent",
        DEMO_AGENT1_ID,
    )
    assert (leg["master_call_id"], leg["source"]) == (call_id, offered["call"]["source"])
    assert leg["groupcall_id"] not in ("", ZERO_ID)
    assert leg["destination"] == {"type": "extension", "target": "1001", "target_name": "Jamie Rivera"}
    assert offered["call"]["chained_call_ids"] == [leg["id"]]
    assert "owner_id" not in offered["call"]
    assert "owner_type" not in offered["call"]
    assert offered["queuecall"]["status"] == "connecting"
    assert offered["queuecall"]["service_agent_id"] == DEMO_AGENT1_ID
    assert offered["activeflow"]["current_action"]["type"] == "confbridge_join"

    assert talking["stage"] == "service"
    assert (talking["agent_call"]["status"], talking["queuecall"]["status"]) == ("progressing", "service")
    assert talking["agent_call"]["tm_progressing"]
    assert talking["call"]["status"] == "progressing"
    assert "owner_id" not in talking["call"]

    assert ended["stage"] == "ended"
    assert (ended["agent_call"]["hangup_by"], ended["agent_call"]["hangup_reason"]) == ("remote", "normal")
    assert (ended["call"]["status"], ended["call"]["hangup_by"], ended["call"]["hangup_reason"]) == (
        "hangup",
        "local",
        "normal",
    )
    assert ended["queuecall"]["status"] == "done"
    assert (ended["activeflow"]["status"], ended["activeflow"]["current_action"]["type"]) == (
        "ended",
        "hangup",
    )


async def test_the_agents_status_follows_the_leg_and_stays_busy_after_a_stepped_call(sim):
    views = await walk(sim, "flow", "queue")
    call_id = views[0]["call_id"]
    agent = AGENT_IDS["agent5"]  # serves Sales and Support
    statuses = []
    for body in ({"to": "offer", "agent_id": agent}, {"to": "answer"}, {"to": "hangup"}):
        await control(sim, f"journeys/{call_id}/step", body)
        statuses.append(sim.state.get("agent", agent)["status"])
    sim.advance(600)  # no wrap-up timer: VoIPBIN never makes an agent available again
    assert statuses == ["ringing", "busy", "busy"]
    assert sim.state.get("agent", agent)["status"] == "busy"


@pytest.mark.parametrize("leg", ["caller", "agent"])
async def test_a_rest_hangup_of_either_leg_ends_both(sim, leg):
    offer = {"to": "offer", "agent_id": DEMO_AGENT2_ID}
    *_, talking = await walk(sim, "flow", "queue", offer, "answer", queue_id=SUPPORT_QUEUE_ID)
    target = talking["call"] if leg == "caller" else talking["agent_call"]
    other = talking["agent_call"] if leg == "caller" else talking["call"]
    async with httpx.AsyncClient(base_url=sim.url, params={"accesskey": DEMO_ACCESS_KEY}) as http:
        response = await http.post(f"/v1.0/calls/{target['id']}/hangup")
    assert response.status_code == 200
    assert response.json()["status"] == "terminating"
    await until(lambda: sim.state.get("call", other["id"])["status"] == "hangup")
    assert sim.state.get("call", target["id"])["hangup_by"] == "local"
    assert sim.state.get("call", other["id"])["hangup_reason"] == "normal"
    assert sim.state.get("queuecall", talking["queuecall"]["id"])["status"] == "done"


async def test_the_status_control_hanging_up_the_agent_leg_ends_the_callers_call_at_once(sim):
    *_, talking = await walk(sim, "flow", "queue", {"to": "offer", "agent_id": DEMO_AGENT1_ID}, "answer")
    leg = talking["agent_call"]
    await control(sim, f"calls/{leg['id']}/status", {"status": "hangup", "hangup_by": "remote"})
    call = sim.state.get("call", talking["call_id"])  # the scenario is paused: no advance needed
    assert (call["status"], call["hangup_by"], call["hangup_reason"]) == ("hangup", "local", "normal")


async def test_a_caller_giving_up_while_the_agent_rings_cancels_the_leg(sim):
    *_, abandoned = await walk(sim, "flow", "queue", {"to": "offer", "agent_id": DEMO_AGENT1_ID}, "abandon")
    assert (abandoned["call"]["hangup_by"], abandoned["call"]["hangup_reason"]) == ("remote", "cancel")
    leg = abandoned["agent_call"]
    assert (leg["status"], leg["hangup_by"], leg["hangup_reason"]) == ("hangup", "local", "cancel")
    assert abandoned["queuecall"]["status"] == "abandoned"
    assert abandoned["stage"] == "ended"


async def test_a_paused_scenario_never_moves_a_stepped_journey_between_steps(sim):
    """Random callers come and go during the advances; the stepped one waits for its next step."""
    views = await walk(sim, "flow", "queue", queue_id=SUPPORT_QUEUE_ID)
    call_id = views[0]["call_id"]
    sim.advance(1800)  # agents are free, patience would have run out
    assert sim.scenario.stepped_journey(call_id).stage == "waiting"
    assert sim.state.get("call", call_id)["status"] == "progressing"
    random_calls = [c for c in sim.state.all("call") if c["id"] != call_id and c["direction"] == "incoming"]
    assert len(random_calls) > 10
    agent = next(a["id"] for a in sim.state.agents_serving(SUPPORT_QUEUE_ID) if a["status"] == "available")
    await control(sim, f"journeys/{call_id}/step", {"to": "offer", "agent_id": agent})
    sim.advance(600)  # the agent would have answered long ago
    assert sim.scenario.stepped_journey(call_id).stage == "connecting"
    await control(sim, f"journeys/{call_id}/step", {"to": "answer"})
    sim.advance(600)  # the talk would have ended
    assert sim.scenario.stepped_journey(call_id).stage == "service"


async def test_a_journey_for_another_customer_rings_its_number(sim):
    journey = sim.start_journey(customer_id=OTHER_CUSTOMER_ID, queue_id=OTHER_QUEUE_ID)
    assert journey["call"]["customer_id"] == OTHER_CUSTOMER_ID
    assert journey["call"]["destination"]["target"] == OTHER_HELPDESK_NUMBER


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("journeys", {}, 400),
        ("journeys", {"queue_id": 7}, 400),
        ("journeys", {"queue_id": SALES_QUEUE_ID, "source": 5}, 400),
        ("journeys", {"queue_id": "6f0c5a8e-0000-4000-8000-000000000000"}, 404),
        ("journeys", {"queue_id": SALES_QUEUE_ID, "customer_id": OTHER_CUSTOMER_ID}, 404),
        ("journeys/6f0c5a8e-0000-4000-8000-000000000000/step", {"to": "flow"}, 404),
    ],
)
async def test_bad_journey_requests_answer_with_the_envelope(sim, path, body, status):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/{path}", json=body)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"status", "reason", "message", "request_id"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"to": "teleport"}, 400),
        ({"to": "answer"}, 400),  # nobody was offered the caller yet
        ({"to": "offer"}, 400),  # no agent named
        ({"to": "offer", "agent_id": DEMO_AGENT2_ID}, 400),  # serves Support, not Sales
        ({"to": "offer", "agent_id": AGENT_IDS["agent3"]}, 400),  # away: VoIPBIN offers to available agents
        ({"to": "offer", "agent_id": AGENT_IDS["globex-agent"]}, 404),  # another customer's
        ({"to": "hangup", "side": "both"}, 400),
        ({"to": "offer", "agent_id": DEMO_AGENT1_ID, "side": 1}, 400),
    ],
)
async def test_a_step_the_journey_cannot_take_now_is_refused(sim, body, status):
    views = await walk(sim, "flow", "queue")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/journeys/{views[0]['call_id']}/step", json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"]
    assert sim.scenario.stepped_journey(views[0]["call_id"]).stage == "waiting"


async def test_an_ended_journey_takes_no_more_steps(sim):
    views = await walk(sim, "flow", "queue", "abandon")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/journeys/{views[0]['call_id']}/step", json={"to": "queue"})
    assert response.status_code == 400
    assert sim.state.get("call", views[0]["call_id"])["customer_id"] == DEMO_CUSTOMER_ID
