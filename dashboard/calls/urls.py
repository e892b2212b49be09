"""The calls page, mounted under ``calls/`` (names without a namespace: templates use them)."""

from __future__ import annotations

from django.urls import path

from dashboard.calls import views

urlpatterns = [
    path("", views.calls, name="calls"),
    path("<str:call_id>/hangup/", views.hangup_call, name="hangup_call"),
]
