"""Browser WebSockets. Thin: accept, join a group, pass on what the server rendered."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard.monitor import STATUS_GROUP, get_monitor


class StatusConsumer(AsyncWebsocketConsumer):
    """Live upstream state and event counts for the status page."""

    async def connect(self) -> None:
        await self.channel_layer.group_add(STATUS_GROUP, self.channel_name)
        await self.accept()
        await self.send(text_data=get_monitor().render())

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(STATUS_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The status page sends nothing; anything that arrives is ignored."""

    async def status_html(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["html"])
