from __future__ import annotations

from django.urls import path

from dashboard.queues import views

app_name = "queues"

urlpatterns = [
    path("", views.queues, name="page"),
    path("<str:queue_id>/thresholds/", views.thresholds, name="thresholds"),
]
