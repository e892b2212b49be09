"""The rules page and its forms: who may see and change what, and every validation error on its field."""

from __future__ import annotations

from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from dashboard.autoreplies.timewindows import WindowSyntaxError, format_windows, parse_windows
from dashboard.models import AutoReply, AutoReplyStatus, Rule, RuleChange
from dashboard.simulator.accounts import DEMO_SALES_NUMBER
from dashboard.voipbin.topics import Permission
from tests.autoreplies.conftest import CUSTOMER, OUR_NUMBER, client_for, make_user, rule

pytestmark = pytest.mark.django_db


def form_data(**overrides: Any) -> dict[str, Any]:
    """What the browser posts for a rule: checkboxes present only when ticked."""
    data = {
        "name": "Opening hours",
        "enabled": "on",
        "keywords": "",
        "exact_text": "",
        "regex": "",
        "senders_in": "",
        "senders_not_in": "",
        "receiving_numbers": "",
        "windows": "",
        "reply": "Hi {sender}, we open at 9.",
        "cooldown_minutes": "60",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_page_lists_rules_in_order_with_conditions_in_words(acme, supervisor):
    rule(acme, "Second", 20, keywords=["price", "cost"], whole_word=True)
    rule(
        acme,
        "First",
        10,
        regex="(?i)order\\s*\\d+",
        windows=[{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        enabled=False,
    )

    page = client_for(supervisor).get("/rules/")

    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("First") < html.index("Second")
    assert "text contains “price” or “cost” as whole words" in html
    assert "during Mon-Fri 09:00-17:00" in html
    assert "text matches /(?i)order\\s*\\d+/" in html
    assert "Off" in html
    assert "First matching rule only" in html


def test_admin_creates_a_rule_from_lines_and_commas_and_it_runs_last(acme, acme_admin):
    rule(acme, "Existing", 10)

    response = client_for(acme_admin).post(
        "/rules/new/",
        form_data(
            keywords="hours, open\nclosing time",
            senders_not_in="+15550000001\n+15550000002",
            receiving_numbers=OUR_NUMBER,
            windows="Sat,Sun 10:00-14:00\nFri 22:00-02:00",
            outside_windows="on",
        ),
    )

    assert response.status_code == 302
    created = Rule.objects.get(name="Opening hours")
    assert created.account == acme
    assert created.order == 20
    assert created.keywords == ["hours", "open", "closing time"]
    assert created.senders_not_in == ["+15550000001", "+15550000002"]
    assert created.receiving_numbers == [OUR_NUMBER]
    assert created.windows == [
        {"weekdays": [5, 6], "start": "10:00", "end": "14:00"},
        {"weekdays": [4], "start": "22:00", "end": "02:00"},
    ]
    assert created.outside_windows is True


def test_edit_form_shows_lists_and_windows_as_text(acme, acme_admin):
    saved = rule(
        acme,
        "Hours",
        10,
        keywords=["a", "b"],
        windows=[{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )

    page = client_for(acme_admin).get(f"/rules/{saved.pk}/edit/")

    assert page.status_code == 200
    html = page.content.decode()
    assert ">\na\nb</textarea>" in html
    assert ">\nMon-Fri 09:00-17:00</textarea>" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"regex": "(unclosed"}, "regex", "Invalid regular expression: missing ): (unclosed"),
        ({"reply": "Hello {name}"}, "reply", "Unknown placeholder {name} in the reply text."),
        ({"reply": "Hello {sender"}, "reply", "unbalanced braces"),
        (
            {"windows": "weekdays 9 to 5"},
            "windows",
            "Line 1: “weekdays 9 to 5” is not like “Mon-Fri 09:00-17:00”.",
        ),
        ({"windows": "Mon-Fri 09:00-25:00"}, "windows", "“25:00” is not a time"),
        ({"outside_windows": "on"}, "windows", "“Outside these windows” needs at least one time window."),
        (
            {"receiving_numbers": "+15550009999"},
            "receiving_numbers",
            "Not a number of this account: +15550009999.",
        ),
        ({"name": "   "}, "name", "This field is required."),
    ],
)
def test_invalid_rule_is_refused_with_the_message_on_its_field(acme, acme_admin, overrides, field, message):
    response = client_for(acme_admin).post("/rules/new/", form_data(**overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert message in unescape(response.content.decode())
    assert not Rule.objects.exists()
    assert not RuleChange.objects.exists()


def test_edit_refuses_an_invalid_regex_and_keeps_the_stored_rule(acme, acme_admin):
    saved = rule(acme, "Orders", 10, regex="order")

    response = client_for(acme_admin).post(
        f"/rules/{saved.pk}/edit/", form_data(name="Renamed", regex="a{1001}")
    )

    assert response.status_code == 200
    assert "Invalid regular expression" in response.context["form"].errors["regex"][0]
    assert "Edit “Orders”" in response.content.decode()
    saved.refresh_from_db()
    assert (saved.name, saved.regex) == ("Orders", "order")


def test_admin_switches_the_mode(acme, acme_admin):
    response = client_for(acme_admin).post("/rules/mode/", {"mode": "all"})

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.mode == "all"


CHANGES = [
    ("get", "/rules/new/"),
    ("post", "/rules/new/"),
    ("get", "/rules/{pk}/edit/"),
    ("post", "/rules/{pk}/edit/"),
    ("get", "/rules/{pk}/delete/"),
    ("post", "/rules/{pk}/delete/"),
    ("post", "/rules/{pk}/move/"),
    ("post", "/rules/{pk}/enabled/"),
    ("post", "/rules/mode/"),
]


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_supervisor_may_not_change_anything(acme, supervisor, method, path):
    saved = rule(acme, "Help", 10, keywords=["help"])
    data = {**form_data(name="Hijacked"), "direction": "down", "enabled": "off", "mode": "all"}

    response = getattr(client_for(supervisor), method)(
        path.format(pk=saved.pk), data if method == "post" else None
    )

    assert response.status_code == 403
    saved.refresh_from_db()
    acme.refresh_from_db()
    assert (saved.name, saved.enabled, acme.mode) == ("Help", True, "first")
    assert not RuleChange.objects.exists()


def test_supervisor_sees_no_edit_controls(acme, supervisor):
    rule(acme, "Help", 10)

    html = client_for(supervisor).get("/rules/").content.decode()

    assert "New rule" not in html
    assert "Switch off" not in html
    assert "Save mode" not in html


@pytest.mark.parametrize(
    "path", ["/rules/", "/rules/dry-run/", "/rules/replay/", "/rules/decisions/", "/rules/decisions.csv"]
)
def test_agent_gets_403_on_every_rules_page(acme, agent, path):
    assert client_for(agent).get(path).status_code == 403


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_agent_gets_403_on_every_change(acme, agent, method, path):
    saved = rule(acme, "Help", 10)

    response = getattr(client_for(agent), method)(path.format(pk=saved.pk))

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), [c for c in CHANGES if "{pk}" in c[1]])
def test_outsider_gets_404_for_acmes_rule_ids(acme, globex, outsider, method, path):
    saved = rule(acme, "Acme only", 10)
    data = {**form_data(name="Hijacked"), "direction": "down", "enabled": "off"}

    response = getattr(client_for(outsider), method)(
        path.format(pk=saved.pk), data if method == "post" else None
    )

    assert response.status_code == 404
    assert "Acme only" not in response.content.decode()
    saved.refresh_from_db()
    assert (saved.name, saved.enabled, saved.order) == ("Acme only", True, 10)
    assert not RuleChange.objects.exists()


def test_outsider_never_sees_acmes_rules(acme, globex, globex_rule, outsider):
    rule(acme, "Acme only", 10, reply="Acme secret reply")

    html = client_for(outsider).get("/rules/").content.decode()

    assert "Globex secret rule" in html
    assert "Acme only" not in html
    assert "Acme secret reply" not in html


def test_customer_without_account_is_told_what_an_operator_must_do(db):
    lonely = make_user(
        "lonely", customer_id="cust-without-account", agent_id="a1", permission=Permission.ADMIN
    )

    for path in ("/rules/", "/rules/dry-run/", "/rules/replay/", "/rules/decisions/"):
        page = client_for(lonely).get(path)
        html = page.content.decode()
        assert page.status_code == 200, path
        assert "No auto-reply account is configured" in html
        assert "cust-without-account" in html
        assert "Accounts → Add account" in html
    assert client_for(lonely).post("/rules/mode/", {"mode": "all"}).status_code == 404


def test_banner_counts_stuck_and_failed_replies_and_links_to_the_log(acme, supervisor):
    help_rule = rule(acme, "Help", 10)
    now = timezone.now()

    def reply(n: int, status: str, age: timedelta) -> None:
        AutoReply.objects.create(
            inbound_message_id=f"m{n}",
            rule=help_rule,
            account=acme,
            sender=CUSTOMER,
            our_number=OUR_NUMBER,
            reply_text="hi",
            status=status,
            created_at=now - age,
        )

    reply(1, AutoReplyStatus.PENDING, timedelta(minutes=11))
    reply(2, AutoReplyStatus.PENDING, timedelta(minutes=12))
    reply(3, AutoReplyStatus.PENDING, timedelta(minutes=2))  # still being sent
    reply(4, AutoReplyStatus.FAILED, timedelta(hours=1))
    reply(5, AutoReplyStatus.FAILED, timedelta(hours=30))  # too old to matter
    reply(6, AutoReplyStatus.SENT, timedelta(hours=1))

    html = client_for(supervisor).get("/rules/").content.decode()

    assert "2 stuck pending</a> for more than 10 minutes" in html
    assert "1 failed</a> in the last 24 hours" in html
    assert "/rules/decisions/?delivery=failed" in html


def test_no_banner_when_replies_are_fine(acme, supervisor):
    html = client_for(supervisor).get("/rules/").content.decode()

    assert "need attention" not in html


def test_deleting_a_rule_that_replied_is_refused_with_advice(acme, acme_admin):
    help_rule = rule(acme, "Help", 10)
    AutoReply.objects.create(
        inbound_message_id="m1",
        rule=help_rule,
        account=acme,
        sender=CUSTOMER,
        our_number=OUR_NUMBER,
        reply_text="hi",
    )

    response = client_for(acme_admin).post(f"/rules/{help_rule.pk}/delete/", follow=True)

    assert Rule.objects.filter(pk=help_rule.pk).exists()
    assert "switch it off instead" in response.content.decode()
    assert not RuleChange.objects.exists()


def test_delete_asks_for_confirmation_first(acme, acme_admin):
    help_rule = rule(acme, "Help", 10)

    page = client_for(acme_admin).get(f"/rules/{help_rule.pk}/delete/")

    assert page.status_code == 200
    assert "Delete the rule “Help”?" in page.content.decode()
    assert Rule.objects.filter(pk=help_rule.pk).exists()


def test_rules_nav_link_only_for_supervisors_and_admins(acme, supervisor, acme_admin, agent):
    link = 'href="/rules/"'
    assert link in client_for(supervisor).get("/calls/").content.decode()
    assert link in client_for(acme_admin).get("/calls/").content.decode()
    assert link not in client_for(agent).get("/calls/").content.decode()


def test_sales_number_is_a_valid_receiving_number(acme, acme_admin):
    """Any of the account's numbers is accepted, however it is punctuated, and kept in plain E.164."""
    spaced = DEMO_SALES_NUMBER[:2] + " " + DEMO_SALES_NUMBER[2:5] + "-" + DEMO_SALES_NUMBER[5:]

    response = client_for(acme_admin).post("/rules/new/", form_data(receiving_numbers=spaced))

    assert response.status_code == 302
    assert Rule.objects.get().receiving_numbers == [DEMO_SALES_NUMBER]


@pytest.mark.parametrize(
    ("text", "weekdays", "start", "end"),
    [
        ("Mon-Fri 9:00-17:00", [0, 1, 2, 3, 4], "09:00", "17:00"),
        ("sat, sunday 10:00 \u2013 14:00", [5, 6], "10:00", "14:00"),
        ("Fri-Mon 22:00-02:00", [0, 4, 5, 6], "22:00", "02:00"),
        ("daily 00:00-00:00", [0, 1, 2, 3, 4, 5, 6], "00:00", "00:00"),
    ],
)
def test_time_windows_are_read_as_people_write_them(text, weekdays, start, end):
    [window] = parse_windows(text)

    assert window == {"weekdays": weekdays, "start": start, "end": end}
    assert parse_windows(format_windows([window])) == [window]


@pytest.mark.parametrize("text", ["Mon 9-17", "Monkey 09:00-10:00", "Mon 24:00-25:00", "09:00-10:00"])
def test_unreadable_time_windows_are_refused(text):
    with pytest.raises(WindowSyntaxError, match="Line 1"):
        parse_windows(text)
