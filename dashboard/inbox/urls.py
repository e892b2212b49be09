from __future__ import annotations

from django.urls import path

from dashboard.inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox, name="threads"),
    path("thread/", views.thread, name="thread"),
    path("thread/reply/", views.reply, name="reply"),
    path("export.csv", views.export_csv, name="export"),
]
