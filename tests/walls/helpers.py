"""What the wall tests share beyond their fixtures (tests/walls/conftest.py)."""

from __future__ import annotations

from datetime import datetime

from dashboard.models import Account, WallDisplay
from dashboard.walls import tokens


def issue_link(
    account: Account,
    *,
    name: str = "Floor",
    panels: tuple[str, ...] = ("queues", "inbox"),
    expires_at: datetime | None = None,
) -> tuple[WallDisplay, str]:
    """A wall link as an admin makes one on /walls/: the display and its token (shown once)."""
    return tokens.issue(
        name=name,
        account=account,
        panels=list(panels),
        rotation_seconds=10,
        expires_at=expires_at,
        created_by=None,
    )
