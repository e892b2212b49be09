"""In real Chromium: a refused rule form sums up every problem and takes focus; an auto-reply keeps a
conversation awaiting a person until a person answers."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, screenshot
from tests.e2e.test_calls_page import sign_in
from tests.e2e.test_inbox_rules import relay_listening

SENDER = "+15557770042"
HELP_RULE = "Help keyword"  # the demo's 'help' rule (manage.py seed_demo)
E164 = "is not a phone number in international format (E.164), for example +15551234567"


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def test_refused_rule_form_sums_up_every_problem_and_takes_focus(stack, page):
    sign_in(page, stack, "admin")
    page.goto(stack.web_url + "/rules/new/")
    page.get_by_label("Regular expression").fill("(unclosed")
    page.get_by_label("Only from these senders").fill("12345, not-a-number")
    page.get_by_label("Reply text").fill("Hello {name}")
    page.get_by_role("button", name="Create rule").click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    # autofocus on the summary (a div with tabindex=-1): no script of ours, Chromium focuses it.
    expect(summary).to_be_focused()
    assert focused_id(page) == "error-summary"
    expect(summary.get_by_role("heading")).to_have_text("⚠ 5 problems to fix")
    links = summary.get_by_role("link")
    expect(links).to_have_count(5)
    expected = [
        ("id_name", "Name: This field is required."),
        ("id_regex", "Regular expression: Invalid regular expression"),
        ("id_senders_in", f'Only from these senders: "12345" {E164}'),
        ("id_senders_in", f'Only from these senders: "not-a-number" {E164}'),
        ("id_reply", "Reply text: Unknown placeholder {name} in the reply text."),
    ]
    for index, (field_id, text) in enumerate(expected):
        expect(links.nth(index)).to_contain_text(text)
        expect(links.nth(index)).to_have_attribute("href", f"#{field_id}")
    screenshot(page, "rule-form-errors")
    assert_accessible(page, "the rule form with errors")

    for index, (field_id, _text) in enumerate(expected):
        links.nth(index).click()
        expect(page.locator(f"#{field_id}")).to_be_focused()
        field = page.locator(f"#{field_id}")
        expect(field).to_have_attribute("aria-invalid", "true")
        described = field.get_attribute("aria-describedby") or ""
        assert f"{field_id}_error" in described.split()
        expect(page.locator(f"#{field_id}_error")).to_be_visible()
        # The field's label is in view too, not hidden above the top edge.
        label = page.locator(f"label[for={field_id}]")
        assert label.evaluate("el => el.getBoundingClientRect().top >= 0")


def test_an_auto_replied_sms_stays_awaiting_a_person_until_a_person_answers(stack, page):
    sign_in(page, stack, "admin")
    page.goto(stack.web_url + "/messages/?unanswered=1")
    expect(page.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open", timeout=10_000)
    relay_listening(stack)
    stack.sms(SENDER, "I need help with my order")

    awaiting = f"Auto-reply sent (rule “{HELP_RULE}”) · awaiting a person"
    row = page.locator("[data-thread]", has_text=SENDER)
    expect(row).to_contain_text(awaiting, timeout=15_000)  # live, and still under "awaiting reply"
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-unanswered", "1")

    page.reload()  # the server's filter agrees with the live row
    row = page.locator("[data-thread]", has_text=SENDER)
    expect(row).to_contain_text(awaiting)
    screenshot(page, "inbox-awaiting-after-auto-reply")
    assert_accessible(page, "the inbox filtered to awaiting reply")

    row.get_by_role("link").click()
    state = page.locator(".thread-state")
    expect(state).to_have_text(f"⚙ {awaiting}")
    expect(page.locator(".message-outbound")).to_contain_text(f"auto-reply (rule {HELP_RULE})")
    expect(page.locator("[data-socket-state]")).to_have_attribute("data-socket-state", "open", timeout=10_000)

    page.get_by_label(f"Message to {SENDER}").fill("Hi, this is the admin: let me look at your order.")
    page.get_by_role("button", name="Send").click()
    expect(state).to_contain_text("Answered", timeout=15_000)  # the thread's own page, live
    expect(state).not_to_contain_text("awaiting")

    page.goto(stack.web_url + "/messages/?unanswered=1")
    expect(page.locator("[data-thread]", has_text=SENDER)).to_be_hidden()
    page.goto(stack.web_url + "/messages/")
    expect(page.locator("[data-thread]", has_text=SENDER)).to_contain_text("Answered")
