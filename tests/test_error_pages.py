"""The 403, 404 and 500 pages (dashboard/errors.py, templates/40x.html, 500.html) and their log lines.

A refusal says why and what to do next, with no live-connection state in the header (no socket is
on these pages); an htmx request gets a one-line notice instead of a page; an ordinary 403 or 404
is one INFO line in the log, while a 500 keeps its traceback at ERROR.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import path

from config.urls import urlpatterns as site_urls
from dashboard import errors
from dashboard.models import Account
from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from tests.flows.helpers import person

HTMX = {"HTTP_HX_REQUEST": "true"}
SIGNED_IN_CALLS_LINK = '<a class="button-link" href="/calls/">Back to the calls page</a>'


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(person(username))
    return client


def assert_static_page(html: str) -> None:
    """A whole page of the site, with nothing waiting for a socket that is not there."""
    assert "<!doctype html>" in html
    assert '<main id="main"' in html
    assert "Connecting" not in html
    assert "data-socket-state" not in html
    assert 'id="upstream-state"' not in html
    assert "ws-connect" not in html


# --- 403 ---------------------------------------------------------------------------------------

REFUSALS = [
    ("/flows/", "The flows page is for supervisors."),
    ("/rules/", "Only supervisors and admins see the auto-reply rules."),
    ("/rules/decisions/", "Only supervisors and admins see the auto-reply rules."),
    ("/walls/", "Only VoIPBIN admins manage wall displays."),
    ("/messages/", "The inbox is for supervisors and admins: VoIPBIN lets only them read messages."),
    ("/messages/thread/", "The inbox is for supervisors and admins: VoIPBIN lets only them read messages."),
    (
        "/messages/export.csv",
        "The inbox is for supervisors and admins: VoIPBIN lets only them read messages.",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "reason"), REFUSALS)
def test_an_agent_gets_the_styled_refusal_with_its_reason(url, reason):
    response = client_for("agent1").get(url)
    html = response.content.decode()
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert_static_page(html)
    assert "<title>Not allowed · VoIPBIN dashboard</title>" in html
    assert "<h1>You can\u2019t open this page</h1>" in html
    assert reason in html
    assert "ask an admin of your VoIPBIN account" in html
    assert SIGNED_IN_CALLS_LINK in html
    assert "Sign out" in html  # the header is the site's, for a signed-in user


@pytest.mark.django_db
def test_an_admin_whose_customer_has_no_account_is_told_who_can_help():
    response = client_for("admin").get("/walls/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "No VoIPBIN account is configured for your customer yet." in html
    assert "ask whoever runs this dashboard" in html
    assert "ask an admin of your VoIPBIN account" not in html


@pytest.mark.django_db
def test_supervisors_still_get_the_pages():
    Account.objects.create(
        name="Acme", customer_id=DEMO_CUSTOMER_ID, access_key=DEMO_ACCESS_KEY, numbers=[DEMO_SMS_NUMBER]
    )
    manager = client_for("manager")
    for url in ("/flows/", "/rules/", "/messages/"):
        assert manager.get(url).status_code == 200, url


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/flows/", "/rules/", "/walls/", "/messages/", "/messages/thread/"])
def test_anonymous_users_are_still_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_a_refusal_for_someone_not_signed_in_offers_sign_in_and_comes_back():
    request = RequestFactory().get("/somewhere/?tab=2")
    request.user = AnonymousUser()
    response = errors.permission_denied(request, PermissionDenied("Sign in to see this."))
    html = response.content.decode()
    assert response.status_code == 403
    assert "Sign in to see this." in html
    assert 'href="/login/?next=/somewhere/%3Ftab%3D2"' in html
    assert "Back to the calls page" not in html
    assert_static_page(html)


def test_a_refusal_without_a_message_still_says_something():
    request = RequestFactory().get("/x/")
    request.user = AnonymousUser()
    html = errors.permission_denied(request, PermissionDenied()).content.decode()
    assert "Your account is not allowed to see this page." in html


# --- htmx requests get a notice, not a page -----------------------------------------------------


@pytest.mark.django_db
def test_an_htmx_hang_up_by_an_agent_gets_a_notice_not_a_page():
    response = client_for("agent1").post("/calls/some-call/hangup/", **HTMX)
    html = response.content.decode().strip()
    assert response.status_code == 403
    assert html.startswith('<p class="notice notice-error" role="alert">')
    assert "Only supervisors can hang up calls." in html
    assert "<html" not in html
    assert "<main" not in html


@pytest.mark.django_db
def test_the_same_hang_up_without_javascript_gets_the_page():
    response = client_for("agent1").post("/calls/some-call/hangup/")
    assert response.status_code == 403
    html = response.content.decode()
    assert_static_page(html)
    assert "Only supervisors can hang up calls." in html


@pytest.mark.django_db
def test_an_htmx_request_for_something_missing_gets_a_notice():
    response = client_for("manager").get("/calls/no-such-call/flow/", **HTMX)
    html = response.content.decode().strip()
    assert response.status_code == 404
    assert html.startswith('<p class="notice notice-error"')
    assert "<html" not in html
    assert "matches the given query" not in html  # get_object_or_404's model name is not for users


# --- 404 ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_missing_page_is_styled_and_leads_back():
    response = client_for("agent1").get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert_static_page(html)
    assert "<title>Page not found · VoIPBIN dashboard</title>" in html
    assert "<h1>Page not found</h1>" in html
    assert "There is no page at this address." in html
    assert "/no-such-page/" in html
    assert SIGNED_IN_CALLS_LINK in html


@pytest.mark.django_db
def test_a_missing_page_for_someone_not_signed_in_offers_sign_in(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert_static_page(html)
    assert '<a class="button-link" href="/login/">Sign in</a>' in html


@pytest.mark.django_db
def test_a_404_with_a_message_for_people_shows_it():
    response = client_for("manager").get("/messages/thread/", {"our": DEMO_SMS_NUMBER, "remote": "+1555"})
    html = response.content.decode()
    assert response.status_code == 404
    assert "No such conversation in your account." in html
    assert_static_page(html)


@pytest.mark.django_db
def test_get_object_or_404_does_not_show_the_model_name():
    response = client_for("manager").get("/calls/no-such-call/flow/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "matches the given query" not in html
    assert "There is no page at this address." in html


# --- 500 ---------------------------------------------------------------------------------------


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("something broke")


def refuse(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("Not for you")


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("Not here")


# A test-only URLconf (``pytest.mark.urls(__name__)``): views that raise, the site's URLs, its handlers.
urlpatterns = [path("boom/", boom), path("refuse/", refuse), path("missing/", missing), *site_urls]
handler403 = "dashboard.errors.permission_denied"
handler404 = "dashboard.errors.page_not_found"
handler500 = "dashboard.errors.server_error"


def test_the_500_page_renders_without_request_context_or_database():
    """No django_db mark: the handler touching the database would fail this test."""
    response = errors.server_error(RequestFactory().get("/calls/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "<title>Something went wrong · VoIPBIN dashboard</title>" in html
    assert "<h1>Something went wrong</h1>" in html
    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert '<main id="main"' in html
    assert "Try again" in html
    assert "If it keeps happening" in html
    assert "Connecting" not in html


def test_an_htmx_request_that_fails_gets_a_notice():
    response = errors.server_error(RequestFactory().post("/calls/x/hangup/", **HTMX))
    html = response.content.decode().strip()
    assert response.status_code == 500
    assert html.startswith('<p class="notice notice-error"')
    assert "Try again" in html
    assert "<html" not in html


@pytest.mark.urls(__name__)
def test_a_view_that_raises_gets_the_500_page_and_an_error_with_traceback(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.get("/boom/")
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in response.content.decode()
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is RuntimeError


# --- logging ------------------------------------------------------------------------------------


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("/flows/", "GET /flows/ 403 Forbidden (user agent1)"),
        ("/messages/", "GET /messages/ 403 Forbidden (user agent1)"),
        ("/no-such-page/", "GET /no-such-page/ 404 Not Found (user agent1)"),
    ],
)
def test_an_ordinary_refusal_is_one_info_line_without_traceback(caplog, url, line):
    client = client_for("agent1")
    with caplog.at_level(logging.INFO, logger="django.request"):
        client.get(url)
    records = request_records(caplog)
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert records[0].levelname == "INFO"
    assert records[0].exc_info is None
    assert records[0].getMessage() == line
    assert caplog.text.count("\n") == 1  # no traceback under it


@pytest.mark.django_db
def test_a_403_a_view_answers_itself_is_one_info_line_too(caplog):
    """The queues page's threshold form answers a refused agent with a 403 notice, no exception."""
    client = client_for("agent1")
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.post("/queues/some-queue/thresholds/", {}, **HTMX)
    records = request_records(caplog)
    assert response.status_code == 403
    assert "Only supervisors set queue thresholds." in response.content.decode()
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert records[0].exc_info is None


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(("url", "status"), [("/refuse/", 403), ("/missing/", 404)])
def test_someone_not_signed_in_is_logged_as_anonymous(caplog, db, url, status):
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = Client().get(url)
    assert response.status_code == status
    (record,) = request_records(caplog)
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    assert record.getMessage().startswith(f"GET {url} {status} ")
    assert record.getMessage().endswith("(user anonymous)")


def test_other_client_errors_and_server_errors_pass_unchanged():
    from dashboard.logfilters import OrdinaryRefusals

    logger = logging.getLogger("django.request")
    for status, level in ((400, logging.WARNING), (405, logging.WARNING), (500, logging.ERROR)):
        record = logger.makeRecord(
            "django.request", level, __file__, 1, "%s: %s", ("X", "/p/"), None, extra={"status_code": status}
        )
        assert OrdinaryRefusals().filter(record)
        assert (record.levelno, record.getMessage()) == (level, "X: /p/")


def test_an_ordinary_refusal_is_dropped_when_log_level_is_above_info():
    from dashboard.logfilters import OrdinaryRefusals

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.WARNING)
    try:
        record = logging.getLogger("django.request").makeRecord(
            "django.request",
            logging.WARNING,
            __file__,
            1,
            "Forbidden: %s",
            ("/p/",),
            None,
            extra={"status_code": 403},
        )
        assert not OrdinaryRefusals().filter(record)
    finally:
        root.setLevel(before)


def test_the_filter_is_on_djangos_request_logger():
    from dashboard.logfilters import OrdinaryRefusals

    assert any(isinstance(f, OrdinaryRefusals) for f in logging.getLogger("django.request").filters)


def test_a_wall_links_token_stays_out_of_the_refusal_line():
    from dashboard.logfilters import OrdinaryRefusals, RedactWallTokens

    request = RequestFactory().get("/wall/the-secret-token/")
    record = logging.getLogger("django.request").makeRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (request.path,),
        None,
        extra={"status_code": 404, "request": request},
    )
    assert OrdinaryRefusals().filter(record)
    assert RedactWallTokens().filter(record)  # the console handler's filter, after the logger's
    assert record.getMessage() == "GET /wall/…/ 404 Not Found (user -)"
