"""The relay compiles an account's rules once per change to them, and logs a message's decisions in
one statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.autoreplies import audit
from dashboard.autoreply import log_decisions, rules_of
from dashboard.models import Account, Rule, RuleDecisionLog

pytestmark = pytest.mark.django_db


def fresh(account: Account) -> Account:
    """The account's row as the relay reads it for each message."""
    return Account.objects.get(pk=account.pk)


def rule_selects(queries: CaptureQueriesContext) -> int:
    return sum('FROM "dashboard_rule"' in query["sql"] for query in queries.captured_queries)


def names(account: Account) -> list[str]:
    return [rule.name for rule in rules_of(fresh(account)).engine]


def test_rules_are_loaded_once_until_one_changes(account: Account, rule: Rule) -> None:
    with CaptureQueriesContext(connection) as first:
        assert [r.name for r in rules_of(fresh(account)).engine] == ["Hello"]
    with CaptureQueriesContext(connection) as again:
        rules_of(fresh(account))
        rules_of(fresh(account))

    assert rule_selects(first) == 1
    assert rule_selects(again) == 0


def test_every_kind_of_rule_change_is_seen_by_the_next_message(account: Account, rule: Rule) -> None:
    assert names(account) == ["Hello"]

    rule.name = "Hi"
    rule.save()
    assert names(account) == ["Hi"]

    second = Rule.objects.create(account=account, name="Later", order=5, reply="x")
    assert names(account) == ["Hi", "Later"]

    audit.move_rule(rule=second, direction="up", by=None)  # bulk_update: no signal of its own
    assert names(account) == ["Later", "Hi"]

    audit.set_enabled(rule=rule, enabled=False, by=None)
    assert [r.enabled for r in rules_of(fresh(account)).engine] == [True, False]

    audit.delete_rule(rule=second, by=None)
    assert names(account) == ["Hi"]

    Rule.objects.filter(pk=rule.pk).delete()  # the admin's "delete selected"
    assert names(account) == []


def test_saving_an_account_read_before_a_rule_changed_does_not_bring_the_old_rules_back(
    account: Account, rule: Rule
) -> None:
    stale = fresh(account)
    assert names(account) == ["Hello"]
    rule.name = "Hi"
    rule.save()

    stale.daily_cap = 7
    stale.save()  # an admin's form, opened before the rule changed

    assert fresh(account).daily_cap == 7
    assert names(account) == ["Hi"]


def test_two_accounts_keep_their_own_rules(account: Account, rule: Rule) -> None:
    other = Account.objects.create(name="Other", customer_id="other", access_key="k", numbers=[])
    Rule.objects.create(account=other, name="Theirs", reply="x")

    assert names(account) == ["Hello"]
    assert names(other) == ["Theirs"]


def test_two_hundred_decisions_are_one_insert(rule: Rule) -> None:
    now = timezone.now()
    logs = [
        RuleDecisionLog(
            message_id="m-1",
            rule=rule if i % 2 else None,
            rule_name=f"rule {i}",
            reason="no_match",
            check_name="keywords",
            detail=f"detail {i} with 'quotes' and %s",
            until=now + timedelta(minutes=i) if i % 3 == 0 else None,
            created=now,
        )
        for i in range(200)
    ]
    with CaptureQueriesContext(connection) as queries:
        log_decisions(logs)

    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    stored = list(RuleDecisionLog.objects.filter(message_id="m-1").order_by("pk"))
    assert [log.rule_name for log in stored] == [f"rule {i}" for i in range(200)]
    assert stored[3].until == now + timedelta(minutes=3)
    assert stored[1].until is None
    assert stored[1].rule_id == rule.pk
    assert stored[0].rule_id is None
    assert stored[7].detail == "detail 7 with 'quotes' and %s"
    assert {log.created for log in stored} == {now}


def test_no_decisions_write_nothing() -> None:
    with CaptureQueriesContext(connection) as queries:
        log_decisions([])
    assert queries.captured_queries == []
