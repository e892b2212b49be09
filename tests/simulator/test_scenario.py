"""The seeded scenario engine, run in virtual time without a server."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dashboard.simulator.accounts import CUSTOMERS, OTHER_CUSTOMER_ID
from dashboard.simulator.events import Change
from dashboard.simulator.scenario import Rates, Scenario
from dashboard.simulator.state import State
from tests.simulator.helpers import START_ACTION_ID, ZERO_ID

HOUR = 3600.0


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
    assert events["activeflow_created"] == events["call_created"]

    abandoned = [q for q in state.all("queuecall") if q["status"] == "abandoned"]
    assert all(state.get("call", q["reference_id"])["hangup_reason"] == "cancel" for q in abandoned)
    done = [q for q in state.all("queuecall") if q["status"] == "done"]
    for queuecall in done:
        call = state.get("call", queuecall["reference_id"])
        assert queuecall["duration_waiting"] > 0
        assert queuecall["duration_service"] > 0
        assert (call["owner_type"], call["owner_id"]) == ("agent", queuecall["service_agent_id"])
        assert call["hangup_reason"] == "normal"

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
    for flow in ended:
        walked = [action["type"] for action in flow["executed_actions"]] + [flow["current_action"]["type"]]
        if flow["reference_id"] in serviced_call_ids:
            assert walked == ["answer", "talk", "queue_join", "hangup"]


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
    serving: dict[str, str] = {}
    offers = 0
    for change in changes:
        if change.resource == "agent":
            status[change.resource_id] = change.data["status"]
        elif change.event == "queuecall_connecting":
            agent_id = change.data["service_agent_id"]
            assert status[agent_id] == "available"
            assert agent_id not in serving
            serving[agent_id] = change.resource_id
            offers += 1
        elif change.event in ("queuecall_waiting", "queuecall_done", "queuecall_abandoned"):
            serving = {
                agent: queuecall for agent, queuecall in serving.items() if queuecall != change.resource_id
            }
    assert offers > 10


def test_a_call_hung_up_from_outside_still_closes_its_queuecall_and_frees_the_agent():
    changes, state, scenario = run(3, rates=Rates(sms_per_minute=0, agent_changes_per_minute=0))
    while not any(q["status"] == "service" for q in state.all("queuecall")):
        scenario.advance(5)
    queuecall = next(q for q in state.all("queuecall") if q["status"] == "service")
    agent_id = queuecall["service_agent_id"]
    hung_up_at = len(changes)
    state.set_call_status(queuecall["reference_id"], "hangup")
    scenario.advance(0)
    assert state.get("queuecall", queuecall["id"])["status"] == "done"
    assert (
        state.get("activeflow", state.get("call", queuecall["reference_id"])["activeflow_id"])["status"]
        == "ended"
    )
    scenario.advance(15)
    freed = [c for c in changes[hung_up_at:] if c.resource == "agent" and c.resource_id == agent_id]
    assert freed[0].data["status"] == "available"


def test_zero_rates_make_a_quiet_center():
    changes, _, _ = run(
        1, HOUR, rates=Rates(calls_per_minute=0, sms_per_minute=0, agent_changes_per_minute=0)
    )
    assert changes == []


def test_a_new_activeflow_starts_at_the_start_action_and_moves_to_answer_at_once():
    changes, state, _ = run(3, 600, rates=Rates(sms_per_minute=0, agent_changes_per_minute=0))
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
