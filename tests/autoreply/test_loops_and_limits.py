"""Loop protection, cooldown, daily cap and a hostile regex, through the relay and the simulator.

Messages arrive as VoIPBIN would deliver them (the simulator's inbound SMS over the event socket);
what went out is read from the simulator, why is read from the decision log. A reply sent to
another simulated customer's number arrives there as an inbound SMS, so two accounts' rules can
answer each other for real.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from dashboard.models import Account, Message, Rule, RuleDecisionLog
from dashboard.simulator.accounts import (
    OTHER_ACCESS_KEY,
    OTHER_CUSTOMER_ID,
    OTHER_NUMBERS,
    OTHER_SMS_NUMBER,
)
from tests.autoreply.helpers import SENDER, decisions, receive_sms, sent, settled, start_relay
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

AUTOMATIC = "Thanks, we got your message. This is an automatic reply."


@pytest.fixture
def globex(live_settings) -> Account:
    """The second simulated customer, also answering its SMS automatically."""
    return Account.objects.create(
        name="Globex", customer_id=OTHER_CUSTOMER_ID, access_key=OTHER_ACCESS_KEY, numbers=list(OTHER_NUMBERS)
    )


def answer_everything(account: Account, reply: str, **fields: Any) -> Rule:
    return Rule.objects.create(
        account=account, name=f"{account.name} answers", order=1, reply=reply, **fields
    )


@database_sync_to_async
def logs_of(rule: Rule) -> list[RuleDecisionLog]:
    return list(RuleDecisionLog.objects.filter(rule=rule).order_by("pk"))


async def reasons_once_decided(message_id: str, *, timeout: float = 5.0) -> list[str]:
    """The decision reasons for a message, waiting until the relay has logged them."""
    logs = await until(lambda: decisions(message_id), timeout=timeout)
    return [log.reason for log in logs]


def texts_to(outbox: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["body"]["destinations"][0]["target"], entry["body"]["text"]) for entry in outbox]


# --- two auto-responders writing to each other ----------------------------------------------------


async def test_an_automatic_reply_is_not_answered_by_the_other_accounts_rules(sim, account, globex, relays):
    acme_rule = await database_sync_to_async(answer_everything)(account, AUTOMATIC)
    globex_rule = await database_sync_to_async(answer_everything)(globex, "Globex here, thanks!")
    await start_relay(sim, relays)

    await receive_sms(sim, source=OTHER_SMS_NUMBER, text="Hello Acme, Globex here")

    [globex_log] = await until(lambda: logs_of(globex_rule), timeout=10)
    await settled(relays)
    assert texts_to(await sent(sim)) == [(OTHER_SMS_NUMBER, AUTOMATIC)]
    assert [log.reason for log in await logs_of(acme_rule)] == ["fired"]
    assert (globex_log.reason, globex_log.check_name) == ("loop_guard", "automated_sender")
    assert "automatic reply" in globex_log.detail


async def test_two_accounts_answering_each_other_stop_after_the_first_reply(sim, account, globex, relays):
    """Plain texts that no marker gives away: Globex recognises the reply as one of ours and keeps quiet."""
    acme_rule = await database_sync_to_async(answer_everything)(account, "Thanks, Acme will call you.")
    globex_rule = await database_sync_to_async(answer_everything)(globex, "Thanks, Globex will call you.")
    await start_relay(sim, relays)

    await receive_sms(sim, source=OTHER_SMS_NUMBER, text="Hello Acme, Globex here")

    [globex_log] = await until(lambda: logs_of(globex_rule), timeout=10)
    await settled(relays)
    assert texts_to(await sent(sim)) == [(OTHER_SMS_NUMBER, "Thanks, Acme will call you.")]
    assert [log.reason for log in await logs_of(acme_rule)] == ["fired"]
    assert (globex_log.reason, globex_log.check_name) == ("loop_guard", "our_auto_reply")


@database_sync_to_async
def _has_log(rule: Rule, reason: str) -> bool:
    return RuleDecisionLog.objects.filter(rule=rule, reason=reason).exists()


# --- automated senders, cooldown and cap at the relay --------------------------------------------


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("12345", "Your parcel is on its way"),  # a short code
        ("+15550009999", "Reminder: your appointment is tomorrow"),  # listed by the admin
        (SENDER, "Your code is 4711. Do not reply to this message."),  # says so itself
    ],
)
async def test_automated_sender_gets_no_reply(sim, account, rule, relays, source, text):
    await database_sync_to_async(Account.objects.filter(pk=account.pk).update)(
        automated_senders=["+15550009999"]
    )
    await start_relay(sim, relays)

    message = await receive_sms(sim, source=source, text=text)

    assert await reasons_once_decided(message["id"]) == ["loop_guard"]
    await settled(relays)
    assert await sent(sim) == []
    [log] = await decisions(message["id"])
    assert log.check_name == "automated_sender"


async def test_second_message_within_the_cooldown_gets_no_reply(sim, rule, relays):
    await start_relay(sim, relays)

    first = await receive_sms(sim, text="Hello?")
    assert await reasons_once_decided(first["id"]) == ["fired"]
    second = await receive_sms(sim, text="Anyone there?")

    assert await reasons_once_decided(second["id"]) == ["cooldown"]
    await settled(relays)
    assert len(await sent(sim)) == 1


async def test_daily_cap_holds_when_messages_arrive_together(sim, account, relays):
    """Three at once, cap two: replies still being sent count, so the third is refused."""
    await database_sync_to_async(Account.objects.filter(pk=account.pk).update)(daily_cap=2)
    await database_sync_to_async(answer_everything)(account, "Got it", cooldown_minutes=0)
    await start_relay(sim, relays)

    messages = [await receive_sms(sim, text=f"Message {n}") for n in range(3)]

    reasons = [await reasons_once_decided(message["id"]) for message in messages]
    await settled(relays)
    assert sorted(reasons) == [["daily_cap"], ["fired"], ["fired"]]
    assert texts_to(await sent(sim)) == [(SENDER, "Got it")] * 2


# --- a pattern that would hang a backtracking engine --------------------------------------------


async def test_catastrophic_regex_on_a_huge_message_does_not_block_the_relay(sim, account, relays):
    """``(a+)+$`` against 50 000 a's and a "!" takes a backtracking engine forever; RE2 is linear."""
    await database_sync_to_async(answer_everything)(account, "Got it", regex="(a+)+$")
    await start_relay(sim, relays)

    hostile = await receive_sms(sim, source="+15550001111", text="a" * 50_000 + "!")
    normal = await receive_sms(sim, source="+15550002222", text="aaaa")

    assert await reasons_once_decided(normal["id"], timeout=20) == ["fired"]
    assert await reasons_once_decided(hostile["id"], timeout=20) == ["no_match"]
    await settled(relays)
    assert texts_to(await sent(sim)) == [("+15550002222", "Got it")]
    [log] = await decisions(hostile["id"])
    assert log.check_name == "regex"
    stored = await database_sync_to_async(Message.objects.get)(pk=hostile["id"])
    assert len(stored.text) == 50_001
