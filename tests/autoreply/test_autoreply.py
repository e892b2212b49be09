"""Auto-replies end to end: the account relay, the engine, the database and the simulator's REST.

Every reply is counted where it matters, in the simulator's list of messages VoIPBIN accepted.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError

from dashboard.autoreply import handle_inbound
from dashboard.models import AutoReplyStatus, Message, Rule, RuleDecisionLog
from dashboard.simulator.accounts import (
    DEMO_ACCESS_KEY,
    DEMO_CUSTOMER_ID,
    DEMO_SALES_NUMBER,
    DEMO_SMS_NUMBER,
)
from tests.autoreply.helpers import (
    SENDER,
    control,
    decisions,
    inbound_event,
    receive_sms,
    replies,
    sent,
    sent_reply_exists,
    settled,
    start_relay,
)
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_inbound_sms_gets_exactly_one_reply_with_placeholders_filled(sim, rule, relays):
    await start_relay(sim, relays)

    message = await receive_sms(sim)

    await until(lambda: sent_reply_exists(), timeout=10)
    await settled(relays)
    [reply] = await replies()
    assert reply.status == AutoReplyStatus.SENT
    assert reply.inbound_message_id == message["id"]
    assert reply.attempts == 1
    at = reply.created_at.astimezone(ZoneInfo("Europe/Berlin"))
    expected = f"Thanks {SENDER}! {DEMO_SMS_NUMBER} got your message at {at:%H:%M}."
    [out] = await sent(sim)
    assert out["customer_id"] == DEMO_CUSTOMER_ID
    assert out["message_id"] == reply.reply_message_id
    assert out["body"] == {
        "source": {"type": "tel", "target": DEMO_SMS_NUMBER},
        "destinations": [{"type": "tel", "target": SENDER}],
        "text": expected,
    }
    stored = await database_sync_to_async(Message.objects.get)(pk=message["id"])
    assert (stored.direction, stored.source, stored.destination) == ("inbound", SENDER, DEMO_SMS_NUMBER)
    assert stored.evaluated_at is not None


async def test_same_event_handled_twice_sends_once(sim, rule, account):
    event = inbound_event(sim)

    first = await handle_inbound(event, account=account)
    again = await handle_inbound(event, account=account)
    together = await asyncio.gather(*(handle_inbound(event, account=account) for _ in range(3)))

    assert [reply.status for reply in first] == [AutoReplyStatus.SENT]
    assert again == []
    assert together == [[], [], []]
    assert len(await sent(sim)) == 1
    assert len(await replies()) == 1


async def test_unique_constraint_stops_a_second_send_even_if_the_message_is_evaluated_again(
    sim, rule, account
):
    """The last line of defence: with no cooldown and the message evaluated afresh, the row decides."""
    await database_sync_to_async(Rule.objects.filter(pk=rule.pk).update)(cooldown_minutes=0)
    event = inbound_event(sim)
    await handle_inbound(event, account=account)
    await database_sync_to_async(Message.objects.filter(pk=event.resource_id).update)(evaluated_at=None)

    assert await handle_inbound(event, account=account) == []

    assert len(await sent(sim)) == 1
    assert len(await replies()) == 1
    logs = await decisions(event.resource_id)
    assert [log.reason for log in logs] == ["fired", RuleDecisionLog.ALREADY_ANSWERED]


async def test_two_relays_on_the_same_account_send_one_reply(sim, rule, relays):
    await start_relay(sim, relays)
    await start_relay(sim, relays)

    await receive_sms(sim)

    await until(lambda: sent_reply_exists(), timeout=10)
    await settled(relays)
    assert len(await sent(sim)) == 1
    assert len(await replies()) == 1


@pytest.mark.parametrize(
    ("source", "check"),
    [
        ("12345", "automated_sender"),  # a short code: another machine
        (DEMO_SALES_NUMBER, "own_number"),  # one of our numbers writing to another
    ],
)
async def test_loop_guard_never_answers_machines_or_ourselves(sim, rule, account, source, check):
    event = inbound_event(sim, source=source)

    assert await handle_inbound(event, account=account) == []

    assert await sent(sim) == []
    assert await replies() == []
    [log] = await decisions(event.resource_id)
    assert (log.reason, log.check_name, log.rule_id) == ("loop_guard", check, rule.pk)
    assert source in log.detail


async def test_second_message_within_cooldown_gets_no_reply(sim, rule, account):
    first = inbound_event(sim, text="Hello?")
    second = inbound_event(sim, text="Anyone there?")

    await handle_inbound(first, account=account)
    assert await handle_inbound(second, account=account) == []

    assert len(await sent(sim)) == 1
    [log] = await decisions(second.resource_id)
    assert log.reason == "cooldown"
    [reply] = await replies()
    assert log.until == reply.sent_at + rule.to_engine().cooldown


async def test_payment_required_fails_the_reply_without_retrying(sim, rule, account):
    await control(sim, "balance", {"customer_id": DEMO_CUSTOMER_ID, "insufficient": True})
    event = inbound_event(sim)

    [reply] = await handle_inbound(event, account=account)

    assert await sent(sim) == []
    [stored] = await replies()
    assert stored.pk == reply.pk
    assert stored.status == AutoReplyStatus.FAILED
    assert stored.error == "the account balance is too low to send this message"
    assert stored.attempts == 1
    assert await handle_inbound(event, account=account) == []  # a failure is final, too


async def test_relay_backfills_a_message_that_arrived_while_it_was_down(sim, rule, relays):
    message = await receive_sms(sim)  # nobody listening yet

    await start_relay(sim, relays)

    await until(lambda: sent_reply_exists(), timeout=10)
    await settled(relays)
    [reply] = await replies()
    assert reply.inbound_message_id == message["id"]
    assert len(await sent(sim)) == 1


def test_invalid_regex_is_refused_on_the_regex_field_with_re2s_reason(account):
    rule = Rule(account=account, name="Broken", reply="Hi", regex="(unclosed")

    with pytest.raises(ValidationError) as caught:
        rule.full_clean()

    assert caught.value.message_dict == {"regex": ["Invalid regular expression: missing ): (unclosed"]}


def test_admin_never_shows_the_access_key_and_a_blank_one_keeps_it(admin_client, account):
    page = admin_client.get(f"/admin/dashboard/account/{account.pk}/change/")

    assert page.status_code == 200
    assert 'type="password"' in page.content.decode()
    assert DEMO_ACCESS_KEY not in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if name != "access_key"}
    data.update(numbers='["+15555550102"]', automated_senders="[]", automated_markers='["noreply"]')
    saved = admin_client.post(f"/admin/dashboard/account/{account.pk}/change/", {**data, "access_key": ""})

    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    account.refresh_from_db()
    assert account.access_key == DEMO_ACCESS_KEY
    assert account.numbers == ["+15555550102"]


async def test_the_relay_tells_walls_when_the_accounts_voipbin_session_falls_silent(
    sim, account, relays, settings
):
    """With the relay worker keeping the account sessions, web processes learn of a silence through
    the channel layer (``account.status``), as they learn of changes (``account.changed``)."""
    from channels.layers import get_channel_layer

    from dashboard.walls.feed import account_group

    settings.UPSTREAM_SILENCE_SECONDS, settings.UPSTREAM_PING_INTERVAL = 0.5, 0.1
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(account_group(account.pk), channel)
    await start_relay(sim, relays)

    async def next_status(wanted) -> dict:
        while True:
            message = await asyncio.wait_for(layer.receive(channel), 5)
            if message["type"] == "account.status" and wanted(message["upstream"]):
                return message["upstream"]

    await next_status(lambda upstream: upstream["live"])
    sim.set_stalled(True)
    silent = await next_status(lambda upstream: upstream["silent_since"] is not None)
    assert not silent["live"]
    assert silent["heard_at"] >= silent["silent_since"] - 0.01  # the last thing heard: when it fell silent
    sim.set_stalled(False)
    back = await next_status(lambda upstream: upstream["live"])
    assert back["silent_since"] is None
