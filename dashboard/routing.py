from __future__ import annotations

from django.urls import path

from dashboard import consumers
from dashboard.walls.consumer import WallConsumer

websocket_urlpatterns = [
    path("ws/status/", consumers.StatusConsumer.as_asgi()),
    path("ws/live/<slug:page>/", consumers.LiveConsumer.as_asgi()),
    path("ws/wall/<str:token>/", WallConsumer.as_asgi()),
]
