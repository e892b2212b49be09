"""Wall display links: a random token shown once, stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.utils import timezone

from dashboard.models import Account, User, WallDisplay

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    *,
    name: str,
    account: Account,
    panels: list[str],
    rotation_seconds: int,
    expires_at: datetime | None,
    created_by: User | None,
) -> tuple[WallDisplay, str]:
    """Create a display link; the token is returned here and never again."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    wall = WallDisplay(
        name=name,
        account=account,
        panels=panels,
        rotation_seconds=rotation_seconds,
        expires_at=expires_at,
        created_by=created_by,
        token_hash=hash_token(token),
    )
    wall.full_clean()
    wall.save()
    return wall, token


def find_active(token: str) -> WallDisplay | None:
    """The wall this token opens, if it is neither revoked nor expired (and its account enabled)."""
    if not token or len(token) > 128:
        return None
    wall = WallDisplay.objects.select_related("account").filter(token_hash=hash_token(token)).first()
    if wall is None or not wall.is_active or not wall.account.enabled:
        return None
    return wall


def revoke(wall: WallDisplay) -> None:
    if wall.revoked_at is None:
        wall.revoked_at = timezone.now()
        wall.save(update_fields=["revoked_at"])


def still_active(wall_ids: set[int]) -> set[int]:
    """Which of these walls may stay open (one query for every open wall socket of a process)."""
    now = timezone.now()
    rows = WallDisplay.objects.filter(pk__in=wall_ids, revoked_at__isnull=True, account__enabled=True)
    return {pk for pk, expires in rows.values_list("pk", "expires_at") if expires is None or expires > now}
