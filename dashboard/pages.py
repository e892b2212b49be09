"""Live pages: which topics each one shows and how a change renders on it.

A page's first paint and its live updates come from the same fragment
templates. A change is rendered once per page kind, whatever the number of
sockets showing that page. Each feature package has its page (``calls.pages``,
``inbox.pages``, ``flows.pages``, ``queues.pages``); this registers them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from dashboard.calls.pages import CALLS_PAGE
from dashboard.changes import AUDIENCES, Change
from dashboard.flows.pages import FLOWS_PAGE
from dashboard.inbox.pages import INBOX_PAGE
from dashboard.models import User
from dashboard.queues.pages import AGENTS_PAGE, QUEUES_PAGE


class LivePage(Protocol):
    """What the browser socket and the relay need of a live page."""

    kind: str
    resources: tuple[str, ...]

    def allows(self, user: User) -> bool: ...
    def topics(self, user: User) -> list[str]: ...
    def filters(self, query: dict[str, list[str]]) -> dict[str, Any]: ...
    def render_change(self, change: Change, audiences: Collection[str] = AUDIENCES) -> dict[str, str]:
        """The change's fragment for each audience (``AUDIENCES``) that sees it; those not in
        ``audiences`` (nobody here shows them) may be left out."""
        ...

    # (user, **filters) -> html, the filters being what ``filters()`` returned.
    render_lists: Callable[..., str]


PAGES: dict[str, LivePage] = {
    page.kind: page for page in (CALLS_PAGE, INBOX_PAGE, FLOWS_PAGE, QUEUES_PAGE, AGENTS_PAGE)
}
