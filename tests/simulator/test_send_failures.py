"""``POST /v1.0/messages`` under the test controls: refused (nothing sent) or answered late (sent).

Also where an accepted send goes: to another simulated customer's number it arrives as that
customer's inbound SMS, which is what lets two accounts' auto-replies meet in the tests.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_ACCESS_KEY,
    OTHER_CUSTOMER_ID,
    OTHER_SMS_NUMBER,
)
from dashboard.simulator.server import SimServer
from tests.simulator.helpers import control, customer_topic, next_frame, subscribed

REMOTE = "+12025550123"


def send_body(text: str = "hello", *, to: str = REMOTE) -> dict[str, Any]:
    return {
        "source": {"type": "tel", "target": DEMO_SMS_NUMBER},
        "destinations": [{"type": "tel", "target": to}],
        "text": text,
    }


async def post_send(sim: SimServer, text: str = "hello", **options: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.url, params={"accesskey": DEMO_ACCESS_KEY}, **options) as http:
        return await http.post("/v1.0/messages", json=send_body(text))


def outbound_messages(sim: SimServer) -> list[dict[str, Any]]:
    return [m for m in sim.state.all("message") if m["direction"] == "outbound"]


async def test_rate_limited_sends_carry_retry_after_and_send_nothing_until_used_up(sim):
    answer = await control(sim, "fail-sends", {"status": 429, "count": 2, "retry_after": 1})
    assert answer["fail_sends"] == {"status": 429, "remaining": 2, "retry_after": 1}

    first, second, third = [await post_send(sim, text) for text in ("one", "two", "three")]

    for refused in (first, second):
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"]["reason"] == "RATE_LIMITED"
    assert third.status_code == 200
    assert [entry["body"]["text"] for entry in sim.sent] == ["three"]
    assert [m["text"] for m in outbound_messages(sim)] == ["three"]
    stats = sim.stats()
    assert (stats["sends_refused"], stats["sends_accepted"]) == (2, 1)
    assert sim.controls()["fail_sends"] is None


@pytest.mark.parametrize(("status", "word"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
async def test_server_errors_refuse_the_send_without_retry_after(sim, status, word):
    await control(sim, "fail-sends", {"status": status})

    refused = await post_send(sim)

    assert refused.status_code == status
    assert "Retry-After" not in refused.headers
    assert refused.json()["error"]["status"] == word
    assert sim.sent == []
    assert outbound_messages(sim) == []
    assert (await post_send(sim)).status_code == 200  # count defaults to one


async def test_fail_sends_refuses_other_statuses_and_count_zero_lifts_it(sim):
    async with httpx.AsyncClient(base_url=sim.url) as http:
        for body in ({"status": 402}, {"status": 503, "count": -1}, {"status": 429, "retry_after": -5}):
            assert (await http.post("/_sim/fail-sends", json=body)).status_code == 400
    await control(sim, "fail-sends", {"status": 503, "count": 5})

    answer = await control(sim, "fail-sends", {"status": 503, "count": 0})

    assert answer["fail_sends"] is None
    assert (await post_send(sim)).status_code == 200


async def test_a_delayed_send_goes_out_at_once_and_its_answer_comes_late():
    """The client gives up waiting, yet the SMS was sent: exactly the case a sender must not repeat."""
    async with SimServer(controls=True, scenario=False) as sim:
        answer = await control(sim, "delay-sends", {"delay": 60})
        assert answer["delay_sends"] == {"seconds": 60, "remaining": 1}

        with pytest.raises(httpx.ReadTimeout):
            await post_send(sim, "late", timeout=0.5)

        assert [entry["body"]["text"] for entry in sim.sent] == ["late"]
        assert sim.stats()["sends_delayed"] == 1
        assert sim.controls()["delay_sends"] is None
        assert (await post_send(sim, "prompt", timeout=5)).status_code == 200
    # Leaving the block stopped the server: the held answer was released, not waited out.


async def test_reset_lifts_send_failures_and_delays(sim):
    await control(sim, "fail-sends", {"status": 429, "count": 3, "retry_after": 2})
    await control(sim, "delay-sends", {"delay": 5, "count": 2})
    await post_send(sim)

    answer = await control(sim, "reset")

    assert (answer["fail_sends"], answer["delay_sends"]) == (None, None)
    assert sim.stats()["sends_refused"] == 0


async def test_a_send_to_another_simulated_customer_arrives_there_as_inbound_sms(sim):
    globex_messages = customer_topic(OTHER_CUSTOMER_ID, "message", None)
    async with subscribed(sim, globex_messages, accesskey=OTHER_ACCESS_KEY) as globex:
        async with httpx.AsyncClient(base_url=sim.url, params={"accesskey": DEMO_ACCESS_KEY}) as http:
            sent = (await http.post("/v1.0/messages", json=send_body("ping", to=OTHER_SMS_NUMBER))).json()
        arrived, again = await next_frame(globex), await next_frame(globex)  # a 3-part prefix: twice

    assert again == arrived
    assert arrived["tm_update"] is None  # a new message, as VoIPBIN publishes its creation
    assert arrived["targets"][0]["status"] == "received"
    assert (arrived["customer_id"], arrived["direction"], arrived["text"]) == (
        OTHER_CUSTOMER_ID,
        "inbound",
        "ping",
    )
    assert arrived["source"]["target"] == DEMO_SMS_NUMBER
    assert arrived["targets"][0]["destination"]["target"] == OTHER_SMS_NUMBER
    assert arrived["id"] != sent["id"]
    assert sent["customer_id"] == DEMO_CUSTOMER_ID
