"""The decision log: the account's rows only, filters, pagination, CSV export and its escaping."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import Account, AutoReply, AutoReplyStatus, Rule, RuleDecisionLog
from tests.autoreplies.conftest import CUSTOMER, OUR_NUMBER, client_for, inbound, rule

pytestmark = pytest.mark.django_db

# 2025-03-09 23:30 UTC is already 2025-03-10 00:30 in Berlin.
LATE_SUNDAY_UTC = datetime(2025, 3, 9, 23, 30, tzinfo=UTC)


def log(message_id: str, rule_: Rule | None, reason: str, created: datetime, **fields: Any) -> Any:
    return RuleDecisionLog.objects.create(
        message_id=message_id,
        rule=rule_,
        rule_name=fields.pop("rule_name", rule_.name if rule_ else ""),
        reason=reason,
        created=created,
        **fields,
    )


@pytest.fixture
def logs(acme: Account, globex: Account, globex_rule: Rule) -> dict[str, Any]:
    """Acme's decisions on three messages (one rule since deleted), and one of Globex's."""
    help_rule = rule(acme, "Help", 10, keywords=["help"])
    hours = rule(acme, "Hours", 20, keywords=["hours"])
    t = LATE_SUNDAY_UTC
    inbound(acme, "m1", at=t - timedelta(days=2), text="help me")
    inbound(acme, "m2", at=t, text='=HYPERLINK("http://evil")', sender="+15550001111")
    inbound(acme, "m3", at=t + timedelta(days=1), text="hours?")
    inbound(globex, "g1", at=t, text="globex private text", to=globex.numbers[0])
    rows = {
        "m1-help": log("m1", help_rule, "fired", t - timedelta(days=2), detail="All conditions hold"),
        "m1-hours": log("m1", hours, "earlier_rule_fired", t - timedelta(days=2)),
        "m2-help": log("m2", help_rule, "no_match", t, check_name="keywords", detail="-2+3 no keyword"),
        "m2-gone": log("m2", None, "no_match", t, rule_name="@Gone rule", check_name="keywords"),
        "m3-hours": log("m3", hours, "fired", t + timedelta(days=1)),
        "g1": log("g1", globex_rule, "fired", t, detail="globex detail"),
    }
    AutoReply.objects.create(
        inbound_message_id="m1",
        rule=help_rule,
        account=acme,
        sender=CUSTOMER,
        our_number=OUR_NUMBER,
        reply_text="hi",
        status=AutoReplyStatus.FAILED,
        error="VoIPBIN said 402",
    )
    return {"help": help_rule, "hours": hours, "rows": rows}


def shown(response: Any) -> list[int]:
    return [row.log.pk for row in response.context["rows"]]


def pks(logs: dict[str, Any], *names: str) -> list[int]:
    return [logs["rows"][name].pk for name in names]


def streamed(response) -> str:
    """The CSV as a browser gets it: the view hands ASGI an async iterator of pages."""

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)().decode()


def test_log_shows_the_accounts_decisions_newest_first_and_nothing_of_globex(logs, supervisor):
    response = client_for(supervisor).get("/rules/decisions/")

    assert response.status_code == 200
    assert shown(response) == pks(logs, "m3-hours", "m2-help", "m2-gone", "m1-help", "m1-hours")
    html = response.content.decode()
    assert "globex" not in html.lower()
    assert "Conditions not met: no keyword in the text" in html
    assert "Failed" in html
    assert "VoIPBIN said 402" in html


def test_outsider_sees_only_globex_decisions(logs, outsider):
    response = client_for(outsider).get("/rules/decisions/")

    assert shown(response) == pks(logs, "g1")
    assert "help me" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reason=no_match", ["m2-help", "m2-gone"]),
        ("reason=fired", ["m3-hours", "m1-help"]),
        ("rule={hours}", ["m3-hours", "m1-hours"]),
        ("rule={help}&reason=fired", ["m1-help"]),
        ("since=2025-03-10&until=2025-03-10", ["m2-help", "m2-gone"]),  # Berlin's 10 March
        ("until=2025-03-09", ["m1-help", "m1-hours"]),
        ("since=2025-03-11", ["m3-hours"]),
        ("delivery=failed", ["m1-help"]),
        ("delivery=sent", []),
    ],
)
def test_filters(logs, supervisor, query, expected):
    query = query.format(hours=logs["hours"].pk, help=logs["help"].pk)

    response = client_for(supervisor).get(f"/rules/decisions/?{query}")

    assert response.status_code == 200
    assert shown(response) == pks(logs, *expected)


@pytest.mark.parametrize("path", ["/rules/decisions/", "/rules/decisions.csv"])
def test_another_customers_rule_cannot_be_used_as_a_filter(logs, globex_rule, supervisor, path):
    response = client_for(supervisor).get(f"{path}?rule={globex_rule.pk}")

    assert response.status_code == 400
    assert "globex" not in response.content.decode().lower()


def test_dates_the_wrong_way_round_are_refused(logs, supervisor):
    response = client_for(supervisor).get("/rules/decisions/?since=2025-03-11&until=2025-03-01")

    assert response.status_code == 400
    assert "“From” is after “To”." in response.content.decode()


@pytest.mark.parametrize("path", ["/rules/decisions/", "/rules/decisions.csv"])
def test_far_off_dates_are_refused_not_a_server_error(logs, supervisor, path):
    response = client_for(supervisor).get(f"{path}?until=9999-12-31")

    assert response.status_code == 400
    assert "between 2000 and 2100" in response.content.decode()


def test_pages_of_fifty_keep_the_filters(acme, supervisor):
    help_rule = rule(acme, "Help", 10)
    inbound(acme, "m1", at=LATE_SUNDAY_UTC, text="help")
    RuleDecisionLog.objects.bulk_create(
        RuleDecisionLog(
            message_id="m1",
            rule=help_rule,
            rule_name="Help",
            reason="no_match",
            created=LATE_SUNDAY_UTC + timedelta(seconds=n),
        )
        for n in range(120)
    )

    first = client_for(supervisor).get("/rules/decisions/?reason=no_match")
    last = client_for(supervisor).get("/rules/decisions/?reason=no_match&page=3")

    assert len(first.context["rows"]) == 50
    assert len(last.context["rows"]) == 20
    assert "?reason=no_match&amp;page=2" in first.content.decode()


def test_queries_do_not_grow_with_the_rows_shown(acme, supervisor):
    help_rule = rule(acme, "Help", 10)

    def add(count: int) -> None:
        for n in range(count):
            message = inbound(acme, f"q{RuleDecisionLog.objects.count()}-{n}", at=LATE_SUNDAY_UTC, text="x")
            log(message.pk, help_rule, "fired", LATE_SUNDAY_UTC)

    def queries() -> int:
        client = client_for(supervisor)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/rules/decisions/").status_code == 200
        return len(captured.captured_queries)

    add(2)
    few = queries()
    add(30)
    assert queries() == few


@pytest.mark.django_db(transaction=True)  # the export reads from the database thread
def test_csv_export_has_the_filtered_rows_escaped_against_formulas(logs, supervisor):
    response = client_for(supervisor).get("/rules/decisions.csv?reason=no_match")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="rule-decisions-')
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [(row["message_id"], row["rule"]) for row in rows] == [("m2", "Help"), ("m2", "'@Gone rule")]
    first = rows[0]
    assert first["message_text"] == '\'=HYPERLINK("http://evil")'
    assert first["sender"] == "'+15550001111"
    assert first["detail"] == "'-2+3 no keyword"
    assert first["reason"] == "no_match"
    assert first["reason_in_words"] == "Conditions not met: no keyword in the text"
    assert first["decided_at"] == "2025-03-10T00:30:00+01:00"


@pytest.mark.django_db(transaction=True)  # the export reads from the database thread
def test_csv_export_of_everything_includes_delivery_and_nothing_of_globex(logs, supervisor):
    response = client_for(supervisor).get("/rules/decisions.csv")

    body = streamed(response)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 5
    assert "globex" not in body.lower()
    statuses = {(row["message_id"], row["rule"]): row["reply_status"] for row in rows}
    assert statuses[("m1", "Help")] == "failed"
    assert statuses[("m1", "Hours")] == ""
