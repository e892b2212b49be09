"""Dry run and replay: the stored rules' decisions with reasons, and nothing sent or stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from dashboard.autoreplies import simulate
from dashboard.autoreply import _first_in_conversation
from dashboard.models import AutoReply, AutoReplyStatus, Message, RuleDecisionLog
from tests.autoreplies.conftest import CUSTOMER, OUR_NUMBER, client_for, inbound, rule

pytestmark = pytest.mark.django_db

NEWCOMER = "+15559876543"
WEEKDAYS_NINE_TO_FIVE = [{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]


def stored_rows() -> tuple[int, int, int]:
    return AutoReply.objects.count(), RuleDecisionLog.objects.count(), Message.objects.count()


@pytest.fixture
def acme_rules(acme):
    """First match wins: prices, then office hours, then help; a switched-off rule last."""
    return [
        rule(acme, "Prices", 10, keywords=["price"]),
        rule(acme, "Hours", 20, keywords=["hours"], windows=WEEKDAYS_NINE_TO_FIVE, reply="Open till 17:00"),
        rule(acme, "Help", 30, keywords=["help"], reply="Hi {sender}, it is {time} at {our_number}."),
        rule(acme, "Old help", 40, keywords=["help"], enabled=False),
    ]


def try_rules(user: Any, *, htmx: bool = False, **overrides: str) -> Any:
    data = {
        "sender": CUSTOMER,
        "receiving_number": OUR_NUMBER,
        "text": "help, what are your hours?",
        "at": "2025-03-08T10:00",  # a Saturday, in Acme's zone (Berlin)
    }
    data.update(overrides)
    headers = {"HX-Request": "true"} if htmx else {}
    return client_for(user).post("/rules/dry-run/", data, headers=headers)


def outcomes(response: Any) -> dict[str, tuple[str, str]]:
    return {r.rule.name: (r.decision.reason, r.reason) for r in response.context["results"]}


def test_dry_run_reports_every_rules_reason_in_words(acme_rules, supervisor):
    before = stored_rows()

    response = try_rules(supervisor)

    assert response.status_code == 200
    assert outcomes(response) == {
        "Prices": ("no_match", "Conditions not met: no keyword in the text"),
        "Hours": ("outside_hours", "Outside the rule's hours"),
        "Help": ("fired", "Would reply"),
        "Old help": ("disabled", "Rule switched off"),
    }
    html = response.content.decode()
    assert "Sat 10:00 (Europe/Berlin) is outside Mon,Tue,Wed,Thu,Fri 09:00-17:00." in html
    assert f"Hi {CUSTOMER}, it is 10:00 at {OUR_NUMBER}." in html
    assert "1 reply would be sent" in html
    assert stored_rows() == before


def test_dry_run_time_is_wall_clock_time_in_the_accounts_zone(acme_rules, supervisor):
    """16:30 in Berlin is within 09:00-17:00; read as UTC it would be 17:30, outside."""
    inside = try_rules(supervisor, at="2025-03-10T16:30")
    outside = try_rules(supervisor, at="2025-03-10T17:30")

    assert outcomes(inside)["Hours"][0] == "fired"
    assert outcomes(inside)["Help"][0] == "earlier_rule_fired"
    assert outcomes(outside)["Hours"][0] == "outside_hours"


def test_dry_run_counts_replies_the_sender_really_got(acme, acme_rules, supervisor):
    help_rule = acme_rules[2]
    AutoReply.objects.create(
        inbound_message_id="earlier",
        rule=help_rule,
        account=acme,
        sender=CUSTOMER,
        our_number=OUR_NUMBER,
        reply_text="hi",
        status=AutoReplyStatus.SENT,
        created_at=timezone.now() - timedelta(minutes=10),
        sent_at=timezone.now() - timedelta(minutes=10),
    )
    now = timezone.localtime(timezone.now(), acme.settings().time_zone)

    response = try_rules(supervisor, at=f"{now:%Y-%m-%dT%H:%M}", text="help")

    assert outcomes(response)["Help"] == ("cooldown", "Cooling down for this sender")


def test_dry_run_first_message_checkbox(acme, supervisor):
    rule(acme, "Welcome", 10, first_message_only=True, reply="Welcome!")

    assert outcomes(try_rules(supervisor, text="hi"))["Welcome"][0] == "no_match"
    assert outcomes(try_rules(supervisor, text="hi", first_in_conversation="on"))["Welcome"][0] == "fired"


def test_a_far_off_dry_run_time_is_refused_on_the_field(acme_rules, supervisor):
    response = try_rules(supervisor, at="0001-01-01T00:10")

    assert response.status_code == 400
    assert "between 2000 and 2100" in response.content.decode()


def test_dry_run_loop_guard_for_our_own_number(acme_rules, supervisor):
    response = try_rules(supervisor, sender=OUR_NUMBER)

    words = "Never answered (loop guard): sent from one of our numbers"
    assert outcomes(response)["Help"] == ("loop_guard", words)


def test_htmx_dry_run_swaps_only_the_result(acme_rules, acme_admin):
    response = try_rules(acme_admin, htmx=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "What the rules would do" in html
    assert 'name="sender"' not in html


def test_htmx_dry_run_with_errors_retargets_the_form(acme_rules, acme_admin):
    response = try_rules(acme_admin, htmx=True, sender="", at="not a time")

    assert response["HX-Retarget"] == "#dry-run-panel"
    assert response["HX-Reswap"] == "outerHTML"
    assert set(response.context["form"].errors) == {"sender", "at"}
    assert 'id="dry-run-panel"' in response.content.decode()


def test_dry_run_without_javascript_renders_the_whole_page(acme_rules, acme_admin):
    response = try_rules(acme_admin, receiving_number="+19999999999")

    assert response.status_code == 400
    assert "receiving_number" in response.context["form"].errors
    assert "<html" in response.content.decode()


def test_dry_run_get_prefills_now_and_our_numbers(acme, supervisor):
    html = client_for(supervisor).get("/rules/dry-run/").content.decode()

    assert 'type="datetime-local"' in html
    assert f'<option value="{OUR_NUMBER}"' in html
    assert "Time (Europe/Berlin)" in html


# --- replay -------------------------------------------------------------------------------------


@pytest.fixture
def history(acme, globex):
    """A week of Acme's SMS (and one of Globex's) for the rules below, in ALL mode."""
    acme.mode = "all"
    acme.save()
    rule(acme, "Help", 10, keywords=["help"], reply="Help is on the way")
    rule(acme, "Welcome", 20, first_message_only=True, reply="Welcome!")
    now = timezone.now()
    inbound(acme, "m0", at=now - timedelta(days=10), text="hello")  # outside a 7-day replay
    inbound(acme, "m1", at=now - timedelta(days=3), text="help please")
    inbound(acme, "m2", at=now - timedelta(days=3) + timedelta(minutes=5), text="help again")  # cooldown
    inbound(acme, "m3", at=now - timedelta(days=2), text="hi there", sender=NEWCOMER)
    inbound(acme, "m4", at=now - timedelta(days=1), text="thanks", sender=NEWCOMER)
    Message.objects.create(
        pk="out1",
        account=acme,
        customer_id=acme.customer_id,
        direction="outbound",
        source=OUR_NUMBER,
        destination=NEWCOMER,
        text="help yourself",
        tm_create=now - timedelta(hours=5),
    )
    inbound(globex, "g1", at=now - timedelta(days=1), text="help from globex", to=globex.numbers[0])
    return now


def test_replay_shows_what_would_have_been_sent_and_sends_nothing(history, supervisor):
    before = stored_rows()

    response = client_for(supervisor).get("/rules/replay/?days=7")

    assert response.status_code == 200
    result = response.context["result"]
    assert result.messages == 4
    assert [(r.message_id, r.rule_name, r.reply) for r in result.replies] == [
        ("m1", "Help", "Help is on the way"),
        ("m3", "Welcome", "Welcome!"),
    ]
    assert (result.answered, result.unanswered) == (2, 2)
    assert result.per_rule == [("Help", 1), ("Welcome", 1)]
    html = response.content.decode()
    assert "help please" in html
    assert "help from globex" not in html
    assert stored_rows() == before
    assert not Message.objects.filter(evaluated_at__isnull=False).exists()


def test_replay_defaults_to_seven_days_and_looks_further_back_on_request(history, supervisor):
    default = client_for(supervisor).get("/rules/replay/").context["result"]
    month = client_for(supervisor).get("/rules/replay/?days=30").context["result"]

    assert default.days == 7
    assert default.messages == 4
    assert month.messages == 5
    assert [(r.message_id, r.rule_name) for r in month.replies][:1] == [("m0", "Welcome")]


@pytest.mark.parametrize("days", ["0", "31", "abc", "-3", ""])
def test_replay_refuses_a_bad_number_of_days_clearly(acme, supervisor, days):
    response = client_for(supervisor).get(f"/rules/replay/?days={days}")

    assert response.status_code == 400
    assert response.context["result"] is None
    assert "days" in response.context["form"].errors
    assert "days" in response.context["form"].errors["days"][0]


def test_replay_says_when_it_was_capped(history, supervisor, monkeypatch):
    monkeypatch.setattr(simulate, "MAX_REPLAY_MESSAGES", 2)

    response = client_for(supervisor).get("/rules/replay/?days=7")

    result = response.context["result"]
    assert result.capped is True
    assert result.messages == 2
    assert {r.message_id for r in result.replies} <= {"m3", "m4"}
    assert "only the latest 2 were replayed" in response.content.decode()


def test_conversation_openers_agree_with_the_relays_definition(history, acme):
    messages = list(Message.objects.filter(account=acme, direction="inbound"))

    openers = simulate.conversation_openers(acme, messages)

    assert openers == {m.pk for m in messages if _first_in_conversation(m, account=acme)}
    assert openers == {"m0", "m3"}
