from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from dashboard import signin, views
from dashboard.walls import views as walls

urlpatterns = [
    path("", views.status, name="status"),
    path("calls/", include("dashboard.calls.urls")),
    path("", include("dashboard.flows.urls")),
    path("messages/", include("dashboard.inbox.urls")),
    path("rules/", include("dashboard.autoreplies.urls")),
    path("queues/", include("dashboard.queues.urls")),
    path("agents/", include("dashboard.queues.agent_urls")),
    path("login/", signin.login_view, name="login"),
    path("logout/", signin.logout_view, name="logout"),
    path("walls/", walls.manage, name="walls"),
    path("walls/<int:wall_id>/revoke/", walls.revoke, name="wall_revoke"),
    path("wall/<str:token>/", walls.wall, name="wall"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

# Refusals and missing pages say why and what to do; htmx requests get a notice (dashboard/errors.py).
handler403 = "dashboard.errors.permission_denied"
handler404 = "dashboard.errors.page_not_found"
handler500 = "dashboard.errors.server_error"
