"""The seeded scenario engine, run in virtual time without a server."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dashboard.simulator.accounts import (
    CUSTOMERS,
    DEMO_AGENT1_ID,
    DEMO_CUSTOMER_ID,
    OTHER_CUSTOMER_ID,
    SALES_QUEUE_ID,
    SUPPORT_QUEUE_ID,
)
from dashboard.simulator.events import Change
from dashboard.simulator.scenario import Rates, Scenario
from dashboard.simulator.state import State
from tests.simulator.helpers import START_ACTION_ID, ZERO_ID

HOUR = 3600.0
QUIET_BUT_CALLS = Rates(sms_per_minute=0, breaks_per_hour=0)


def run(seed: int, *advances: float, rates: Rates | None = None) -> tuple[list[Change], State, Scenario]:
    state = State()
    changes: list[Change] = []
    state.listeners.append(changes.append)
    scenario = Scenario(state, seed=seed, rates=rates)
    for seconds in advances:
        scenario.advance(seconds)
    return changes, state, scenario


def timeless(change: Change) -> tuple[str, str, dict[str, Any]]:
    """A change without its wall-clock stamps, which are the only thing a seed does not fix."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("tm_")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return change.resource, change.event, strip(dict(change.data))


def test_the_same_seed_and_advances_give_the_same_events():
    first, _, _ = run(7, 900)
    second, _, _ = run(7, 300, 0, 600)
    assert len(first) > 50
    assert [timeless(c) for c in first] == [timeless(c) for c in second]


def test_another_seed_gives_other_events():
    first, _, _ = run(7, 900)
    other, _, _ = run(8, 900)
    assert [timeless(c) for c in first] != [timeless(c) for c in other]


def test_an_hour_has_answered_and_abandoned_calls_queue_joins_sms_and_agent_moves():
    changes, state, _ = run(3, HOUR)
    events = Counter(change.event for change in changes)
    assert events["call_progressing"] > 10
    assert events["queuecall_waiting"] > 10
    assert events["queuecall_serviced"] > 5
    assert events["queuecall_done"] > 5
    assert events["queuecall_abandoned"] > 2
    assert events["agent_status_updated"] > 10
    customer_calls = [c for c in changes if c.event == "call_created" and c.data["direction"] == "incoming"]
    assert events["activeflow_created"] == len(customer_calls)

    abandoned = [q for q in state.all("queuecall") if q["status"] == "abandoned"]
    assert all(state.get("call", q["reference_id"])["hangup_reason"] == "cancel" for q in abandoned)
    done = [q for q in state.all("queuecall") if q["status"] == "done"]
    for queuecall in done:
        call = state.get("call", queuecall["reference_id"])
        assert queuecall["duration_waiting"] > 0
        assert queuecall["duration_service"] > 0
        assert "owner_id" not in call  # the flow answered the caller; the agent owns their own leg
        leg = state.get("call", call["chained_call_ids"][-1])
        assert (leg["owner_type"], leg["owner_id"]) == ("agent", queuecall["service_agent_id"])
        assert call["hangup_reason"] == leg["hangup_reason"] == "normal"

    inbound = [m for m in state.all("message") if m["direction"] == "inbound"]
    assert len(inbound) > 20
    assert any("help" in m["text"].lower() for m in inbound)
    assert {m["customer_id"] for m in inbound} == {c.id for c in CUSTOMERS}
    assert any(c["customer_id"] == OTHER_CUSTOMER_ID for c in state.all("call"))


def test_activeflows_walk_through_their_actions():
    _, state, _ = run(3, HOUR)
    ended = [flow for flow in state.all("activeflow") if flow["status"] == "ended"]
    assert ended
    serviced_call_ids = {q["reference_id"] for q in state.all("queuecall") if q["status"] == "done"}
    abandoned_call_ids = {q["reference_id"] for q in state.all("queuecall") if q["status"] == "abandoned"}
    assert serviced_call_ids
    assert abandoned_call_ids
    for flow in ended:
        walked = [action["type"] for action in flow["executed_actions"]] + [flow["current_action"]["type"]]
        if flow["reference_id"] in serviced_call_ids | abandoned_call_ids:
            # hold music while waiting, the bridge while an agent is dialed (again, if one did not answer)
            assert walked[:4] == ["answer", "talk", "queue_join", "play"]
            assert walked[-1] == "hangup"
            assert set(walked[4:-1]) <= {"play", "confbridge_join"}
        if flow["reference_id"] in serviced_call_ids:
            assert walked[-2] == "confbridge_join"


def test_queues_keep_their_lists_and_counters_in_step_with_queuecalls():
    _, state, _ = run(5, 1800)
    for queue in state.all("queue"):
        mine = [q for q in state.all("queuecall") if q["queue_id"] == queue["id"]]
        waiting = {q["id"] for q in mine if q["status"] in ("waiting", "connecting")}
        assert set(queue["wait_queuecall_ids"]) == waiting
        assert set(queue["service_queuecall_ids"]) == {q["id"] for q in mine if q["status"] == "service"}
        assert queue["total_incoming_count"] == len(mine)
        assert queue["total_serviced_count"] == sum(q["status"] == "done" for q in mine)
        assert queue["total_abandoned_count"] == sum(q["status"] == "abandoned" for q in mine)


def test_an_agent_is_offered_one_call_at_a_time_and_only_when_available():
    changes, _, _ = run(11, HOUR)
    status = {agent["id"]: agent["status"] for agent in State().all("agent")}
    rung_from: dict[str, str] = {}
    serving: dict[str, str] = {}
    offers = 0
    for change in changes:
        if change.resource == "agent":
            if change.data["status"] == "ringing":
                rung_from[change.resource_id] = status[change.resource_id]
            status[change.resource_id] = change.data["status"]
        elif change.event == "queuecall_connecting":
            agent_id = change.data["service_agent_id"]
            assert (rung_from.pop(agent_id), status[agent_id]) == ("available", "ringing")
            assert agent_id not in serving
            serving[agent_id] = change.resource_id
            offers += 1
        elif change.event in ("queuecall_waiting", "queuecall_done", "queuecall_abandoned"):
            serving = {
                agent: queuecall for agent, queuecall in serving.items() if queuecall != change.resource_id
            }
    assert offers > 10


@pytest.mark.parametrize("leg", ["caller", "agent"])
def test_a_leg_hung_up_from_outside_ends_the_other_closes_the_queuecall_and_frees_the_agent(leg):
    changes, state, scenario = run(3, rates=QUIET_BUT_CALLS)
    while not any(q["status"] == "service" for q in state.all("queuecall")):
        scenario.advance(5)
    queuecall = next(q for q in state.all("queuecall") if q["status"] == "service")
    agent_id = queuecall["service_agent_id"]
    call_id = queuecall["reference_id"]
    leg_id = state.get("call", call_id)["chained_call_ids"][-1]
    hung_up_at = len(changes)
    state.set_call_status(call_id if leg == "caller" else leg_id, "hangup", hangup_by="remote")
    scenario.advance(0)
    caller, agent_leg = state.get("call", call_id), state.get("call", leg_id)
    first, follower = (caller, agent_leg) if leg == "caller" else (agent_leg, caller)
    assert (first["status"], first["hangup_by"]) == ("hangup", "remote")
    assert (follower["status"], follower["hangup_by"], follower["hangup_reason"]) == (
        "hangup",
        "local",
        "normal",
    )
    assert state.get("queuecall", queuecall["id"])["status"] == "done"
    assert state.get("activeflow", caller["activeflow_id"])["status"] == "ended"
    scenario.advance(15)
    freed = [c for c in changes[hung_up_at:] if c.resource == "agent" and c.resource_id == agent_id]
    assert [c.data["status"] for c in freed][:1] == ["available"]  # after wrap-up, by the person


def test_zero_rates_make_a_quiet_center():
    changes, _, _ = run(1, HOUR, rates=Rates(calls_per_minute=0, sms_per_minute=0, breaks_per_hour=0))
    assert changes == []


def test_a_new_activeflow_starts_at_the_start_action_and_moves_to_answer_at_once():
    changes, state, _ = run(3, 600, rates=QUIET_BUT_CALLS)
    flows = [change for change in changes if change.resource == "activeflow"]
    created = [change for change in flows if change.created]
    assert created
    for creation in created:
        first = creation.data
        assert first["current_action"] == {"id": START_ACTION_ID, "next_id": ZERO_ID, "tm_execute": None}
        assert "executed_actions" not in first
        assert "tm_update" not in first  # created: VoIPBIN leaves it null
        following = flows[flows.index(creation) + 1]
        assert following.resource_id == creation.resource_id
        assert following.event == "activeflow_updated"
        assert following.data["current_action"]["type"] == "answer"
        assert following.data.get("executed_actions", []) == []
    executed = [action for flow in state.all("activeflow") for action in flow.get("executed_actions", [])]
    assert executed  # some flows went on past "answer" …
    assert all(action["id"] not in (START_ACTION_ID, ZERO_ID) for action in executed)  # … never via start


def test_an_agent_is_dialed_on_an_outgoing_leg_chained_to_the_callers_call():
    changes, state, _ = run(3, HOUR, rates=QUIET_BUT_CALLS)
    served = [q for q in state.all("queuecall") if q.get("tm_service")]
    assert len(served) > 10
    for queuecall in served:
        call = state.get("call", queuecall["reference_id"])
        legs = [state.get("call", leg_id) for leg_id in call["chained_call_ids"]]
        leg = legs[-1]
        agent = state.get("agent", queuecall["service_agent_id"])
        extension = agent["addresses"][0]["target"]
        assert (call["direction"], "owner_type" in call, "owner_id" in call) == ("incoming", False, False)
        assert (leg["direction"], leg["owner_type"], leg["owner_id"]) == ("outgoing", "agent", agent["id"])
        assert leg["master_call_id"] == call["id"]
        assert leg["groupcall_id"] not in ("", ZERO_ID, call["id"], leg["id"])
        assert leg["source"] == call["source"]
        assert leg["destination"] == {"type": "extension", "target": extension, "target_name": agent["name"]}
        assert leg["tm_progressing"]
        assert all(earlier["hangup_reason"] == "noanswer" for earlier in legs[:-1])
        statuses = [c.data["status"] for c in changes if c.resource == "call" and c.resource_id == leg["id"]]
        assert statuses[:3] == ["dialing", "ringing", "progressing"]


def test_when_the_talk_ends_one_side_hangs_up_and_voipbin_ends_the_other():
    _, state, _ = run(5, HOUR, rates=QUIET_BUT_CALLS)
    first_to_hang_up = Counter()
    for queuecall in (q for q in state.all("queuecall") if q["status"] == "done"):
        call = state.get("call", queuecall["reference_id"])
        leg = state.get("call", call["chained_call_ids"][-1])
        assert call["status"] == leg["status"] == "hangup"
        assert call["hangup_reason"] == leg["hangup_reason"] == "normal"
        assert {call["hangup_by"], leg["hangup_by"]} == {"remote", "local"}
        first_to_hang_up["caller" if call["hangup_by"] == "remote" else "agent"] += 1
    assert first_to_hang_up["caller"] > 3
    assert first_to_hang_up["agent"] > 3


def test_a_caller_who_gives_up_while_the_agent_rings_cancels_the_agent_leg():
    state = State()
    scenario = Scenario(state, seed=1, rates=Rates(calls_per_minute=0, sms_per_minute=0, breaks_per_hour=0))
    journey = scenario.start_journey(DEMO_CUSTOMER_ID, SALES_QUEUE_ID, "+12025550123")
    for step in ("flow", "queue"):
        scenario.step(journey.call_id, step)
    scenario.step(journey.call_id, "offer", agent_id=DEMO_AGENT1_ID)
    leg_id = journey.leg_id
    assert state.get("agent", DEMO_AGENT1_ID)["status"] == "ringing"
    scenario.step(journey.call_id, "abandon")
    call, leg = state.get("call", journey.call_id), state.get("call", leg_id)
    assert (call["hangup_by"], call["hangup_reason"]) == ("remote", "cancel")
    assert (leg["status"], leg["hangup_by"], leg["hangup_reason"]) == ("hangup", "local", "cancel")
    assert state.get("queuecall", journey.queuecall_id)["status"] == "abandoned"
    assert state.get("agent", DEMO_AGENT1_ID)["status"] == "available"  # the person, not VoIPBIN


def test_an_agent_no_longer_ringing_lets_the_leg_ring_out_and_the_caller_waits_again():
    state = State()
    scenario = Scenario(state, seed=1, rates=Rates(calls_per_minute=0, sms_per_minute=0, breaks_per_hour=0))
    journey = scenario.start_journey(DEMO_CUSTOMER_ID, SALES_QUEUE_ID, "+12025550123")
    for step in ("flow", "queue"):
        scenario.step(journey.call_id, step)
    scenario.step(journey.call_id, "offer", agent_id=DEMO_AGENT1_ID)
    leg_id = journey.leg_id
    state.upsert("agent", {"id": DEMO_AGENT1_ID, "status": "away"})
    scenario.step(journey.call_id, "answer")
    leg = state.get("call", leg_id)
    assert (leg["status"], leg["hangup_by"], leg["hangup_reason"]) == ("hangup", "remote", "noanswer")
    queuecall = state.get("queuecall", journey.queuecall_id)
    assert (queuecall["status"], "service_agent_id" in queuecall) == ("waiting", False)
    assert state.get("activeflow", journey.activeflow_id)["current_action"]["type"] == "play"
    assert state.get("call", journey.call_id)["status"] == "progressing"
    assert state.get("agent", DEMO_AGENT1_ID)["status"] == "away"


def test_agents_take_breaks_and_come_back_so_most_agent_time_is_available_or_on_calls():
    state = State()
    scenario = Scenario(state, seed=7)
    moves: list[tuple[float, Change]] = []
    state.listeners.append(lambda change: change.resource == "agent" and moves.append((scenario.now, change)))
    scenario.advance(2 * HOUR)
    status = {
        a["id"]: a["status"]
        for a in State().all("agent")
        if a["tag_ids"] and a["customer_id"] == DEMO_CUSTOMER_ID
    }
    assert len(status) == 9
    since = dict.fromkeys(status, 0.0)
    spent: Counter[str] = Counter()
    breaks: list[float] = []
    for now, change in moves:
        agent_id = change.resource_id
        if agent_id not in status:
            continue
        spent[status[agent_id]] += now - since[agent_id]
        if status[agent_id] in ("away", "offline"):
            breaks.append(now - since[agent_id])
        if change.data["status"] in ("away", "offline"):
            assert status[agent_id] == "available"  # a break starts from available
        status[agent_id], since[agent_id] = change.data["status"], now
    for agent_id in status:
        spent[status[agent_id]] += 2 * HOUR - since[agent_id]
    total = sum(spent.values())
    assert (spent["available"] + spent["busy"] + spent["ringing"]) / total > 0.85
    assert 0.02 < (spent["away"] + spent["offline"]) / total < 0.15
    assert len(breaks) > 10
    assert max(breaks) <= 900  # everyone comes back
    ended = [q for q in state.all("queuecall") if q["status"] in ("done", "abandoned")]
    assert sum(q["status"] == "abandoned" for q in ended) / len(ended) < 0.1


def test_busy_spells_raise_one_queues_call_rate_and_pass():
    state = State()
    scenario = Scenario(state, seed=7)
    arrivals: Counter[tuple[str, bool]] = Counter()
    seconds_at: Counter[tuple[str, bool]] = Counter()
    queue_of = {queue.number: queue.id for queue in CUSTOMERS[0].queues}

    def count(change: Change) -> None:
        if change.event == "call_created" and change.data["direction"] == "incoming":
            queue_id = queue_of.get(change.data["destination"]["target"])
            if queue_id:
                arrivals[queue_id, scenario.load(queue_id) > 1] += 1

    state.listeners.append(count)
    for _ in range(6 * 360):
        for queue_id in queue_of.values():
            seconds_at[queue_id, scenario.load(queue_id) > 1] += 10
        scenario.advance(10)
    for queue_id in queue_of.values():
        busy = arrivals[queue_id, True] / seconds_at[queue_id, True]
        calm = arrivals[queue_id, False] / seconds_at[queue_id, False]
        assert busy > 3 * calm
        assert 0.02 < seconds_at[queue_id, True] / (6 * HOUR) < 0.1  # a few minutes now and then


def test_a_stepped_journey_leaves_the_seeded_story_as_it_was():
    plain, _, _ = run(7, 900)
    state = State()
    changes: list[Change] = []
    state.listeners.append(changes.append)
    scenario = Scenario(state, seed=7)
    scenario.advance(300)
    journey = scenario.start_journey(DEMO_CUSTOMER_ID, SUPPORT_QUEUE_ID, "+12025550123")
    scenario.step(journey.call_id, "flow")
    scenario.advance(600)
    ours = {journey.call_id, journey.activeflow_id}
    assert [timeless(c) for c in plain] == [timeless(c) for c in changes if c.resource_id not in ours]
