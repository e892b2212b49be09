"""A wall link's token is its only credential: it must not reach the logs."""

from __future__ import annotations

import io
import logging

from dashboard.logfilters import RedactWallTokens, redact


def test_wall_and_wall_socket_paths_are_redacted_and_others_kept():
    assert redact("Not Found: /wall/abcDEF123_-x/") == "Not Found: /wall/…/"
    assert redact('"GET /ws/wall/abc/ HTTP/1.1"') == '"GET /ws/wall/…/ HTTP/1.1"'
    assert redact("/walls/3/revoke/") == "/walls/3/revoke/"
    assert redact("/calls/abc/hangup/") == "/calls/abc/hangup/"


def test_the_configured_console_handler_redacts_a_dead_links_not_found_line():
    """settings.LOGGING puts the filter on the handler every log line goes through."""
    [console] = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactWallTokens) for f in h.filters)
    ]
    stream = io.StringIO()
    original, console.stream = console.stream, stream
    try:
        logging.getLogger("django.request").warning("Not Found: %s", "/wall/s3cret-token-value/")
    finally:
        console.stream = original
    assert "Not Found: /wall/…/" in stream.getvalue()
    assert "s3cret" not in stream.getvalue()
