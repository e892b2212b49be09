"""The REST API: lists, sending SMS, hanging up, agent status — and who may do what."""

from __future__ import annotations

import httpx
import pytest

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_ACCESS_KEY,
    OTHER_AGENT_ID,
    OTHER_CUSTOMER_ID,
    SALES_QUEUE_ID,
)
from tests.simulator.helpers import customer_topic, frames_until, login, open_socket, subscribe

SMS_BODY = {
    "source": {"type": "tel", "target": DEMO_SMS_NUMBER},
    "destinations": [{"type": "tel", "target": "+12025550123"}],
    "text": "Thanks for calling!",
}


def api(sim, *, token: str | None = None, accesskey: str = DEMO_ACCESS_KEY) -> httpx.AsyncClient:
    params = {"token": token} if token else {"accesskey": accesskey}
    return httpx.AsyncClient(base_url=f"{sim.url}/v1.0", params=params)


def error_status(response: httpx.Response) -> str:
    return response.json()["error"]["status"]


async def test_lists_page_newest_first_with_next_page_tokens(sim):
    created = [sim.create_call()["id"] for _ in range(7)]
    sim.create_call(customer_id=OTHER_CUSTOMER_ID)
    seen: list[dict] = []
    token = ""
    async with api(sim) as http:
        for _ in range(4):
            page = (await http.get("/calls", params={"page_size": 3, "page_token": token})).json()
            seen += page["result"]
            token = page["next_page_token"]
            if not token:
                break
    assert [call["id"] for call in seen] == created[::-1]
    assert token == ""


async def test_list_without_page_size_defaults_to_ten(sim):
    for _ in range(12):
        sim.create_call()
    async with api(sim) as http:
        page = (await http.get("/calls")).json()
    assert len(page["result"]) == 10
    assert page["next_page_token"] == page["result"][-1]["tm_create"]


@pytest.mark.parametrize(
    "params", [{"page_size": 101}, {"page_size": 0}, {"page_size": "ten"}, {"page_token": "x"}]
)
async def test_bad_paging_is_400(sim, params):
    async with api(sim) as http:
        response = await http.get("/calls", params=params)
    assert response.status_code == 400
    assert error_status(response) == "INVALID_ARGUMENT"


async def test_every_list_is_scoped_to_the_callers_customer(sim):
    async with api(sim, accesskey=OTHER_ACCESS_KEY) as http:
        for resource in ("calls", "agents", "queues", "queuecalls", "messages"):
            response = await http.get(f"/{resource}", params={"page_size": 100})
            assert response.status_code == 200
            assert {row["customer_id"] for row in response.json()["result"]} <= {OTHER_CUSTOMER_ID}
        agents = (await http.get("/agents")).json()["result"]
    assert {agent["username"] for agent in agents} == {"globex-admin", "globex-agent"}


async def test_queuecalls_omit_queue_id_but_queues_list_them(sim):
    call = sim.create_call(queue_id=SALES_QUEUE_ID)
    async with api(sim) as http:
        (queuecall,) = (await http.get("/queuecalls")).json()["result"]
        queues = {queue["id"]: queue for queue in (await http.get("/queues")).json()["result"]}
    assert queuecall["reference_id"] == call["id"]
    assert queuecall["status"] == "waiting"
    assert "queue_id" not in queuecall
    assert queues[SALES_QUEUE_ID]["wait_queuecall_ids"] == [queuecall["id"]]
    assert queues[SALES_QUEUE_ID]["total_incoming_count"] == 1


async def test_agents_may_not_list_but_managers_may(sim):
    agent = await login(sim, "agent1")
    manager = await login(sim, "manager")
    async with api(sim, token=agent) as http:
        response = await http.get("/calls")
    assert response.status_code == 403
    assert error_status(response) == "PERMISSION_DENIED"
    async with api(sim, token=manager) as http:
        assert (await http.get("/calls")).status_code == 200


async def test_sending_an_sms_answers_the_queued_message_and_records_the_body(sim):
    async with api(sim) as http:
        response = await http.post("/messages", json=SMS_BODY)
    assert response.status_code == 200
    message = response.json()
    assert message["type"] == "sms"
    assert message["direction"] == "outbound"
    assert message["customer_id"] == DEMO_CUSTOMER_ID
    assert message["source"] == SMS_BODY["source"]
    assert [(t["destination"]["target"], t["status"]) for t in message["targets"]] == [
        ("+12025550123", "queued")
    ]
    assert sim.sent == [
        {
            "message_id": message["id"],
            "customer_id": DEMO_CUSTOMER_ID,
            "agent_id": None,
            "access_key": True,
            "body": SMS_BODY,
        }
    ]


async def test_outbound_sms_targets_move_to_delivered_as_the_engine_advances(sim):
    async with api(sim) as http:
        message = (await http.post("/messages", json=SMS_BODY)).json()
    sim.advance(10)
    (target,) = sim.state.get("message", message["id"])["targets"]
    assert target["status"] in ("delivered", "failed")
    assert target["tm_update"] > message["tm_update"]


@pytest.mark.parametrize(
    "change",
    [
        {"text": ""},
        {"text": None},
        {"destinations": []},
        {"destinations": [{"type": "tel", "target": "0123"}]},
        {"source": {"type": "email", "target": "a@example.com"}},
    ],
)
async def test_a_malformed_sms_is_400_and_not_recorded(sim, change):
    async with api(sim) as http:
        response = await http.post("/messages", json={**SMS_BODY, **change})
    assert response.status_code == 400
    assert sim.sent == []


async def test_sending_without_balance_is_402(sim):
    sim.set_insufficient_balance(DEMO_CUSTOMER_ID, True)
    async with api(sim) as http:
        refused = await http.post("/messages", json=SMS_BODY)
    async with api(sim, accesskey=OTHER_ACCESS_KEY) as http:
        allowed = await http.post("/messages", json=SMS_BODY)
    assert refused.status_code == 402
    assert refused.json()["error"]["reason"] == "INSUFFICIENT_BALANCE"
    assert allowed.status_code == 200
    assert [entry["customer_id"] for entry in sim.sent] == [OTHER_CUSTOMER_ID]


async def test_hangup_is_for_supervisors_of_the_calls_own_customer(sim):
    call = sim.create_call(owner_id=DEMO_AGENT1_ID)
    agent = await login(sim, "agent1")
    async with api(sim, token=agent) as http:
        assert (await http.post(f"/calls/{call['id']}/hangup")).status_code == 403
    async with api(sim, accesskey=OTHER_ACCESS_KEY) as http:
        assert (await http.post(f"/calls/{call['id']}/hangup")).status_code == 404
    async with api(sim) as http:
        assert (await http.post("/calls/00000000-0000-4000-8000-000000000000/hangup")).status_code == 404
    assert sim.state.get("call", call["id"])["status"] == "ringing"


async def test_hangup_answers_terminating_then_publishes_the_hangup(sim):
    call = sim.create_call()
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws:
        await subscribe(ws, customer_topic(DEMO_CUSTOMER_ID, "call"))
        manager = await login(sim, "manager")
        async with api(sim, token=manager) as http:
            answer = (await http.post(f"/calls/{call['id']}/hangup")).json()
        frames = await frames_until(ws, lambda frame: frame["data"]["status"] == "hangup")
    assert answer["status"] == "terminating"
    assert [frame["data"]["status"] for frame in frames] == ["terminating", "hangup"]
    final = frames[-1]["data"]
    assert (final["hangup_by"], final["hangup_reason"]) == ("local", "normal")
    assert final["tm_hangup"] == final["tm_update"]


async def test_agent_sets_its_own_status_and_only_its_own(sim):
    token = await login(sim, "agent1")
    async with api(sim, token=token) as http:
        mine = await http.put(f"/agents/{DEMO_AGENT1_ID}/status", json={"status": "away"})
        theirs = await http.put(f"/agents/{DEMO_AGENT2_ID}/status", json={"status": "away"})
        invalid = await http.put(f"/agents/{DEMO_AGENT1_ID}/status", json={"status": "sleeping"})
    assert mine.status_code == 200
    assert mine.json()["status"] == "away"
    assert theirs.status_code == 403
    assert invalid.status_code == 400
    assert sim.state.get("agent", DEMO_AGENT2_ID)["status"] == "available"


async def test_manager_sets_any_agent_of_its_customer_and_the_change_is_published(sim):
    manager = await login(sim, "manager")
    async with open_socket(sim, accesskey=DEMO_ACCESS_KEY) as ws:
        await subscribe(ws, customer_topic(DEMO_CUSTOMER_ID, "agent"))
        async with api(sim, token=manager) as http:
            changed = await http.put(f"/agents/{DEMO_AGENT2_ID}/status", json={"status": "offline"})
            foreign = await http.put(f"/agents/{OTHER_AGENT_ID}/status", json={"status": "offline"})
        (frame,) = await frames_until(ws, lambda frame: True)
    assert changed.status_code == 200
    assert foreign.status_code == 404
    assert frame["event_type"] == "agent.status"
    assert (frame["data"]["agent_id"], frame["data"]["status"]) == (DEMO_AGENT2_ID, "offline")
