"""The agents board, mounted under ``agents/`` (the queues page is ``urls.py``, under ``queues/``)."""

from __future__ import annotations

from django.urls import path

from dashboard.queues import views

app_name = "agents"

urlpatterns = [
    path("", views.agents, name="board"),
    path("<str:agent_id>/status/", views.set_agent_status, name="status"),
]
