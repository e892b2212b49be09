from __future__ import annotations

from django.contrib import admin
from django.urls import path

from dashboard import signin, views
from dashboard.walls import views as walls

urlpatterns = [
    path("", views.status, name="status"),
    path("calls/", views.calls, name="calls"),
    path("calls/<str:call_id>/hangup/", views.hangup_call, name="hangup_call"),
    path("login/", signin.login_view, name="login"),
    path("logout/", signin.logout_view, name="logout"),
    path("walls/", walls.manage, name="walls"),
    path("walls/<int:wall_id>/revoke/", walls.revoke, name="wall_revoke"),
    path("wall/<str:token>/", walls.wall, name="wall"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
