"""Refused and missing pages in real Chromium: the site's look, the reason, the next step, no socket state."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, assert_no_overflow, screenshot
from tests.e2e.test_calls_page import sign_in

INBOX_REASON = "The inbox is for supervisors and admins: VoIPBIN lets only them read messages."


def status_of(page, url: str) -> int:
    response = page.goto(url)
    assert response is not None
    return response.status


def assert_refusal(page, reason: str) -> None:
    expect(page).to_have_title("Not allowed · VoIPBIN dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("You can\u2019t open this page")
    main = page.locator("main#main")
    expect(main).to_contain_text(reason)
    expect(main).to_contain_text("ask an admin of your VoIPBIN account")
    expect(main.get_by_role("link", name="Back to the calls page")).to_have_attribute("href", "/calls/")
    expect(page.locator("body")).not_to_contain_text("Connecting")
    expect(page.locator("[data-socket-state], #upstream-state")).to_have_count(0)


def test_an_agent_sees_why_the_flows_page_and_the_inbox_are_refused(stack, page):
    sign_in(page, stack, "agent1")
    assert status_of(page, stack.web_url + "/flows/") == 403
    assert_refusal(page, "The flows page is for supervisors.")
    assert_accessible(page, "403 on /flows/")
    screenshot(page, "error-403-desktop")

    assert status_of(page, stack.web_url + "/messages/") == 403
    assert_refusal(page, INBOX_REASON)
    page.wait_for_timeout(1_500)  # nothing on this page is waiting for a socket to say otherwise
    expect(page.locator("body")).not_to_contain_text("Connecting")
    assert_accessible(page, "403 on /messages/")

    page.get_by_role("link", name="Back to the calls page").click()
    expect(page).to_have_url(stack.web_url + "/calls/")
    expect(page.locator("#upstream-state")).to_contain_text("Live", timeout=10_000)


def test_the_refusal_on_a_phone(stack, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, stack, "agent1")
        assert status_of(page, stack.web_url + "/messages/") == 403
        assert_refusal(page, INBOX_REASON)
        assert_no_overflow(page)
        assert_accessible(page, "403 on a phone")
        screenshot(page, "error-403-phone")
    finally:
        context.close()


def test_a_missing_page_is_the_sites_own(stack, page):
    sign_in(page, stack, "agent1")
    assert status_of(page, stack.web_url + "/no-such-page/") == 404
    expect(page).to_have_title("Page not found · VoIPBIN dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main#main")).to_contain_text("There is no page at this address.")
    expect(page.get_by_role("link", name="Back to the calls page")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Connecting")
    assert_accessible(page, "404")
    screenshot(page, "error-404-desktop")


def test_a_missing_page_for_someone_not_signed_in_offers_sign_in(stack, page):
    assert status_of(page, stack.web_url + "/no-such-page/") == 404
    expect(page.locator("body")).not_to_contain_text("Connecting")
    assert_accessible(page, "404 signed out")
    page.locator("main#main").get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_the_server_error_page_stands_alone(stack, page):
    """500.html as Django renders it (no request, no context), served where the site's CSS loads."""
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    page.route(
        stack.web_url + "/broken/",
        lambda route: route.fulfill(status=500, body=html, content_type="text/html"),
    )
    assert status_of(page, stack.web_url + "/broken/") == 500
    expect(page).to_have_title("Something went wrong · VoIPBIN dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong")
    expect(page.locator("main#main")).to_contain_text("If it keeps happening")
    radius = page.evaluate("() => getComputedStyle(document.querySelector('.panel')).borderRadius")
    assert radius != "0px"  # app.css applied
    assert_accessible(page, "500")
    screenshot(page, "error-500-desktop")
