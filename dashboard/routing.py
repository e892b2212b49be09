from __future__ import annotations

from django.urls import path

from dashboard import consumers

websocket_urlpatterns = [
    path("ws/status/", consumers.StatusConsumer.as_asgi()),
    path("ws/live/<slug:page>/", consumers.LiveConsumer.as_asgi()),
]
