"""The REST API: lists, sending SMS, hanging up, agent status — and who may do what."""

from __future__ import annotations

import httpx
import pytest

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_AGENT1_ID,
    DEMO_AGENT2_ID,
    DEMO_CUSTOMER_ID,
    DEMO_FLOW_ID,
    DEMO_SMS_NUMBER,
    OTHER_ACCESS_KEY,
    OTHER_AGENT_ID,
    OTHER_CUSTOMER_ID,
    OTHER_QUEUE_ID,
    SALES_QUEUE_ID,
)
from dashboard.simulator.timestamps import parse_time
from tests.simulator.helpers import (
    FIXED_TIME,
    START_ACTION_ID,
    TIMESTAMP,
    UNOWNED_CALL_ZEROS,
    ZERO_ID,
    customer_topic,
    frames_until,
    login,
    subscribed,
)

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


async def test_list_without_page_size_defaults_to_a_hundred(sim):
    created = [sim.create_call()["id"] for _ in range(120)]
    async with api(sim) as http:
        page = (await http.get("/calls")).json()
        rest = (await http.get("/calls", params={"page_token": page["next_page_token"]})).json()
    assert [call["id"] for call in page["result"]] == created[:-101:-1]
    token = page["next_page_token"]
    assert FIXED_TIME.fullmatch(token)  # six digits, whatever the row's tm_create trims
    assert parse_time(token) == parse_time(page["result"][-1]["tm_create"])
    assert [call["id"] for call in rest["result"]] == created[19::-1]
    assert rest["next_page_token"] == ""


@pytest.mark.parametrize("page_size", [101, 500, 0, -5])
async def test_a_page_size_above_a_hundred_zero_or_negative_is_taken_as_a_hundred(sim, page_size):
    created = [sim.create_call()["id"] for _ in range(120)]
    async with api(sim) as http:
        response = await http.get("/calls", params={"page_size": page_size})
    assert response.status_code == 200
    page = response.json()
    assert [call["id"] for call in page["result"]] == created[:-101:-1]
    assert parse_time(page["next_page_token"]) == parse_time(page["result"][-1]["tm_create"])


@pytest.mark.parametrize(
    "params", [{"page_size": "ten"}, {"page_size": "2.5"}, {"page_size": "1e2"}, {"page_token": "x"}]
)
async def test_bad_paging_is_400(sim, params):
    sim.create_call()
    async with api(sim) as http:
        response = await http.get("/calls", params=params)
    assert response.status_code == 400
    assert error_status(response) == "INVALID_ARGUMENT"
    assert set(response.json()) == {"error"}


async def test_page_tokens_order_by_time_not_by_text_when_fractions_differ(sim):
    """Trimmed stamps do not sort as text ("…:00Z" > "…:00.5Z"); paging must compare instants."""
    stamps = [
        "2026-01-20T10:30:00Z",
        "2026-01-20T10:30:00.000001Z",
        "2026-01-20T10:30:00.12Z",
        "2026-01-20T10:30:00.4021Z",
        "2026-01-20T10:30:00.5Z",
        "2026-01-20T10:30:01Z",
        "2026-01-20T10:30:01.25Z",
    ]
    ids = {
        stamp: sim.inject("call", {"status": "ringing", "tm_create": stamp})["id"] for stamp in stamps[::-1]
    }
    seen: list[dict] = []
    tokens: list[str] = []
    token = ""
    async with api(sim) as http:
        for _ in range(len(stamps)):
            page = (await http.get("/calls", params={"page_size": 2, "page_token": token})).json()
            seen += page["result"]
            token = page["next_page_token"]
            if not token:
                break
            tokens.append(token)
    assert [call["id"] for call in seen] == [ids[stamp] for stamp in stamps[::-1]]
    assert [call["tm_create"] for call in seen] == stamps[::-1]
    assert tokens == [
        "2026-01-20T10:30:01.000000Z",
        "2026-01-20T10:30:00.402100Z",
        "2026-01-20T10:30:00.000001Z",
    ]


async def test_every_list_is_scoped_to_the_callers_customer(sim):
    async with api(sim, accesskey=OTHER_ACCESS_KEY) as http:
        for resource in ("calls", "agents", "queues", "queuecalls", "messages", "activeflows"):
            response = await http.get(f"/{resource}", params={"page_size": 100})
            assert response.status_code == 200
            assert {row["customer_id"] for row in response.json()["result"]} <= {OTHER_CUSTOMER_ID}
        agents = (await http.get("/agents")).json()["result"]
    assert {agent["username"] for agent in agents} == {"globex-admin", "globex-agent", "globex-agent2"}


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
    (queued,) = message["targets"]
    moved = sim.state.get("message", message["id"])
    (target,) = moved["targets"]
    assert message.get("tm_update") is None  # the send answers a new message: never updated yet
    assert target["status"] in ("delivered", "failed")
    assert (
        parse_time(target["tm_update"]) > parse_time(queued["tm_update"]) == parse_time(message["tm_create"])
    )
    assert moved["tm_update"] == target["tm_update"]


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
    async with subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "call", call["id"])) as ws:
        manager = await login(sim, "manager")
        async with api(sim, token=manager) as http:
            answer = (await http.post(f"/calls/{call['id']}/hangup")).json()
        frames = await frames_until(ws, lambda frame: frame["status"] == "hangup")
    assert answer["status"] == "terminating"
    assert [(frame["id"], frame["status"]) for frame in frames] == [
        (call["id"], "terminating"),
        (call["id"], "hangup"),
    ]
    final = frames[-1]
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
    async with subscribed(sim, customer_topic(DEMO_CUSTOMER_ID, "agent", DEMO_AGENT2_ID)) as ws:
        async with api(sim, token=manager) as http:
            changed = await http.put(f"/agents/{DEMO_AGENT2_ID}/status", json={"status": "offline"})
            foreign = await http.put(f"/agents/{OTHER_AGENT_ID}/status", json={"status": "offline"})
        (frame,) = await frames_until(ws, lambda frame: True)
    assert changed.status_code == 200
    assert foreign.status_code == 404
    assert sim.state.get("agent", OTHER_AGENT_ID)["status"] == "available"
    assert (frame["id"], frame["customer_id"], frame["status"]) == (
        DEMO_AGENT2_ID,
        DEMO_CUSTOMER_ID,
        "offline",
    )
    assert frame["tm_update"] == changed.json()["tm_update"]


async def test_rest_lists_send_zero_ids_and_empty_strings_for_what_a_call_lacks(sim):
    call = sim.create_call()
    async with api(sim) as http:
        (listed,) = (await http.get("/calls")).json()["result"]
    assert listed == {**UNOWNED_CALL_ZEROS, **call}
    assert listed["owner_type"] == ""
    assert listed["owner_id"] == ZERO_ID
    assert "tm_update" not in listed  # a call omits a null tm_update (omitempty)
    assert TIMESTAMP.fullmatch(listed["tm_create"])
    assert parse_time(listed["tm_create"]) == parse_time(listed["tm_ringing"])


async def test_rest_lists_send_a_null_tm_update_for_never_updated_queuecalls_and_messages(sim):
    sim.create_call(queue_id=SALES_QUEUE_ID)
    message = sim.receive_sms(source="+12025550111", text="hello")
    async with api(sim) as http:
        (queuecall,) = (await http.get("/queuecalls")).json()["result"]
        (listed_message,) = (await http.get("/messages")).json()["result"]
    assert listed_message == {**message, "tm_update": None, "tm_delete": None}
    assert queuecall["status"] == "waiting"  # created, then moved on: stamped
    assert TIMESTAMP.fullmatch(queuecall["tm_update"])
    assert (queuecall["service_agent_id"], queuecall["tm_service"], queuecall["tm_delete"]) == (
        ZERO_ID,
        None,
        None,
    )


async def test_activeflows_are_listed_newest_first_for_the_callers_customer_only(sim):
    sim.start_journey(customer_id=OTHER_CUSTOMER_ID, queue_id=OTHER_QUEUE_ID)
    sim.advance(600)
    ours = sorted(
        (flow for flow in sim.state.all("activeflow") if flow["customer_id"] == DEMO_CUSTOMER_ID),
        key=lambda flow: parse_time(flow["tm_create"]),
        reverse=True,
    )
    theirs = [flow for flow in sim.state.all("activeflow") if flow["customer_id"] == OTHER_CUSTOMER_ID]
    assert ours
    assert theirs
    agent = await login(sim, "agent1")
    async with api(sim) as http:
        page = (await http.get("/activeflows")).json()
    async with api(sim, token=agent) as http:
        refused = await http.get("/activeflows")
    assert [flow["id"] for flow in page["result"]] == [flow["id"] for flow in ours]
    assert page["next_page_token"] == ""
    for listed in page["result"]:
        assert listed["customer_id"] == DEMO_CUSTOMER_ID
        assert listed["current_action"]["id"] != START_ACTION_ID  # the flow moved on at once
        assert set(listed["current_action"]) == {"id", "next_id", "type", "tm_execute"}
        assert listed["tm_delete"] is None
    assert refused.status_code == 403


async def test_flows_are_listed_with_their_names_for_the_callers_customer_only(sim):
    async with api(sim) as http:
        page = (await http.get("/flows")).json()
    assert [(flow["id"], flow["name"]) for flow in page["result"]] == [(DEMO_FLOW_ID, "Acme Support inbound")]
    assert page["result"][0]["customer_id"] == DEMO_CUSTOMER_ID
