"""The auto-reply engine over plain data: conditions, placeholders, order, modes and every safety rule.

No database and no Django here: the engine takes what the caller loaded and returns decisions.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.rules import (
    AccountSettings,
    AutomatedSenders,
    Conditions,
    Direction,
    InboundMessage,
    Mode,
    PastReply,
    Reason,
    Rule,
    RuleError,
    TimeWindow,
    dry_run,
    evaluate,
    looks_automated,
    render_reply,
    replay,
    validate_account,
    validate_rule,
)

SEOUL = ZoneInfo("Asia/Seoul")
UTC = ZoneInfo("UTC")
CUSTOMER = "+821012345678"
OTHER_CUSTOMER = "+821098765432"
OUR_NUMBER = "+82215990000"
OUR_OTHER_NUMBER = "+82215991111"
WEEKDAYS = frozenset(range(5))
BUSINESS_HOURS = TimeWindow(weekdays=WEEKDAYS, start=time(9), end=time(18))

# Monday 2025-03-03, 14:05 in Seoul (05:05 UTC).
MONDAY_AFTERNOON = datetime(2025, 3, 3, 14, 5, tzinfo=SEOUL)


def account(**overrides) -> AccountSettings:
    values = {"time_zone": SEOUL, "own_numbers": frozenset({OUR_NUMBER, OUR_OTHER_NUMBER})}
    values.update(overrides)
    return AccountSettings(**values)


def message(text: str = "hello", **overrides) -> InboundMessage:
    values = {
        "id": "msg-1",
        "sender": CUSTOMER,
        "receiving_number": OUR_NUMBER,
        "text": text,
        "received_at": MONDAY_AFTERNOON,
    }
    values.update(overrides)
    return InboundMessage(**values)


def rule(rule_id: int = 1, *, order: int | None = None, reply: str = "Thanks!", **conditions) -> Rule:
    return Rule(
        id=rule_id,
        name=f"rule {rule_id}",
        reply=reply,
        order=rule_id if order is None else order,
        conditions=Conditions(**conditions),
    )


def decide(msg: InboundMessage, *rules: Rule, mode: str = "first", history=(), acct=None, now=None):
    return evaluate(
        msg, list(rules), mode=mode, account=acct or account(), history=list(history), now=now
    ).decisions


def only(msg: InboundMessage, one_rule: Rule, **kwargs):
    (decision,) = decide(msg, one_rule, **kwargs)
    return decision


# --- conditions -------------------------------------------------------------------------------------


def test_keywords_match_any_of_them_case_insensitively():
    catalogue = rule(keywords=("price", "cost"))
    assert only(message("What does it COST?"), catalogue).fired
    missed = only(message("Where are you?"), catalogue)
    assert (missed.reason, missed.check) == (Reason.NO_MATCH, "keywords")
    assert "price, cost" in missed.detail


def test_whole_word_keyword_does_not_match_inside_another_word():
    assert only(message("That is priceless"), rule(keywords=("price",))).fired
    whole = rule(keywords=("price",), whole_word=True)
    assert only(message("That is priceless"), whole).check == "keywords"
    assert only(message("Price?"), whole).fired
    assert only(message("가격 price_list"), whole).check == "keywords"
    assert only(message("가격(price)"), whole).fired


def test_exact_text_ignores_case_and_surrounding_spaces_only():
    stop = rule(exact_text="STOP")
    assert only(message("  stop \n"), stop).fired
    missed = only(message("stop please"), stop)
    assert (missed.reason, missed.check) == (Reason.NO_MATCH, "exact_text")


def test_regex_searches_the_text():
    order_number = rule(regex=r"(?i)order\s+#?\d{4,}")
    assert only(message("Where is Order #12345?"), order_number).fired
    assert only(message("Where is my order?"), order_number).check == "regex"


def test_sender_must_be_in_the_list():
    vip = rule(senders_in=("+82 10-1234-5678",))
    assert only(message(), vip).fired
    missed = only(message(sender=OTHER_CUSTOMER), vip)
    assert (missed.reason, missed.check) == (Reason.NO_MATCH, "senders_in")


def test_sender_must_not_be_in_the_excluded_list():
    not_staff = rule(senders_not_in=(OTHER_CUSTOMER,))
    assert only(message(), not_staff).fired
    assert only(message(sender=OTHER_CUSTOMER), not_staff).check == "senders_not_in"


def test_receiving_number_must_be_one_of_the_list():
    sales_line = rule(receiving_numbers=(OUR_OTHER_NUMBER,))
    assert only(message(receiving_number=OUR_OTHER_NUMBER), sales_line).fired
    missed = only(message(receiving_number=OUR_NUMBER), sales_line)
    assert (missed.reason, missed.check) == (Reason.NO_MATCH, "receiving_number")


def test_first_message_only_answers_the_opening_message():
    welcome = rule(first_message_only=True)
    assert only(message(first_in_conversation=True), welcome).fired
    assert only(message(first_in_conversation=False), welcome).check == "first_message"


def test_every_condition_must_hold():
    both = rule(keywords=("hours",), senders_in=(OTHER_CUSTOMER,))
    missed = only(message("opening hours?"), both)
    assert (missed.reason, missed.check) == (Reason.NO_MATCH, "senders_in")
    assert only(message("opening hours?", sender=OTHER_CUSTOMER), both).fired


def test_time_window_is_read_in_the_account_time_zone():
    office = rule(windows=(BUSINESS_HOURS,))
    # 01:30 UTC is 10:30 in Seoul: inside; but 10:30 UTC is 19:30 in Seoul: outside.
    assert only(message(), office, now=datetime(2025, 3, 3, 1, 30, tzinfo=UTC)).fired
    late = only(message(), office, now=datetime(2025, 3, 3, 10, 30, tzinfo=UTC))
    assert (late.reason, late.check) == (Reason.OUTSIDE_HOURS, "windows")
    assert "Mon 19:30 (Asia/Seoul)" in late.detail
    saturday = only(message(), office, now=datetime(2025, 3, 8, 11, 0, tzinfo=SEOUL))
    assert saturday.reason == Reason.OUTSIDE_HOURS


def test_outside_business_hours_flag_inverts_the_windows():
    after_hours = rule(windows=(BUSINESS_HOURS,), outside_windows=True)
    evening = datetime(2025, 3, 3, 19, 0, tzinfo=SEOUL)
    sunday_noon = datetime(2025, 3, 9, 12, 0, tzinfo=SEOUL)
    assert only(message(), after_hours, now=evening).fired
    assert only(message(), after_hours, now=sunday_noon).fired
    during = only(message(), after_hours, now=MONDAY_AFTERNOON)
    assert during.reason == Reason.OUTSIDE_HOURS
    assert "only outside" in during.detail


def test_window_crossing_midnight_belongs_to_the_day_it_starts():
    friday_night = rule(windows=(TimeWindow(weekdays=frozenset({4}), start=time(22), end=time(2)),))

    def at(day: int, hour: int, minute: int = 0) -> Reason:
        return only(message(), friday_night, now=datetime(2025, 3, day, hour, minute, tzinfo=SEOUL)).reason

    # 2025-03-07 is a Friday.
    assert at(7, 22) == Reason.FIRED
    assert at(7, 23, 59) == Reason.FIRED
    assert at(8, 1, 30) == Reason.FIRED
    assert at(7, 21, 59) == Reason.OUTSIDE_HOURS
    assert at(8, 2) == Reason.OUTSIDE_HOURS
    assert at(8, 22, 30) == Reason.OUTSIDE_HOURS
    assert at(7, 1, 0) == Reason.OUTSIDE_HOURS


def test_outside_night_window_crossing_midnight():
    not_at_night = rule(
        windows=(TimeWindow(weekdays=frozenset(range(7)), start=time(22), end=time(7)),), outside_windows=True
    )
    assert only(message(), not_at_night, now=datetime(2025, 3, 4, 6, 59, tzinfo=SEOUL)).reason == (
        Reason.OUTSIDE_HOURS
    )
    assert only(message(), not_at_night, now=datetime(2025, 3, 4, 7, 0, tzinfo=SEOUL)).fired


# --- placeholders ---------------------------------------------------------------------------------


def test_sender_placeholder():
    assert only(message(), rule(reply="Hi {sender}")).reply_text == f"Hi {CUSTOMER}"


def test_our_number_placeholder_is_the_receiving_number():
    decision = only(message(receiving_number=OUR_OTHER_NUMBER), rule(reply="You wrote to {our_number}"))
    assert decision.reply_text == f"You wrote to {OUR_OTHER_NUMBER}"


def test_time_placeholder_is_formatted_in_the_account_time_zone():
    at = datetime(2025, 3, 3, 5, 5, tzinfo=UTC)
    assert only(message(), rule(reply="Got it at {time}."), now=at).reply_text == "Got it at 14:05."
    assert render_reply("{time}", sender=CUSTOMER, our_number=OUR_NUMBER, at=at, time_zone=UTC) == "05:05"


def test_doubled_braces_are_literal():
    text = render_reply(
        "{{ref}} {sender}", sender=CUSTOMER, our_number=OUR_NUMBER, at=MONDAY_AFTERNOON, time_zone=SEOUL
    )
    assert text == f"{{ref}} {CUSTOMER}"


def test_unknown_placeholder_is_rejected_with_the_available_ones():
    with pytest.raises(RuleError, match=r"Unknown placeholder \{name\}") as caught:
        validate_rule(rule(reply="Hello {name}"))
    assert caught.value.field == "reply"
    assert "{sender}, {our_number}, {time}" in caught.value.message


@pytest.mark.parametrize("reply", ["Hello {sender", "Hello }", "Hi {}", "At {time:%H}", "{sender!r}", "  "])
def test_malformed_reply_text_is_rejected(reply):
    with pytest.raises(RuleError) as caught:
        validate_rule(rule(reply=reply))
    assert caught.value.field == "reply"


# --- validation -------------------------------------------------------------------------------------


def test_invalid_regex_is_rejected_with_re2s_own_message():
    with pytest.raises(RuleError) as caught:
        validate_rule(rule(regex="(abc"))
    assert caught.value.message == "Invalid regular expression: missing ): (abc"
    assert caught.value.field == "regex"


def test_backreference_is_rejected_because_re2_has_none():
    with pytest.raises(RuleError, match=r"invalid escape sequence: \\1"):
        validate_rule(rule(regex=r"(a)\1"))


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"keywords": ("ok", " ")}, "keywords"),
        ({"exact_text": " "}, "exact_text"),
        ({"senders_in": ("",)}, "senders_in"),
        ({"windows": (TimeWindow(weekdays=frozenset(), start=time(9), end=time(17)),)}, "windows"),
        ({"windows": (TimeWindow(weekdays=frozenset({7}), start=time(9), end=time(17)),)}, "windows"),
        ({"outside_windows": True}, "windows"),
    ],
)
def test_other_invalid_conditions_are_rejected(conditions, field):
    with pytest.raises(RuleError) as caught:
        validate_rule(rule(**conditions))
    assert caught.value.field == field


def test_valid_rule_passes_validation():
    validate_rule(rule(keywords=("price",), regex=r"\d+", windows=(BUSINESS_HOURS,), reply="{sender} {time}"))


def test_a_rule_that_slipped_past_validation_is_skipped_not_fatal():
    decisions = decide(message("abc"), rule(1, regex="(abc"), rule(2))
    assert [(d.reason, d.check) for d in decisions] == [(Reason.INVALID_RULE, "regex"), (Reason.FIRED, None)]


def test_invalid_automated_sender_pattern_is_rejected():
    with pytest.raises(RuleError, match="Invalid regular expression") as caught:
        validate_account(account(automated=AutomatedSenders(patterns=("[0-",))))
    assert caught.value.field == "patterns"


# --- order and modes ---------------------------------------------------------------------------------


def test_rules_run_in_their_explicit_order_not_list_order():
    late = rule(1, order=20, reply="late")
    early = rule(2, order=10, reply="early")
    decisions = decide(message(), late, early)
    assert [(d.rule_id, d.reason) for d in decisions] == [(2, Reason.FIRED), (1, Reason.EARLIER_RULE_FIRED)]
    assert "rule 2" in decisions[1].detail


def test_first_mode_stops_at_the_first_rule_that_fires():
    decisions = decide(message("price"), rule(1, keywords=("hours",)), rule(2, keywords=("price",)), rule(3))
    assert [d.reason for d in decisions] == [Reason.NO_MATCH, Reason.FIRED, Reason.EARLIER_RULE_FIRED]


def test_all_mode_fires_every_matching_rule():
    decisions = decide(
        message("price"), rule(1, keywords=("price",)), rule(2, keywords=("hours",)), rule(3), mode=Mode.ALL
    )
    assert [d.reason for d in decisions] == [Reason.FIRED, Reason.NO_MATCH, Reason.FIRED]


def test_first_mode_falls_through_to_the_next_rule_when_the_first_match_is_cooling_down():
    history = [PastReply(rule_id=1, sender=CUSTOMER, sent_at=MONDAY_AFTERNOON - timedelta(minutes=5))]
    decisions = decide(message("price"), rule(1, keywords=("price",)), rule(2), history=history)
    assert [d.reason for d in decisions] == [Reason.COOLDOWN, Reason.FIRED]


def test_disabled_rule_is_reported_and_skipped():
    off = Rule(id=1, name="off", reply="x", order=1, enabled=False)
    decisions = decide(message(), off, rule(2))
    assert [d.reason for d in decisions] == [Reason.DISABLED, Reason.FIRED]


def test_decision_carries_the_message_and_rule_key():
    decision = only(message(id="sms-42"), rule(7))
    assert decision.key == ("sms-42", 7)
    assert (decision.rule_name, decision.reply_text) == ("rule 7", "Thanks!")


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="'sometimes'"):
        decide(message(), rule(), mode="sometimes")


# --- loop guard -------------------------------------------------------------------------------------


def test_outbound_messages_are_never_answered():
    decisions = decide(message(direction=Direction.OUTBOUND), rule(1), rule(2), mode="all")
    assert {(d.reason, d.check) for d in decisions} == {(Reason.LOOP_GUARD, "outbound")}


def test_messages_from_our_own_numbers_are_never_answered():
    own = only(message(sender="+82 2 1599 1111"), rule())
    assert (own.reason, own.check) == (Reason.LOOP_GUARD, "own_number")
    to_itself = only(message(sender="+15550001111", receiving_number="+15550001111"), rule())
    assert to_itself.check == "own_number"


@pytest.mark.parametrize("sender", ["12345", "ACME-BANK", "+1 555 01"])
def test_short_codes_and_alphanumeric_senders_look_automated(sender):
    decision = only(message(sender=sender), rule())
    assert (decision.reason, decision.check) == (Reason.LOOP_GUARD, "automated_sender")


@pytest.mark.parametrize(
    "text", ["This is an automatic reply.", "Please DO NOT REPLY to this number", "sent from noreply"]
)
def test_texts_with_automated_markers_are_not_answered(text):
    assert only(message(text), rule()).check == "automated_sender"


def test_automated_sender_list_is_configurable():
    policy = AutomatedSenders(
        min_digits=4,
        senders=frozenset({"+82 10 5555 0000"}),
        prefixes=("+1800",),
        patterns=(r"^\+8215\d+$",),
        text_markers=("[bot]",),
    )
    assert looks_automated(sender="+821055550000", text="hi", policy=policy) is not None
    assert "prefix" in looks_automated(sender="+1 800 123 4567", text="hi", policy=policy)
    assert "/^\\+8215\\d+$/" in looks_automated(sender="+8215887766", text="hi", policy=policy)
    assert looks_automated(sender=CUSTOMER, text="[BOT] hello", policy=policy) == "the text contains “[bot]”"
    assert looks_automated(sender="12345", text="do not reply", policy=policy) is None
    decision = only(message(sender="+18001234567"), rule(), acct=account(automated=policy))
    assert decision.check == "automated_sender"


def test_a_person_does_not_look_automated():
    assert looks_automated(sender=CUSTOMER, text="Can you call me back?", policy=AutomatedSenders()) is None


# --- cooldown and daily cap -------------------------------------------------------------------------------


def test_cooldown_per_sender_and_rule_then_expires():
    sent = MONDAY_AFTERNOON
    history = [PastReply(rule_id=1, sender=CUSTOMER, sent_at=sent)]
    waiting = only(message(), rule(1), history=history, now=sent + timedelta(minutes=59))
    assert waiting.reason == Reason.COOLDOWN
    assert waiting.until == sent + timedelta(minutes=60)
    assert "until 2025-03-03 15:05 (Asia/Seoul)" in waiting.detail
    assert only(message(), rule(1), history=history, now=sent + timedelta(minutes=60)).fired
    assert only(message(), rule(2), history=history, now=sent + timedelta(minutes=1)).fired
    other = message(sender=OTHER_CUSTOMER)
    assert only(other, rule(1), history=history, now=sent + timedelta(minutes=1)).fired


def test_cooldown_matches_the_sender_however_it_is_formatted():
    history = [PastReply(rule_id=1, sender="+82 10-1234-5678", sent_at=MONDAY_AFTERNOON)]
    assert only(message(), rule(1), history=history, now=MONDAY_AFTERNOON + timedelta(minutes=5)).reason == (
        Reason.COOLDOWN
    )


def test_cooldown_length_is_per_rule():
    quick = Rule(id=1, name="quick", reply="ok", order=1, cooldown=timedelta(minutes=5))
    history = [PastReply(rule_id=1, sender=CUSTOMER, sent_at=MONDAY_AFTERNOON)]
    assert only(message(), quick, history=history, now=MONDAY_AFTERNOON + timedelta(minutes=4)).reason == (
        Reason.COOLDOWN
    )
    assert only(message(), quick, history=history, now=MONDAY_AFTERNOON + timedelta(minutes=5)).fired


def test_daily_cap_counts_replies_of_every_rule_to_that_sender():
    history = [
        PastReply(rule_id=100 + n, sender=CUSTOMER, sent_at=MONDAY_AFTERNOON - timedelta(hours=n + 1))
        for n in range(5)
    ]
    capped = only(message(), rule(1), history=history)
    assert capped.reason == Reason.DAILY_CAP
    assert capped.until == datetime(2025, 3, 4, 0, 0, tzinfo=SEOUL)
    assert "5 replies" in capped.detail
    assert only(message(sender=OTHER_CUSTOMER), rule(1), history=history).fired
    assert only(message(), rule(1), history=history[:4]).fired


def test_daily_cap_day_follows_the_account_time_zone():
    # 23:00-23:40 Seoul on Monday is 14:00-14:40 UTC; 00:30 Seoul on Tuesday is still Monday 15:30 in UTC.
    history = [
        PastReply(rule_id=100 + n, sender=CUSTOMER, sent_at=datetime(2025, 3, 3, 23, 10 * n, tzinfo=SEOUL))
        for n in range(5)
    ]
    tuesday_seoul = datetime(2025, 3, 4, 0, 30, tzinfo=SEOUL)
    assert only(message(), rule(1), history=history, now=tuesday_seoul).fired
    in_utc = only(message(), rule(1), history=history, now=tuesday_seoul, acct=account(time_zone=UTC))
    assert in_utc.reason == Reason.DAILY_CAP
    assert in_utc.until == datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_daily_cap_applies_within_one_message_in_all_mode():
    history = [PastReply(rule_id=100 + n, sender=CUSTOMER, sent_at=MONDAY_AFTERNOON) for n in range(4)]
    decisions = decide(message(), rule(1), rule(2), mode="all", history=history, now=MONDAY_AFTERNOON)
    assert [d.reason for d in decisions] == [Reason.FIRED, Reason.DAILY_CAP]


def test_history_after_now_is_ignored():
    later = [PastReply(rule_id=1, sender=CUSTOMER, sent_at=MONDAY_AFTERNOON + timedelta(minutes=1))]
    assert only(message(), rule(1), history=later).fired


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(message(), rule(), now=datetime(2025, 3, 3, 14, 5))


# --- dry run and replay ----------------------------------------------------------------------------


def test_dry_run_evaluates_a_made_up_message():
    evaluation = dry_run(
        text="price?",
        sender=CUSTOMER,
        receiving_number=OUR_NUMBER,
        at=datetime(2025, 3, 3, 20, 0, tzinfo=SEOUL),
        rules=[rule(1, keywords=("price",), windows=(BUSINESS_HOURS,)), rule(2, reply="We are closed.")],
        mode="first",
        account=account(),
    )
    assert [d.reason for d in evaluation.decisions] == [Reason.OUTSIDE_HOURS, Reason.FIRED]
    assert evaluation.replies[0].reply_text == "We are closed."


def test_replay_applies_cooldown_across_the_replayed_messages():
    start = MONDAY_AFTERNOON
    messages = [
        message(id="c", received_at=start + timedelta(minutes=61)),
        message(id="a", received_at=start),
        message(id="b", received_at=start + timedelta(minutes=30)),
        message(id="d", received_at=start + timedelta(minutes=62), sender=OTHER_CUSTOMER),
    ]
    history: list[PastReply] = []
    evaluations = replay(messages, [rule(1)], mode="first", account=account(), history=history)
    assert [(e.message.id, e.decisions[0].reason) for e in evaluations] == [
        ("a", Reason.FIRED),
        ("b", Reason.COOLDOWN),
        ("c", Reason.FIRED),
        ("d", Reason.FIRED),
    ]
    assert evaluations[1].decisions[0].until == start + timedelta(minutes=60)
    assert history == []


def test_replay_applies_the_daily_cap_and_starts_from_the_given_history():
    start = MONDAY_AFTERNOON
    earlier = [PastReply(rule_id=9, sender=CUSTOMER, sent_at=start - timedelta(hours=1)) for _ in range(3)]
    messages = [message(id=f"m{n}", received_at=start + timedelta(hours=n)) for n in range(4)]
    evaluations = replay(messages, [rule(1)], mode="all", account=account(), history=earlier)
    assert [e.decisions[0].reason for e in evaluations] == [
        Reason.FIRED,
        Reason.FIRED,
        Reason.DAILY_CAP,
        Reason.DAILY_CAP,
    ]
    assert evaluations[0].past_replies() == (PastReply(rule_id=1, sender=CUSTOMER, sent_at=start),)


# --- linear-time regex ------------------------------------------------------------------------------


def test_catastrophic_backtracking_pattern_runs_in_linear_time():
    nested = rule(regex=r"(a+)+$")
    missed = only(message("a" * 50_000 + "b"), nested)
    assert (missed.reason, missed.check) == (Reason.NO_MATCH, "regex")
    assert only(message("a" * 50_000), nested).fired


def test_an_auto_reply_we_sent_for_another_account_is_never_answered():
    ours = only(message("Thanks, we will call you.", from_our_auto_reply=True), rule())
    assert (ours.reason, ours.check) == (Reason.LOOP_GUARD, "our_auto_reply")
    assert only(message("Thanks, we will call you."), rule()).fired
