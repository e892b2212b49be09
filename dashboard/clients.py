"""VoIPBIN clients configured from settings: the one place settings meet dashboard/voipbin/."""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import certifi
from django.conf import settings

from dashboard.voipbin.rest import VoipbinClient
from dashboard.voipbin.upstream import Backoff


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every REST client: loading the CA bundle costs ~20 ms of CPU each time."""
    return ssl.create_default_context(cafile=certifi.where())


def rest_client(*, token: str | None = None, accesskey: str | None = None) -> VoipbinClient:
    """A REST client for these credentials; use it as ``async with rest_client(token=…) as client``."""
    return VoipbinClient(
        settings.VOIPBIN_BASE_URL,
        token=token,
        accesskey=accesskey,
        timeout=settings.VOIPBIN_HTTP_TIMEOUT,
        verify=tls_context(),
    )


def session_options() -> dict[str, Any]:
    """Upstream session keyword arguments from settings, shared by every session we open."""
    return {
        "backoff": Backoff(settings.UPSTREAM_BACKOFF_BASE, settings.UPSTREAM_BACKOFF_CAP),
        "stable_after": settings.UPSTREAM_STABLE_AFTER,
        "max_size": settings.UPSTREAM_MAX_FRAME_BYTES,
        "ping_interval": settings.UPSTREAM_PING_INTERVAL,
        "silence_timeout": settings.UPSTREAM_SILENCE_SECONDS,
    }
