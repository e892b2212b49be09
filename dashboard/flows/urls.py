"""``/flows/`` and ``/calls/<id>/flow/`` (included from ``config/urls.py``)."""

from __future__ import annotations

from django.urls import path

from dashboard.flows import views

app_name = "flows"

urlpatterns = [
    path("flows/", views.flows, name="flows"),
    path("calls/<str:call_id>/flow/", views.call_flow, name="call_flow"),
]
