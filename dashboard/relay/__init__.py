"""The relay: VoIPBIN's events to browsers, split by job (``docs/RELAY.md``).

* ``hub``: who owns a session (users' sessions under leases, account feeds for agents' pages and
  walls) and the hand-over to the sockets of this process;
* ``pipeline``: apply to live state and render, once per process per event;
* ``crossing``: rendered updates and session state across processes (the channel layer).
"""

from dashboard.relay.hub import (
    CLOSE_SIGNED_OUT,
    Hub,
    UserSession,
    end_user_session,
    get_hub,
    lease_key,
    render_upstream_state,
    session_topics,
    show_answer,
    shutdown_hub,
)
from dashboard.relay.pipeline import Update, render_update

__all__ = [
    "CLOSE_SIGNED_OUT",
    "Hub",
    "Update",
    "UserSession",
    "end_user_session",
    "get_hub",
    "lease_key",
    "render_update",
    "render_upstream_state",
    "session_topics",
    "show_answer",
    "shutdown_hub",
]
