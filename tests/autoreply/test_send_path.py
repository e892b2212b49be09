"""Sending a claimed reply when VoIPBIN refuses, fails, answers late, or the relay dies mid-send.

A refusal (429, 503) is retried by the REST client; anything else is final and recorded on the
reply. What may have reached the customer is never sent again. The simulator's list of accepted
sends is the witness.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from dashboard.autoreply import OUTCOME_UNKNOWN, STUCK_ERROR, handle_inbound
from dashboard.models import AutoReply, AutoReplyStatus, Message, Rule
from dashboard.simulator.accounts import DEMO_SMS_NUMBER
from dashboard.voipbin.rest import DEFAULT_RETRIES
from tests.autoreply.helpers import (
    control,
    decisions,
    inbound_event,
    replies,
    sent,
    settled,
    start_relay,
)
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPTS = 1 + DEFAULT_RETRIES


async def test_rate_limited_send_is_retried_and_recorded_once(sim, rule, account):
    await control(sim, "fail-sends", {"status": 429, "count": 1, "retry_after": 1})

    [reply] = await handle_inbound(inbound_event(sim), account=account)

    [stored] = await replies()
    assert (stored.status, stored.attempts, stored.error) == (AutoReplyStatus.SENT, 2, "")
    [out] = await sent(sim)
    assert out["message_id"] == stored.reply_message_id == reply.reply_message_id
    assert sim.stats()["sends_refused"] == 1


async def test_send_refused_on_every_attempt_fails_with_the_error_and_sends_nothing(sim, rule, account):
    await control(sim, "fail-sends", {"status": 503, "count": ATTEMPTS})
    event = inbound_event(sim)

    await handle_inbound(event, account=account)

    [stored] = await replies()
    assert (stored.status, stored.attempts) == (AutoReplyStatus.FAILED, ATTEMPTS)
    assert stored.error == "the messaging service is unavailable; try again later"
    assert await sent(sim) == []
    assert sim.controls()["fail_sends"] is None  # the last refusal was used: no attempt more or less
    assert await handle_inbound(event, account=account) == []  # a failure is final
    assert await sent(sim) == []


async def test_server_error_is_not_retried_because_the_sms_may_be_out(sim, rule, account):
    await control(sim, "fail-sends", {"status": 500, "count": 2})

    await handle_inbound(inbound_event(sim), account=account)

    [stored] = await replies()
    assert (stored.status, stored.attempts, stored.error) == (AutoReplyStatus.FAILED, 1, "internal error")
    assert sim.controls()["fail_sends"]["remaining"] == 1
    assert await sent(sim) == []


async def test_timed_out_send_fails_as_unknown_and_is_never_sent_again(sim, rule, account, settings):
    """VoIPBIN sent the SMS but answered too late: one SMS out, the reply failed, nothing repeated."""
    settings.VOIPBIN_HTTP_TIMEOUT = 0.3
    await control(sim, "delay-sends", {"delay": 60, "count": 1})
    event = inbound_event(sim)

    await handle_inbound(event, account=account)

    [stored] = await replies()
    assert (stored.status, stored.attempts) == (AutoReplyStatus.FAILED, 1)
    assert stored.error.startswith(f"{OUTCOME_UNKNOWN}: VoIPBIN did not answer in time")
    assert len(await sent(sim)) == 1
    await database_sync_to_async(Message.objects.filter(pk=event.resource_id).update)(evaluated_at=None)
    assert await handle_inbound(event, account=account) == []  # the row stops even a fresh evaluation
    later = inbound_event(sim, text="Did you get my message?")
    assert await handle_inbound(later, account=account) == []  # an unknown outcome holds the cooldown
    assert [log.reason for log in await decisions(later.resource_id)] == ["cooldown"]
    assert len(await sent(sim)) == 1


async def test_reply_left_pending_by_a_relay_that_died_is_failed_by_the_sweep_and_never_sent(
    sim, rule, account, relays, caplog
):
    await control(sim, "delay-sends", {"delay": 60, "count": 1})
    sending = asyncio.create_task(handle_inbound(inbound_event(sim), account=account))
    await until(lambda: sim.stats()["sends_accepted"] == 1)
    sending.cancel()  # the relay stops while VoIPBIN has not answered yet
    with pytest.raises(asyncio.CancelledError):
        await sending
    [stuck] = await replies()
    assert stuck.status == AutoReplyStatus.PENDING
    await _age(stuck, timedelta(minutes=10))
    fresh = await _pending_reply(rule, inbound_message_id="still-being-sent", age=timedelta(minutes=1))

    with caplog.at_level(logging.WARNING, logger="dashboard.autoreply"):
        await start_relay(sim, relays, stuck_after=timedelta(minutes=5))
        await until(lambda: _status(stuck.pk, AutoReplyStatus.FAILED))

    stuck = await _reply(stuck.pk)
    assert stuck.error == STUCK_ERROR
    assert (await _reply(fresh.pk)).status == AutoReplyStatus.PENDING
    assert f"auto-reply {stuck.pk} " in caplog.text
    await control(sim, "inject", {"resource": "message", "data": {"id": stuck.inbound_message_id}})
    await settled(relays)  # the event came again: nothing may follow it
    assert len(await sent(sim)) == 1  # the one VoIPBIN accepted before the relay died


async def test_a_reply_waiting_its_turn_is_not_swept_and_one_given_up_on_is_not_sent(sim, rule, account):
    """Every matching rule's reply goes out one by one: the sweep measures from each send's start."""
    from dashboard.autoreply import _send, fail_stuck_replies

    queued = await _pending_reply(rule, inbound_message_id="queued", age=timedelta(minutes=10))
    await database_sync_to_async(AutoReply.objects.filter(pk=queued.pk).update)(
        send_started_at=timezone.now()
    )
    assert await database_sync_to_async(fail_stuck_replies)(older_than=timedelta(minutes=5)) == []

    given_up = await _pending_reply(rule, inbound_message_id="given-up", age=timedelta(minutes=10))
    await database_sync_to_async(fail_stuck_replies)(older_than=timedelta(minutes=5))
    result = await _send(given_up, accesskey=account.access_key)  # its turn comes after all
    assert (result.status, result.error) == (AutoReplyStatus.FAILED, STUCK_ERROR)
    assert await sent(sim) == []


async def test_sweep_runs_again_every_interval(sim, rule, relays):
    """The reply is not yet stuck at start; only a later round can fail it."""
    await start_relay(sim, relays, stuck_after=timedelta(seconds=0.5), sweep_interval=0.05)
    abandoned = await _pending_reply(rule, inbound_message_id="abandoned", age=timedelta(0))

    await until(lambda: _status(abandoned.pk, AutoReplyStatus.FAILED))

    assert (await _reply(abandoned.pk)).error == STUCK_ERROR
    assert await sent(sim) == []


@database_sync_to_async
def _pending_reply(rule: Rule, *, inbound_message_id: str, age: timedelta) -> AutoReply:
    """A reply claimed ``age`` ago and not finished, as a relay leaves it while (or after) sending."""
    return AutoReply.objects.create(
        inbound_message_id=inbound_message_id,
        rule=rule,
        account=rule.account,
        sender="+15550001111",
        our_number=DEMO_SMS_NUMBER,
        reply_text="Hi",
        created_at=timezone.now() - age,
    )


@database_sync_to_async
def _age(reply: AutoReply, age: timedelta) -> None:
    """Claimed and started ``age`` ago."""
    then = timezone.now() - age
    AutoReply.objects.filter(pk=reply.pk).update(created_at=then, send_started_at=then)


@database_sync_to_async
def _reply(pk: int) -> AutoReply:
    return AutoReply.objects.get(pk=pk)


@database_sync_to_async
def _status(pk: int, status: str) -> bool:
    return AutoReply.objects.filter(pk=pk, status=status).exists()
