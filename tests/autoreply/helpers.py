"""Driving auto-replies through the simulator, and reading back what the relay and VoIPBIN did.

Every reply is counted where it matters, in the simulator's list of messages VoIPBIN accepted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from channels.db import database_sync_to_async

from dashboard.accountrelay import AccountRelay
from dashboard.models import AutoReply, AutoReplyStatus, RuleDecisionLog
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
from dashboard.voipbin.events import Event, normalize
from tests.waiting import until

SENDER = "+15551234567"
REPLY = "Thanks {sender}! {our_number} got your message at {time}."


async def start_relay(sim: Any, relays: list[AccountRelay], **options: Any) -> AccountRelay:
    """A relay for every enabled account, started and subscribed (with the relays before it)."""
    relay = AccountRelay(**options)
    relays.append(relay)
    await relay.start()
    assert relay.sessions
    expected = sum(len(each.sessions) for each in relays)
    await until(lambda: len(_subscribed(sim)) == expected)
    return relay


def _subscribed(sim: Any) -> list[dict[str, Any]]:
    return [c for c in sim.stats()["open_connections"] if c["topics"]]


async def control(sim: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/{path}", json=body)
    response.raise_for_status()
    return response.json()


async def sent(sim: Any) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        return (await http.get("/_sim/sent")).json()["result"]


async def receive_sms(
    sim: Any, *, source: str = SENDER, text: str = "Hello?", customer_id: str = DEMO_CUSTOMER_ID
) -> dict[str, Any]:
    body = {"source": source, "text": text, "customer_id": customer_id}
    return await control(sim, "sms", body)


def inbound_event(sim: Any, *, source: str = SENDER, text: str = "Hello?") -> Event:
    """An inbound SMS as the relay would receive it, for calling ``handle_inbound`` directly."""
    return normalize(sim.receive_sms(source=source, text=text))


@database_sync_to_async
def replies() -> list[AutoReply]:
    return list(AutoReply.objects.order_by("pk"))


@database_sync_to_async
def decisions(message_id: str) -> list[RuleDecisionLog]:
    return list(RuleDecisionLog.objects.filter(message_id=message_id).order_by("pk"))


@database_sync_to_async
def sent_reply_exists() -> bool:
    return AutoReply.objects.filter(status=AutoReplyStatus.SENT).exists()


async def settled(relays: list[AccountRelay]) -> None:
    """Every relay idle for a moment: any second reply would have been sent by now."""
    for _ in range(3):
        await until(lambda: all(relay.pending == 0 for relay in relays))
        await asyncio.sleep(0.1)
