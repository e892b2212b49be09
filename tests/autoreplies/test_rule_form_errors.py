"""The rule form says everything wrong at once, sums it up on top, and takes phone numbers only in E.164."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError

from dashboard.autoreplies import describe, numbers
from dashboard.autoreplies.forms import NumberListField, RuleForm
from dashboard.models import Rule, RuleChange
from dashboard.rules import rule_problems
from dashboard.simulator.accounts import DEMO_SALES_NUMBER
from tests.autoreplies.conftest import OUR_NUMBER, client_for, rule
from tests.autoreplies.test_rules_page import form_data

pytestmark = pytest.mark.django_db


def not_e164(entry: str) -> str:
    return f'"{entry}" is not a phone number in international format (E.164), for example +15551234567'


def test_every_problem_is_reported_at_once(acme, acme_admin):
    response = client_for(acme_admin).post(
        "/rules/new/",
        form_data(
            name="   ",
            regex="(unclosed",
            reply="Hello {name}",
            senders_in="12345, not-a-number",
            outside_windows="on",
        ),
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "regex", "reply", "senders_in", "windows"}
    assert errors["name"] == ["This field is required."]  # not also the model's "needs a name"
    assert "Invalid regular expression" in errors["regex"][0]
    assert "Unknown placeholder {name}" in errors["reply"][0]
    assert errors["senders_in"] == [not_e164("12345"), not_e164("not-a-number")]
    assert errors["windows"] == ["“Outside these windows” needs at least one time window."]
    html = unescape(response.content.decode())
    for messages in errors.values():
        for message in messages:
            assert message in html
    assert not Rule.objects.exists()
    assert not RuleChange.objects.exists()


def test_the_summary_lists_each_problem_linked_to_its_field_and_takes_focus(acme, acme_admin):
    response = client_for(acme_admin).post(
        "/rules/new/", form_data(name="", reply="", senders_not_in="0301234567\n+15550000001, 555")
    )

    html = unescape(response.content.decode())
    summary = re.search(r'<div class="error-summary"[^>]*>.*?</div>', html, re.S)
    assert summary is not None
    opening = summary.group(0).split(">", 1)[0]
    for attribute in ('role="alert"', 'tabindex="-1"', "autofocus", "data-error-summary"):
        assert attribute in opening
    assert "4 problems to fix" in summary.group(0)
    links = re.findall(r'<a href="#(id_\w+)">([^<]*)</a>', summary.group(0))
    assert links == [
        ("id_name", "Name: This field is required."),
        ("id_senders_not_in", f"Never from these senders: {not_e164('0301234567')}"),
        ("id_senders_not_in", f"Never from these senders: {not_e164('555')}"),
        ("id_reply", "Reply text: This field is required."),
    ]
    assert html.index('class="error-summary"') < html.index('id="id_name"')  # on top


def test_each_refused_field_is_marked_invalid_and_described_by_its_error(acme, acme_admin):
    response = client_for(acme_admin).post("/rules/new/", form_data(senders_in="12345"))

    html = response.content.decode()
    field = re.search(r"<textarea[^>]*id=\"id_senders_in\"[^>]*>", html)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="id_senders_in_helptext id_senders_in_error"' in field.group(0)
    assert 'id="id_senders_in_error"' in html
    assert 'aria-invalid="true"' not in re.search(r"<input[^>]*id=\"id_name\"[^>]*>", html).group(0)
    # The summary is the one alert; the field errors under it are not read out again.
    assert html.count('role="alert"') == 1


def test_one_problem_is_one_problem(acme, acme_admin):
    response = client_for(acme_admin).post("/rules/new/", form_data(regex="(x"))

    assert "1 problem to fix" in response.content.decode()


def test_a_valid_form_shows_no_summary(acme, acme_admin):
    page = client_for(acme_admin).get("/rules/new/")

    assert "error-summary" not in page.content.decode()
    assert "aria-invalid" not in page.content.decode()


@pytest.mark.parametrize(
    ("typed", "bad"),
    [
        ("12345, not-a-number", ["12345", "not-a-number"]),
        ("+15551234567\n0301234567\n+0123", ["0301234567", "+0123"]),
        ("+1234567890123456", ["+1234567890123456"]),  # 16 digits
        ("15551234567; +44 20 7946 0000", ["15551234567"]),
        ("+1 555 123 4567 x", ["+1 555 123 4567 x"]),
    ],
)
def test_every_bad_number_is_named(typed, bad):
    field = NumberListField(required=False)

    with pytest.raises(ValidationError) as refused:
        field.clean(typed)

    assert refused.value.messages == [not_e164(entry) for entry in bad]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("+1 (555) 123-4567", ["+15551234567"]),
        ("+15551234567, +1 555 123 4567\n+44 20 7946 0000", ["+15551234567", "+442079460000"]),
        ("+15551234567 +4930123456", ["+15551234567", "+4930123456"]),  # spaces between numbers
        ("  +1.555.123.4567  \n\n,", ["+15551234567"]),
        ("+1", ["+1"]),
        ("+123456789012345", ["+123456789012345"]),  # 15 digits
        ("", []),
    ],
)
def test_good_numbers_are_kept_in_plain_form_each_once(typed, kept):
    assert NumberListField(required=False).clean(typed) == kept


def test_good_numbers_are_saved_plain_and_shown_one_per_line(acme, acme_admin):
    client = client_for(acme_admin)
    response = client.post(
        "/rules/new/", form_data(senders_in="+1 555 123-4567, +15551234567\n+44 20 7946 0000")
    )

    assert response.status_code == 302
    saved = Rule.objects.get()
    assert saved.senders_in == ["+15551234567", "+442079460000"]
    page = client.get(f"/rules/{saved.pk}/edit/").content.decode()
    assert ">\n+15551234567\n+442079460000</textarea>" in page


def test_receiving_numbers_are_e164_and_ours(acme, acme_admin):
    response = client_for(acme_admin).post(
        "/rules/new/", form_data(receiving_numbers=f"{OUR_NUMBER}, 5550100, +15550009999")
    )

    errors = response.context["form"].errors["receiving_numbers"]
    assert errors[0] == not_e164("5550100")
    assert errors[1].startswith("Not a number of this account: +15550009999. Ours: ")
    assert len(errors) == 2


def test_the_model_refuses_numbers_that_are_not_e164_too(acme):
    """The Django admin edits the JSON lists directly: the model names every bad entry as well."""
    stored = Rule(
        account=acme,
        name="VIP",
        reply="Hi",
        senders_in=["+15551234567", "12345"],
        senders_not_in=["abc"],
        receiving_numbers=[DEMO_SALES_NUMBER],
    )

    with pytest.raises(ValidationError) as refused:
        stored.full_clean()

    assert refused.value.message_dict == {
        "senders_in": [not_e164("12345")],
        "senders_not_in": [not_e164("abc")],
    }


def test_the_model_reports_every_problem_the_engine_finds(acme):
    broken = Rule(account=acme, name=" ", reply="{x}", regex="(", outside_windows=True)

    with pytest.raises(ValidationError) as refused:
        broken.full_clean()

    assert set(refused.value.message_dict) == {"name", "reply", "regex", "windows"}
    assert len(rule_problems(broken.to_engine())) == 4


def test_numbers_module_agrees_with_itself():
    assert numbers.split_numbers("+1 555 0100 +1 555 0101, x\n\nx") == ["+1 555 0100", "+1 555 0101", "x"]
    assert numbers.as_e164("+1 (555) 0100") == "+15550100"
    assert numbers.as_e164("+01") is None
    assert numbers.e164_problems(["+15550100", "x"]) == [not_e164("x")]


# --- closes_conversation -------------------------------------------------------------------------


def test_closes_conversation_round_trips_through_the_form(acme, acme_admin):
    client = client_for(acme_admin)

    form = client.get("/rules/new/").content.decode()
    assert 'name="closes_conversation"' in form
    assert "Closes the conversation" in form
    assert "An auto-reply by this rule counts as the answer" in unescape(form)

    assert client.post("/rules/new/", form_data(closes_conversation="on")).status_code == 302
    saved = Rule.objects.get()
    assert saved.closes_conversation is True
    edit = client.get(f"/rules/{saved.pk}/edit/").content.decode()
    assert re.search(r'<input type="checkbox" name="closes_conversation"[^>]* checked', edit)

    assert client.post(f"/rules/{saved.pk}/edit/", form_data()).status_code == 302  # box unticked
    saved.refresh_from_db()
    assert saved.closes_conversation is False
    [change, _created] = RuleChange.objects.all()
    assert change.changes == {"closes_conversation": [True, False]}
    assert describe.change_lines(change) == ["Closes the conversation: yes → no"]


def test_closes_conversation_defaults_to_off_and_shows_in_the_rules_list(acme, supervisor):
    rule(acme, "Help", 10)
    rule(acme, "Closed on Sundays", 20, closes_conversation=True)

    assert RuleForm(account=acme).fields["closes_conversation"].initial is False
    assert Rule.objects.get(name="Help").closes_conversation is False
    html = client_for(supervisor).get("/rules/").content.decode()
    help_row = re.search(r'<tr id="rule-\d+" class="rule">\s*<td class="num">1</td>.*?</tr>', html, re.S)
    closed_row = re.search(r'<tr id="rule-\d+" class="rule">\s*<td class="num">2</td>.*?</tr>', html, re.S)
    assert "A person still answers" in help_row.group(0)
    assert "Its reply closes the conversation" in closed_row.group(0)


# --- the dry run ------------------------------------------------------------------------------


def test_dry_run_errors_come_with_the_summary_too(acme, supervisor):
    response = client_for(supervisor).post(
        "/rules/dry-run/",
        {"sender": "", "receiving_number": OUR_NUMBER, "text": "", "at": "not a time"},
        headers={"HX-Request": "true"},
    )

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert 'id="dry-run-panel"' in html
    assert "3 problems to fix" in html
    assert 'href="#id_sender"' in html
    assert "autofocus" in html  # htmx focuses [autofocus] in what it swaps in
