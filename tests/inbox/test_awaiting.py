"""A thread awaits a person until a person answers: an auto-reply keeps it waiting unless its rule closes it.

One definition (``threads.awaiting_person``) feeds the inbox filter, each row's state, the thread
page, the live rows, the wall's inbox panel and the export; these tests hold them to it.
"""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client

from dashboard.changes import Change
from dashboard.inbox import threads
from dashboard.inbox.export import exported
from dashboard.inbox.pages import INBOX_PAGE
from dashboard.models import Account, AutoReply, AutoReplyStatus, Message, Rule
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_NUMBERS, DEMO_SMS_NUMBER
from dashboard.walls.panels import panels_context, render_panels
from tests.inbox.conftest import OTHER_REMOTE, REMOTE, sms, store

pytestmark = pytest.mark.django_db

THIRD_REMOTE = "+15555550125"
FOURTH_REMOTE = "+15555550126"
HELP_REPLY = "Thanks! An agent will text you back shortly."
CLOSED_REPLY = "We are closed on Sundays. See you Monday!"


@pytest.fixture
def acme(db) -> Account:
    return Account.objects.create(
        name="Acme", customer_id=DEMO_CUSTOMER_ID, access_key="k", numbers=list(DEMO_NUMBERS)
    )


@pytest.fixture
def help_rule(acme: Account) -> Rule:
    return Rule.objects.create(account=acme, name="help", order=10, keywords=["help"], reply=HELP_REPLY)


@pytest.fixture
def closing_rule(acme: Account) -> Rule:
    return Rule.objects.create(
        account=acme, name="closed", order=20, reply=CLOSED_REPLY, closes_conversation=True
    )


def auto_reply(rule: Rule, inbound: Message, *, minutes: float, linked: bool = True, remote: str = REMOTE):
    """The relay's claim and the message it went out as (linked by id, or not yet: VoIPBIN was faster)."""
    claim = AutoReply.objects.create(
        inbound_message_id=inbound.pk,
        rule=rule,
        account=rule.account,
        sender=remote,
        our_number=DEMO_SMS_NUMBER,
        reply_text=rule.reply,
        status=AutoReplyStatus.SENT if linked else AutoReplyStatus.PENDING,
    )
    message = store(sms(direction="outbound", text=rule.reply, remote=remote, minutes=minutes))
    if linked:
        AutoReply.objects.filter(pk=claim.pk).update(reply_message_id=message.pk)
    return message


def by_hand(user, *, minutes: float, text: str = "Hi, Lee here", remote: str = REMOTE) -> Message:
    message = store(sms(direction="outbound", text=text, remote=remote, minutes=minutes))
    Message.objects.filter(pk=message.pk).update(sent_by=user)
    return message


def head(user, remote: str = REMOTE) -> Message:
    [row] = [row for row in threads.threads(user) if row.remote == remote]
    return row


def awaiting_remotes(user) -> set[str]:
    return {row.remote for row in threads.threads(user, unanswered=True)}


def test_an_inbound_message_awaits_a_person(people, acme):
    store(sms(text="hello?", minutes=1))

    row = head(people["manager"])
    assert row.state.awaiting
    assert row.state.label == "Awaiting reply"
    assert awaiting_remotes(people["manager"]) == {REMOTE}


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "reported-before-the-relay-linked-it"])
def test_an_auto_reply_keeps_the_thread_awaiting_and_says_so(people, help_rule, linked):
    inbound = store(sms(text="help please", minutes=1))
    auto_reply(help_rule, inbound, minutes=2, linked=linked)

    row = head(people["manager"])
    assert row.auto_rule == "help"
    assert row.state.awaiting
    assert row.state.label == "Auto-reply sent (rule “help”) · awaiting a person"
    assert awaiting_remotes(people["manager"]) == {REMOTE}


def test_an_auto_reply_of_a_closing_rule_is_the_answer(people, closing_rule):
    inbound = store(sms(text="open on Sunday?", minutes=1))
    auto_reply(closing_rule, inbound, minutes=2)

    row = head(people["manager"])
    assert not row.state.awaiting
    assert row.state.label == "Answered by auto-reply (rule “closed”)"
    assert awaiting_remotes(people["manager"]) == set()


def test_a_person_answers_and_a_new_message_awaits_again(people, help_rule):
    manager = people["manager"]
    inbound = store(sms(text="help please", minutes=1))
    auto_reply(help_rule, inbound, minutes=2)
    assert head(manager).state.awaiting

    by_hand(manager, minutes=3)
    assert not head(manager).state.awaiting
    assert head(manager).state.label == "Answered by manager"
    assert awaiting_remotes(manager) == set()

    store(sms(text="one more thing", minutes=4))
    assert head(manager).state.awaiting
    assert head(manager).state.label == "Awaiting reply"
    assert awaiting_remotes(manager) == {REMOTE}


def test_a_message_a_person_sent_elsewhere_through_voipbin_is_an_answer(people, acme):
    """Outbound, not from the inbox (no ``sent_by``) and no auto-reply's: a person sent it."""
    store(sms(text="hello?", minutes=1))
    store(sms(direction="outbound", text="Sent from the VoIPBIN app", minutes=2))

    assert not head(people["manager"]).state.awaiting
    assert head(people["manager"]).state.label == "Answered"


def test_a_person_typing_an_auto_replys_words_still_answers(people, help_rule):
    inbound = store(sms(text="help please", minutes=1))
    auto_reply(help_rule, inbound, minutes=2, linked=False)  # the claim stays unlinked
    by_hand(people["manager"], minutes=3, text=HELP_REPLY)

    assert not head(people["manager"]).state.awaiting


def test_the_filter_the_counts_the_wall_and_the_export_agree(people, acme, help_rule, closing_rule):
    manager = people["manager"]
    first = store(sms(text="help", remote=REMOTE, minutes=1))
    auto_reply(help_rule, first, minutes=2)  # awaiting: the auto-reply promised a person
    second = store(sms(text="sunday?", remote=OTHER_REMOTE, minutes=3))
    auto_reply(closing_rule, second, minutes=4, remote=OTHER_REMOTE)  # answered by its rule
    store(sms(text="anyone?", remote=THIRD_REMOTE, minutes=5))  # awaiting
    store(sms(text="thanks", remote=FOURTH_REMOTE, minutes=6))
    by_hand(manager, minutes=7, remote=FOURTH_REMOTE)  # answered by a person

    listed = awaiting_remotes(manager)
    assert listed == {REMOTE, THIRD_REMOTE}
    assert {row.remote for row in threads.threads(manager) if row.state.awaiting} == listed
    assert {m.remote for m in threads.waiting_threads(customer_id=DEMO_CUSTOMER_ID, limit=10)} == listed
    assert threads.waiting_count(customer_id=DEMO_CUSTOMER_ID) == len(listed)
    assert {m.remote for m in exported(manager, unanswered=True)} == listed

    wall = panels_context(acme, ["inbox"])
    assert {m.remote for m in wall["threads"]} == listed
    assert wall["threads_waiting"] == len(listed)
    # The wall shows what waits: the newest inbound message, not the auto-reply after it.
    assert [m.text for m in wall["threads"]] == ["help", "anyone?"]
    panel = render_panels(acme.pk, ["inbox"])["inbox"]
    assert "anyone?" in panel
    assert "sunday?" not in panel
    assert "thanks" not in panel


def test_the_inbox_filter_page_lists_the_auto_replied_thread(people, help_rule, closing_rule):
    manager = people["manager"]
    first = store(sms(text="help", remote=REMOTE, minutes=1))
    auto_reply(help_rule, first, minutes=2)
    second = store(sms(text="sunday?", remote=OTHER_REMOTE, minutes=3))
    auto_reply(closing_rule, second, minutes=4, remote=OTHER_REMOTE)
    client = Client()
    client.force_login(manager)

    page = unescape(client.get("/messages/", {"unanswered": "1"}).content.decode())

    assert f"threadrow-{threads.thread_key(DEMO_SMS_NUMBER, REMOTE)}" in page
    assert f"threadrow-{threads.thread_key(DEMO_SMS_NUMBER, OTHER_REMOTE)}" not in page
    assert "Auto-reply sent (rule “help”) · awaiting a person" in page

    everything = unescape(client.get("/messages/").content.decode())
    assert 'data-unanswered="1"' in everything
    assert "Answered by auto-reply (rule “closed”)" in everything


def test_the_thread_page_says_whether_it_awaits_a_person(people, help_rule):
    manager = people["manager"]
    inbound = store(sms(text="help", minutes=1))
    auto_reply(help_rule, inbound, minutes=2)
    client = Client()
    client.force_login(manager)

    page = unescape(
        client.get("/messages/thread/", {"our": DEMO_SMS_NUMBER, "remote": REMOTE}).content.decode()
    )

    key = threads.thread_key(DEMO_SMS_NUMBER, REMOTE)
    assert f'id="threadstate-{key}"' in page
    assert "Auto-reply sent (rule “help”) · awaiting a person" in page
    assert "auto-reply (rule help)" in page


def test_pushed_rows_say_auto_reply_and_stay_awaiting_until_a_person_answers(people, help_rule):
    manager = people["manager"]
    inbound = store(sms(text="help", minutes=1))
    reply = auto_reply(help_rule, inbound, minutes=2, linked=False)  # as it usually arrives

    pushed = unescape(INBOX_PAGE.render_change(Change("message", reply, created=True))["supervisor"])
    assert 'data-unanswered="1"' in pushed
    assert "Auto-reply sent (rule “help”) · awaiting a person" in pushed
    key = threads.thread_key(DEMO_SMS_NUMBER, REMOTE)
    assert f'<p id="threadstate-{key}"' in pushed  # the thread's own page updates too
    assert 'hx-swap-oob="morph"' in pushed

    answer = by_hand(manager, minutes=3)
    answer.refresh_from_db()
    pushed = unescape(INBOX_PAGE.render_change(Change("message", answer, created=True))["supervisor"])
    assert 'data-unanswered="0"' in pushed
    assert "Answered by manager" in pushed


def test_a_closing_rules_auto_reply_says_it_counts_as_the_answer(people, closing_rule):
    inbound = store(sms(text="sunday?", minutes=1))
    auto_reply(closing_rule, inbound, minutes=2)

    shown = threads.thread_messages(people["manager"], our_number=DEMO_SMS_NUMBER, remote=REMOTE)
    assert [(m.auto_rule, m.auto_closes) for m in shown] == [("", False), ("closed", True)]
    assert {m.state.awaiting for m in shown} == {False}


def test_export_of_awaiting_threads_has_every_message_with_its_rule(people, help_rule):
    inbound = store(sms(text="help", minutes=1))
    auto_reply(help_rule, inbound, minutes=2)

    rows = threads.decorate(list(exported(people["manager"], unanswered=True).order_by("tm_create")))
    assert [(m.direction, m.auto_rule) for m in rows] == [("inbound", ""), ("outbound", "help")]


def test_the_thread_list_is_still_one_query(people, help_rule):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(6):
        inbound = store(sms(text="help", remote=f"+1555555{n:04}", minutes=n))
        auto_reply(help_rule, inbound, minutes=n + 0.5, remote=f"+1555555{n:04}")
    with CaptureQueriesContext(connection) as queries:
        rows = threads.threads(people["manager"])
    assert len(rows) == 6
    assert all(row.state.awaiting for row in rows)
    assert len(queries) <= 2  # the threads with their state, and the auto-reply rule names


def test_a_thread_page_resync_brings_its_state_line(people, help_rule):
    inbound = store(sms(text="help", minutes=1))
    auto_reply(help_rule, inbound, minutes=2)

    html = unescape(INBOX_PAGE.render_lists(people["manager"], our=DEMO_SMS_NUMBER, remote=REMOTE))

    key = threads.thread_key(DEMO_SMS_NUMBER, REMOTE)
    assert f'<p id="threadstate-{key}"' in html
    assert "Auto-reply sent (rule “help”) · awaiting a person" in html
    assert (
        INBOX_PAGE.render_lists(people["manager"], our=DEMO_SMS_NUMBER, remote=OTHER_REMOTE).count(
            "threadstate-"
        )
        == 0
    )  # no such thread: no state line
