"""VoIPBIN clients configured from settings: the one place settings meet dashboard/voipbin/."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from dashboard.voipbin.rest import VoipbinClient
from dashboard.voipbin.upstream import Backoff


def rest_client(*, token: str | None = None, accesskey: str | None = None) -> VoipbinClient:
    """A REST client for these credentials; use it as ``async with rest_client(token=…) as client``."""
    return VoipbinClient(
        settings.VOIPBIN_BASE_URL, token=token, accesskey=accesskey, timeout=settings.VOIPBIN_HTTP_TIMEOUT
    )


def session_options() -> dict[str, Any]:
    """Upstream session keyword arguments from settings, shared by every session we open."""
    return {
        "backoff": Backoff(settings.UPSTREAM_BACKOFF_BASE, settings.UPSTREAM_BACKOFF_CAP),
        "stable_after": settings.UPSTREAM_STABLE_AFTER,
        "max_size": settings.UPSTREAM_MAX_FRAME_BYTES,
        "ping_interval": settings.UPSTREAM_PING_INTERVAL,
        "ping_timeout": settings.UPSTREAM_PING_TIMEOUT,
    }
