"""The wall's socket: opened by its link's token alone, so it is checked before anything is accepted."""

from __future__ import annotations

import contextlib

from channels.db import database_sync_to_async

from dashboard.sockets import NotJSON, PushConsumer
from dashboard.walls import tokens
from dashboard.walls.feed import get_feed

CLOSE_INVALID_LINK = 4404


class WallConsumer(PushConsumer):
    """``/ws/wall/<token>/``: receives the account's panels; sends nothing that is read."""

    wall_id: int
    account_id: int
    panels: tuple[str, ...]
    whole_state = True  # every frame carries the stamp and all of the link's panels

    async def connect(self) -> None:
        token = self.scope["url_route"]["kwargs"]["token"]
        wall = await database_sync_to_async(tokens.find_active)(token)
        if wall is None:
            await self.close(code=CLOSE_INVALID_LINK)
            return
        self.wall_id, self.account_id, self.panels = wall.pk, wall.account_id, tuple(wall.panels)
        await self.accept()
        self.start_sending()
        await get_feed().attach(self)

    async def release(self) -> None:
        if hasattr(self, "wall_id"):  # accepted: it may be in the feed
            await get_feed().detach(self)
        await super().release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A wall only acknowledges what it read; anything else is ignored (a flood still closes it)."""
        with contextlib.suppress(NotJSON):
            await self.read_frame(text_data, bytes_data)

    async def end(self, code: int) -> None:
        """Closed by the server (link revoked, shutdown): leave the feed now, not when the browser acks."""
        await get_feed().detach(self)
        await self.close(code=code)
