"""The wall page as a TV shows it: which panel is on, each queue's state in words and an icon, the inbox's
figures, fragments that morph in place, and nothing inline that a strict Content-Security-Policy blocks.

Sizes and colours are checked in Chromium (tests/e2e/test_wall_display.py); here, the markup.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from dashboard.models import Message, Queue, Queuecall
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from dashboard.walls import tokens
from dashboard.walls.panels import INBOX_THREADS_SHOWN, render_panels
from tests.walls.helpers import issue_link

pytestmark = pytest.mark.django_db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        """The text as read: whitespace runs as one space."""
        raw = "".join(c if isinstance(c, str) else c.text() for c in self.children)
        return re.sub(r"\s+", " ", raw).strip()

    def all(self, selector: str) -> list[Node]:
        """Descendants matching ``.class``, ``tag``, ``[attribute]`` or ``[attribute=value]``."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if _matches(child, selector):
                    found.append(child)
                found.extend(child.all(selector))
        return found

    def one(self, selector: str) -> Node:
        (node,) = self.all(selector)
        return node


def _matches(node: Node, selector: str) -> bool:
    if selector.startswith("."):
        return selector[1:] in node.classes
    if selector.startswith("["):
        name, _, value = selector[1:-1].partition("=")
        return name in node.attrs and (not value or node.attrs[name] == value)
    return node.tag == selector


class Tree(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    return Tree(html).root


class InlineCode(HTMLParser):
    """What a Content-Security-Policy without 'unsafe-inline' refuses: inline scripts, styles, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found.extend(f"{name}= on <{tag}>" for name in names if name == "style" or name.startswith("on"))
        self.found.extend(
            f"javascript: URL on <{tag}>"
            for _, value in attrs
            if (value or "").lower().startswith("javascript:")
        )


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def wall_page(client, account, panels: tuple[str, ...] = ("queues", "inbox")) -> str:
    _, token = issue_link(account, panels=panels)
    response = client.get(f"/wall/{token}/")
    assert response.status_code == 200
    return response.content.decode()


def queue(pk: str, name: str, *, waiting: int = 0, **thresholds: int) -> Queue:
    made = Queue.objects.create(id=pk, customer_id=DEMO_CUSTOMER_ID, name=name, **thresholds)
    now = timezone.now()
    for n in range(waiting):
        Queuecall.objects.create(
            id=f"{pk}-call-{n}",
            customer_id=DEMO_CUSTOMER_ID,
            queue_id=pk,
            status="waiting",
            tm_create=now - timedelta(seconds=30 + n),
        )
    return made


def inbound(pk: str, remote: str, text: str, minutes_ago: int) -> Message:
    return Message.objects.create(
        id=pk,
        customer_id=DEMO_CUSTOMER_ID,
        direction="inbound",
        remote=remote,
        our_number=DEMO_SMS_NUMBER,
        source=remote,
        destination=DEMO_SMS_NUMBER,
        text=text,
        tm_create=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_a_two_panel_wall_says_which_panel_is_on_without_announcing_each_turn(client, account):
    page = parse(wall_page(client, account))
    indicator = page.one("[data-wall-indicator]")
    assert indicator.attrs["aria-live"] == "off"
    assert indicator.one(".wall-indicator-text").text() == "Queues · 1 of 2"
    dots = indicator.one(".wall-dots")
    assert dots.attrs["aria-label"] == "Panels"
    first, second = dots.all("li")
    assert (first.text(), first.attrs.get("aria-current")) == ("Queues", "true")
    assert (second.text(), "aria-current" in second.attrs) == ("Inbox", False)
    sections = page.all(".wall-panel")
    assert [(s.attrs["data-panel"], s.attrs["data-panel-label"]) for s in sections] == [
        ("queues", "Queues"),
        ("inbox", "Inbox"),
    ]
    assert ["is-shown" in s.classes for s in sections] == [True, False]
    # Each panel keeps its heading for screen readers; the indicator is what the room reads.
    assert [s.one("h2").attrs["id"] for s in sections] == [s.attrs["aria-labelledby"] for s in sections]


def test_a_one_panel_wall_names_its_panel_without_counting_or_dots(client, account):
    page = parse(wall_page(client, account, panels=("inbox",)))
    indicator = page.one("[data-wall-indicator]")
    assert indicator.one(".wall-indicator-text").text() == "Inbox"
    assert indicator.all(".wall-dots") == []
    assert [s.attrs["data-panel"] for s in page.all(".wall-panel")] == ["inbox"]
    assert "wall-queues" not in {node.attrs["id"] for node in page.all("[id]")}


def test_each_queue_says_its_state_in_words_and_an_icon(client, account):
    queue("q-calm", "Calm")
    queue("q-busy", "Busy", waiting=1, warn_waiting=1, critical_waiting=3)
    queue("q-flood", "Flooded", waiting=2, warn_waiting=1, critical_waiting=2)
    page = parse(wall_page(client, account))
    grid = page.one(".wall-queues")
    assert grid.attrs["id"] == "wall-queues"
    assert grid.attrs["data-count"] == "3"  # the grid and its type scale follow the number of queues
    tiles = {tile.one("h3").text(): tile for tile in grid.all(".wall-queue")}
    assert list(tiles) == ["Busy", "Calm", "Flooded"]
    expected = {
        "Calm": ("normal", "✓", "Normal"),
        "Busy": ("warning", "⚠", "Warning"),
        "Flooded": ("critical", "✖", "Critical"),
    }
    for name, (level, icon, word) in expected.items():
        tile = tiles[name]
        assert tile.attrs["data-level"] == level
        assert f"level-{level}" in tile.classes
        state = tile.one(".wall-level")
        assert state.text() == f"{icon} {word}"
        assert state.one(".icon").attrs["aria-hidden"] == "true"  # read as the word alone
        assert tile.attrs["aria-labelledby"] == tile.one("h3").attrs["id"]
    assert tiles["Flooded"].one(".wall-reason").text() == "2 waiting (limit 2)"
    assert tiles["Calm"].one(".wall-reason").text() == ""
    flooded = tiles["Flooded"]
    assert flooded.one(".wall-figure").text() == "2 waiting"
    figures = {dd.attrs["data-figure"]: dd for dd in flooded.all("dd")}
    assert list(figures) == ["longest", "service-level", "answered", "abandoned"]
    assert "data-wait-since" in figures["longest"].one("span").attrs  # static/js/wall.js ticks it
    assert figures["service-level"].text() == "—"  # nobody answered or abandoned today
    assert [dt.text() for dt in flooded.all("dt")] == [
        "Longest wait",
        "Service level",
        "Answered",
        "Abandoned",
    ]


def test_the_inbox_shows_how_many_wait_and_for_how_long(client, account):
    page = parse(wall_page(client, account, panels=("inbox",)))
    assert page.one("[data-figure=inbox-waiting]").text() == "0"
    assert page.one("[data-figure=inbox-longest]").text() == "—"
    assert page.one(".wall-empty").text() == "✓ Every message has an answer."

    oldest = inbound("m-1", "+15550000001", "Where is my parcel?", minutes_ago=12)
    inbound("m-2", "+15550000002", "Hello?", minutes_ago=3)
    page = parse(wall_page(client, account, panels=("inbox",)))
    assert page.one("[data-figure=inbox-waiting]").text() == "2"
    since = page.one("[data-figure=inbox-longest]").one("span").attrs["data-age-since"]
    assert since == str(int(oldest.tm_create.timestamp()))  # the oldest thread's wait
    assert [li.one(".who").text() for li in page.all("li")] == ["+15550000001", "+15550000002"]


def test_an_inbox_longer_than_its_list_says_so(client, account):
    for n in range(INBOX_THREADS_SHOWN + 1):
        inbound(f"m-{n}", f"+1555000{n:04d}", "Hi", minutes_ago=30 - n)
    page = parse(wall_page(client, account, panels=("inbox",)))
    # The whole count when the panel's context gives it (threads_waiting), else "at least the list".
    shown = page.one("[data-figure=inbox-waiting]").text()
    assert shown in (str(INBOX_THREADS_SHOWN + 1), f"{INBOX_THREADS_SHOWN}+")
    assert len(page.all("li")) == INBOX_THREADS_SHOWN


def test_pushed_fragments_morph_in_place_with_the_ids_the_page_has(client, account):
    queue("q-calm", "Calm")
    page = parse(wall_page(client, account))
    ids = {node.attrs["id"] for node in page.all("[id]")}
    parts = render_panels(account.pk, ["queues", "inbox"])
    assert set(parts) == {"updated", "queues", "inbox"}
    for name, element_id in (("updated", "wall-updated"), ("queues", "wall-queues"), ("inbox", "wall-inbox")):
        (fragment,) = [c for c in parse(parts[name]).children if isinstance(c, Node)]
        assert fragment.attrs["id"] == element_id
        assert fragment.attrs["hx-swap-oob"] == "morph"
        assert element_id in ids  # what the fragment replaces is on the page
    assert parse(parts["queues"]).one(".wall-queues").attrs["data-count"] == "1"
    assert page.one("body").attrs["hx-ext"] == "morph"


def test_no_inline_script_style_or_handler_for_a_strict_csp(client, account):
    queue("q-busy", "Busy", waiting=1, warn_waiting=1, critical_waiting=3)
    inbound("m-1", "+15550000001", "Hi", minutes_ago=1)
    display, token = issue_link(account)
    pages = {
        "two panels": wall_page(client, account),
        "one panel": wall_page(client, account, panels=("queues",)),
        **{f"pushed {name}": html for name, html in render_panels(account.pk, ["queues", "inbox"]).items()},
    }
    tokens.revoke(display)
    pages["link not valid"] = client.get(f"/wall/{token}/").content.decode()
    assert {name: inline_code(html) for name, html in pages.items()} == {name: [] for name in pages}
