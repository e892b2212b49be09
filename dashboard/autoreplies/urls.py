"""``/rules/…``: the auto-reply rules pages (included from ``config/urls.py``)."""

from __future__ import annotations

from django.urls import path

from dashboard.autoreplies import views

app_name = "autoreplies"

urlpatterns = [
    path("", views.rules_page, name="rules"),
    path("new/", views.rule_create, name="create"),
    path("mode/", views.account_mode, name="mode"),
    path("<int:rule_id>/edit/", views.rule_edit, name="edit"),
    path("<int:rule_id>/delete/", views.rule_delete, name="delete"),
    path("<int:rule_id>/move/", views.rule_move, name="move"),
    path("<int:rule_id>/enabled/", views.rule_enabled, name="enabled"),
    path("dry-run/", views.dry_run, name="dry_run"),
    path("replay/", views.replay, name="replay"),
    path("decisions/", views.decision_log, name="decisions"),
    path("decisions.csv", views.decision_csv, name="decisions_csv"),
]
