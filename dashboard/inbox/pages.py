"""The inbox as a live page (the interface of ``dashboard.calls.pages.CallsPage``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from dashboard.changes import AUDIENCES, Change
from dashboard.inbox import threads
from dashboard.models import Message, User


def _first(query: dict[str, list[str]], name: str) -> str:
    return (query.get(name) or [""])[0].strip()


@dataclass(frozen=True)
class InboxPage:
    """The inbox's thread list and a thread's messages: both pages share this kind and its socket.

    A change is rendered once for every supervisor of the customer, so a pushed thread row
    cannot carry one user's unread count: it carries a "new" marker when the message it brings
    is inbound, and ``static/js/live.js`` keeps the count the row already showed beside it.
    Exact counts come back on every page load and resync (``render_lists``). The pushed message
    item lands only on the page holding its thread's list (``thread-<key>``); elsewhere the
    browser drops it. A pushed row also brings the thread's state line (``threadstate-<key>``,
    awaiting a person or answered), which only the thread's own page shows.
    """

    kind = "inbox"
    resources = ("message",)

    def allows(self, user: User) -> bool:
        return user.is_supervisor

    def topics(self, user: User) -> list[str]:
        return user.scope_topics(self.resources)

    def filters(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """``q`` and ``unanswered`` for the thread list; ``our`` and ``remote`` name an open thread."""
        return {
            "q": _first(query, "q")[:200],
            "unanswered": _first(query, "unanswered") == "1",
            "our": _first(query, "our"),
            "remote": _first(query, "remote"),
        }

    def render_change(self, change: Change, audiences: Collection[str] = AUDIENCES) -> dict[str, str]:
        """The thread's row (its newest message, wherever this one falls) and the message itself."""
        if not isinstance(change.row, Message):
            return {}
        message = change.row
        head = threads.thread_head(
            customer_id=message.customer_id, our_number=message.our_number, remote=message.remote
        )
        if head is None:
            return {}
        threads.decorate([message])
        new = message.direction == "inbound" and message.pk == head.pk
        html = render_to_string(
            "dashboard/fragments/thread_row.html", {"thread": head, "live": True, "new": new}
        ) + render_to_string("dashboard/fragments/message_item.html", {"message": message, "live": True})
        return {"supervisor": html, "agent": ""}

    def render_lists(
        self, user: User, *, q: str = "", unanswered: bool = False, our: str = "", remote: str = ""
    ) -> str:
        """The open thread's messages, or the filtered thread list, whole (a socket (re)connects)."""
        if not self.allows(user):
            return ""
        if our and remote:
            messages = threads.thread_messages(user, our_number=our, remote=remote)
            context = {"thread_messages": messages, "key": threads.thread_key(our, remote), "live": True}
            html = render_to_string("dashboard/fragments/message_list.html", context)
            if messages:  # the thread's state line (awaiting a person, answered) as it stands now
                state = {"thread": messages[-1], "state_only": True, "live": True}
                html += render_to_string("dashboard/fragments/thread_row.html", state)
            return html
        context = {"threads": threads.threads(user, q=q, unanswered=unanswered), "live": True}
        return render_to_string("dashboard/fragments/thread_list.html", context)


INBOX_PAGE = InboxPage()
