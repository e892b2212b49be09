"""Inbox queries: threads, unread counts, search, filters, VoIPBIN's order, tenancy, applying events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.csvexport import safe_cell
from dashboard.inbox import threads
from dashboard.inbox.export import BadRange, parse_range
from dashboard.live import apply_event
from dashboard.models import Message, ThreadRead
from dashboard.simulator.accounts import (
    DEMO_CUSTOMER_ID,
    DEMO_SMS_NUMBER,
    OTHER_CUSTOMER_ID,
    OTHER_SMS_NUMBER,
)
from dashboard.voipbin.events import normalize
from tests.inbox.conftest import OTHER_REMOTE, REMOTE, sms, stamp, store

pytestmark = pytest.mark.django_db

OTHER_OURS = "+15555550101"


def keys(rows: list[Message]) -> list[tuple[str, str]]:
    return [(row.our_number, row.remote) for row in rows]


def test_messages_group_into_threads_whichever_way_they_went(people):
    first = store(sms(direction="inbound", text="hi", minutes=1))
    answer = store(sms(direction="outbound", text="hello back", minutes=2))
    store(sms(direction="inbound", remote=OTHER_REMOTE, minutes=3))
    store(sms(direction="inbound", ours=OTHER_OURS, minutes=0))
    assert (first.our_number, first.remote) == (answer.our_number, answer.remote) == (DEMO_SMS_NUMBER, REMOTE)

    rows = threads.threads(people["manager"])

    assert keys(rows) == [(DEMO_SMS_NUMBER, OTHER_REMOTE), (DEMO_SMS_NUMBER, REMOTE), (OTHER_OURS, REMOTE)]
    assert rows[1].pk == answer.pk  # a thread shows as its newest message
    conversation = threads.thread_messages(people["manager"], our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert [m.pk for m in conversation] == [first.pk, answer.pk]


def test_thread_list_is_one_query_however_many_threads(people):
    for n in range(12):
        store(sms(remote=f"+1555555{n:04}", minutes=n))
    with CaptureQueriesContext(connection) as queries:
        rows = threads.threads(people["manager"])
    assert len(rows) == 12
    assert len(queries) <= 2  # the threads, and the auto-reply rule names


def test_unread_counts_inbound_messages_after_the_users_read_mark(people):
    manager, admin = people["manager"], people["admin"]
    store(sms(direction="inbound", minutes=1))
    store(sms(direction="inbound", minutes=2))
    store(sms(direction="outbound", minutes=3))
    assert threads.threads(manager)[0].unread == 2

    threads.mark_read(manager, our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert threads.threads(manager)[0].unread == 0
    assert threads.threads(admin)[0].unread == 2  # read marks are per user

    store(sms(direction="inbound", minutes=10**6))  # VoIPBIN time well after the read mark
    assert threads.threads(manager)[0].unread == 1
    assert ThreadRead.objects.filter(user=manager).count() == 1


def test_read_mark_covers_a_voipbin_clock_ahead_of_ours(people):
    manager = people["manager"]
    ahead = timezone.now() + timedelta(minutes=5)
    data = sms(direction="inbound")
    data["tm_create"] = data["tm_update"] = stamp(ahead)
    store(data)
    threads.mark_read(manager, our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    threads.mark_read(manager, our_number=DEMO_SMS_NUMBER, remote=REMOTE)  # again: no second mark
    assert threads.threads(manager)[0].unread == 0
    assert ThreadRead.objects.get(user=manager).read_at >= ahead


def test_search_matches_either_number_and_any_text_of_the_thread(people):
    manager = people["manager"]
    store(sms(text="My ORDER number is 42", minutes=1))
    store(sms(direction="outbound", text="thanks, looking", minutes=2))
    store(sms(remote=OTHER_REMOTE, text="unrelated", minutes=3))

    assert keys(threads.threads(manager, q="order")) == [(DEMO_SMS_NUMBER, REMOTE)]  # an older text
    assert keys(threads.threads(manager, q="0124")) == [(DEMO_SMS_NUMBER, OTHER_REMOTE)]
    assert len(threads.threads(manager, q=DEMO_SMS_NUMBER[-4:])) == 2
    assert threads.threads(manager, q="nothing like it") == []


def test_unanswered_keeps_threads_whose_newest_message_is_inbound(people):
    manager = people["manager"]
    store(sms(remote=REMOTE, minutes=1))
    store(sms(remote=REMOTE, direction="outbound", minutes=2))
    store(sms(remote=OTHER_REMOTE, direction="outbound", minutes=1))
    store(sms(remote=OTHER_REMOTE, minutes=2))

    assert keys(threads.threads(manager, unanswered=True)) == [(DEMO_SMS_NUMBER, OTHER_REMOTE)]
    assert keys(threads.threads(manager, q="0123", unanswered=True)) == []


def test_order_is_voipbin_time_not_arrival(people):
    manager = people["manager"]
    late = store(sms(text="third", minutes=3))
    early = store(sms(text="first", minutes=1))
    middle = store(sms(direction="outbound", text="second", minutes=2))
    other = store(sms(remote=OTHER_REMOTE, minutes=2.5))  # arrived last, but older than "third"

    conversation = threads.thread_messages(manager, our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert [m.text for m in conversation] == ["first", "second", "third"]
    assert [m.pk for m in threads.threads(manager)] == [late.pk, other.pk]
    assert sorted(m.sort_key for m in conversation) == [m.sort_key for m in conversation]
    assert early.pk != middle.pk


def test_nobody_sees_another_customers_threads_and_agents_see_none(people):
    store(sms(text="acme only"))
    store(sms(customer_id=OTHER_CUSTOMER_ID, ours=OTHER_SMS_NUMBER, text="globex only"))

    assert [m.text for m in threads.threads(people["manager"])] == ["acme only"]
    assert [m.text for m in threads.threads(people["outsider"])] == ["globex only"]
    assert threads.threads(people["agent"]) == []
    assert not threads.thread_exists(people["outsider"], our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert threads.thread_exists(people["manager"], our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert threads.thread_messages(people["outsider"], our_number=DEMO_SMS_NUMBER, remote=REMOTE) == []


def test_auto_reply_and_manual_sender_are_shown_on_messages(people):
    from dashboard.models import Account, AutoReply, Rule
    from dashboard.simulator.accounts import DEMO_CUSTOMER_ID

    account = Account.objects.create(
        name="Acme", customer_id=DEMO_CUSTOMER_ID, access_key="k", numbers=["+1"]
    )
    rule = Rule.objects.create(account=account, name="help", reply="We will call you")
    inbound = store(sms(text="help"))
    auto = store(sms(direction="outbound", text="We will call you", minutes=1))
    manual = store(sms(direction="outbound", text="Hi, Lee here", minutes=2))
    AutoReply.objects.create(
        inbound_message_id=inbound.pk,
        rule=rule,
        account=account,
        sender=REMOTE,
        our_number=DEMO_SMS_NUMBER,
        reply_text=auto.text,
        reply_message_id=auto.pk,
    )
    Message.objects.filter(pk=manual.pk).update(sent_by=people["manager"])

    shown = threads.thread_messages(people["manager"], our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert [(m.auto_rule, m.sender_name) for m in shown] == [("", ""), ("help", ""), ("", "manager")]
    assert inbound.account_id == account.pk  # the relay files messages under their account


def test_an_auto_reply_reported_before_the_relay_recorded_its_id_is_still_marked(people):
    """VoIPBIN's event for the sent reply usually beats the relay's write of the reply's id."""
    from dashboard.models import Account, AutoReply, Rule

    account = Account.objects.create(
        name="Acme", customer_id=DEMO_CUSTOMER_ID, access_key="k", numbers=["+1"]
    )
    rule = Rule.objects.create(account=account, name="help", reply="We will call you")
    inbound = store(sms(text="help"))
    AutoReply.objects.create(  # claimed, sent, answer not yet recorded
        inbound_message_id=inbound.pk,
        rule=rule,
        account=account,
        sender=REMOTE,
        our_number=DEMO_SMS_NUMBER,
        reply_text="We will call you",
    )
    reply = store(sms(direction="outbound", text="We will call you", minutes=1))
    elsewhere = store(sms(direction="outbound", text="We will call you", remote=OTHER_REMOTE, minutes=1))
    same_words_by_hand = store(sms(direction="outbound", text="We will call you", minutes=2))
    Message.objects.filter(pk=same_words_by_hand.pk).update(sent_by=people["manager"])

    shown = {
        m.pk: m.auto_rule
        for m in threads.thread_messages(people["manager"], our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    }
    assert shown[reply.pk] == "help"
    assert shown[same_words_by_hand.pk] == ""
    assert threads.decorate([elsewhere])[0].auto_rule == ""  # another sender's thread


# --- applying message events -----------------------------------------------------------------


def event(data: dict, name: str = "message_updated"):
    return normalize({"type": name, "data": data})


def test_a_delivery_update_changes_the_row_and_a_stale_one_does_not(people):
    data = sms(direction="outbound", status="queued")
    store(data)
    delivered = {
        **data,
        "tm_update": stamp(timezone.now()),
        "targets": [{**data["targets"][0], "status": "delivered"}],
    }

    change = apply_event(event(delivered))
    assert change is not None
    assert (change.created, change.row.status) == (False, "delivered")
    assert apply_event(event(data)) is None  # the queued state, late: older than the row
    assert Message.objects.get(pk=data["id"]).status == "delivered"
    assert Message.objects.count() == 1


def test_a_message_another_writer_stored_first_is_still_reported(people):
    """The account relay (auto-replies) and the reply view store messages too: pages must hear of them."""
    data = sms()
    Message.upsert(event(data), account=None)
    change = apply_event(event(data))
    assert change is not None
    assert change.created is False
    # VoIPBIN's event may carry fewer fields than the REST answer the reply view stored.
    fewer = {key: value for key, value in data.items() if key != "type"}
    assert apply_event(normalize({"type": "message_created", "data": fewer})) is not None
    assert Message.objects.count() == 1


def test_a_message_without_customer_is_skipped(people):
    data = sms()
    del data["customer_id"]
    assert apply_event(event(data)) is None
    assert not Message.objects.exists()


# --- export helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+15555550123", "'+15555550123"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_run_become_text(cell, safe):
    assert safe_cell(cell) == safe


@pytest.mark.parametrize(
    ("start", "end"), [("2026-13-01", ""), ("20260101", ""), ("", "yesterday"), ("2026-02-02", "2026-02-01")]
)
def test_bad_export_days_are_refused(start, end):
    with pytest.raises(BadRange):
        parse_range(start, end)


def test_export_days_include_both_ends():
    within = parse_range("2026-01-20", "2026-01-21")
    assert within.end - within.start == timedelta(days=2)
    assert not parse_range("", "").given
