"""One way to open any VoIPBIN session: credentials (a user's token or an account's access key), the
topics they allow for every resource followed (``dashboard.resources``), and the owner's handlers for
events, each (re)connect (its backfill) and state changes.

The owners: the hub (users' sessions), the account feeds, the relay worker and the status page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from dashboard import resources
from dashboard.clients import session_options
from dashboard.voipbin.topics import Principal
from dashboard.voipbin.upstream import ConnectedHandler, EventHandler, StatusHandler, UpstreamSession


def open_session(
    *,
    principal: Principal,
    name: str,
    on_event: EventHandler,
    on_connected: ConnectedHandler | None = None,
    on_status: StatusHandler | None = None,
    token: str | None = None,
    accesskey: str | None = None,
    url: str | None = None,
    **options: Any,
) -> UpstreamSession:
    """A session (not started) with the settings' reconnect, keepalive and silence options; ``options``
    override them (tests, the relay worker's)."""
    return UpstreamSession(
        url or settings.VOIPBIN_WS_URL,
        token=token,
        accesskey=accesskey,
        topics=resources.topics(principal),
        on_event=on_event,
        on_connected=on_connected,
        on_status=on_status,
        name=name,
        **{**session_options(), **options},
    )


def account_principal(customer_id: str) -> Principal:
    """What an account's access key is to VoIPBIN: an admin of its customer, with no agent."""
    return Principal(customer_id=customer_id, access_key=True)
