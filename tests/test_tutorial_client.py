"""The product owner's tutorial client, run as written against the simulator.

The seed's Python example (``websocket-client``, its ``on_open`` and
``on_message``) with only the URL, token and customer id swapped: if this
breaks, the simulator no longer honours our first contract.
"""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
import websocket

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_PASSWORD, DEMO_SMS_NUMBER
from tests.waiting import until


def run_tutorial_client(
    ws_url: str, token: str, customer_id: str, received: list, subscribed: threading.Event
):
    """The tutorial's code; prints replaced by appends so the test can look."""

    def on_message(ws, message):
        data = json.loads(message)
        event_type = data.get("event_type")
        resource_data = data.get("data")

        if event_type == "call.status":
            call_id = resource_data["id"]
            status = resource_data["status"]
            received.append(("call.status", call_id, status))

        elif event_type == "message.received":
            message_text = resource_data["text"]
            from_number = resource_data["source"]["target"]
            received.append(("message.received", from_number, message_text))

        elif event_type == "activeflow.updated":
            activeflow_id = resource_data["id"]
            current_action = resource_data["current_action"]["type"]
            received.append(("activeflow.updated", activeflow_id, current_action))

    def on_open(ws):
        subscription = {
            "type": "subscribe",
            "topics": [
                f"customer_id:{customer_id}:call:*",
                f"customer_id:{customer_id}:message:*",
                f"customer_id:{customer_id}:activeflow:*",
            ],
        }
        ws.send(json.dumps(subscription))
        subscribed.set()

    ws = websocket.WebSocketApp(f"{ws_url}?token={token}", on_open=on_open, on_message=on_message)
    return ws


@pytest.mark.parametrize("sim", ["tutorial"], indirect=True)  # the seed's clients speak its dialect
async def test_tutorial_python_client_receives_call_and_message_events(sim):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        login = await http.post("/auth/login", json={"username": "manager", "password": DEMO_PASSWORD})
        token = login.json()["token"]
        received: list = []
        subscribed = threading.Event()
        ws = run_tutorial_client(sim.ws_url, token, DEMO_CUSTOMER_ID, received, subscribed)
        runner = asyncio.create_task(asyncio.to_thread(ws.run_forever))
        try:
            assert await asyncio.to_thread(subscribed.wait, 5)
            await asyncio.sleep(0.1)  # the subscribe frame reaches the server
            call = (await http.post("/_sim/calls", json={"customer_id": DEMO_CUSTOMER_ID})).json()
            sms = await http.post(
                "/_sim/sms",
                json={"source": "+15557770001", "destination": DEMO_SMS_NUMBER, "text": "help me"},
            )
            assert sms.status_code == 200
            await until(lambda: {"call.status", "message.received"} <= {r[0] for r in received})
        finally:
            ws.close()
            await runner
    assert ("message.received", "+15557770001", "help me") in received
    assert any(kind == "call.status" and call_id == call["id"] for kind, call_id, _ in received)
