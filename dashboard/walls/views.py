"""The wall page (its link is its only credential) and the admins' page that issues and revokes links."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.models import Account, Role, User, WallDisplay, WallPanel
from dashboard.walls import tokens
from dashboard.walls.panels import panels_context


def wall_panels(panels: list[str]) -> list[dict[str, str | int]]:
    """The link's panels in rotation order, named as the panel indicator names them ("Queues · 1 of 2")."""
    labels = dict(WallPanel.choices)
    known = [panel for panel in panels if panel in labels]
    return [
        {"key": panel, "label": str(labels[panel]), "position": position}
        for position, panel in enumerate(known, start=1)
    ]


@require_GET
def wall(request: HttpRequest, token: str) -> HttpResponse:
    """A TV's page: no session, no cookie; the token in the path opens this page and its socket only."""
    display = tokens.find_active(token)
    if display is None:
        response = render(request, "dashboard/wall_gone.html", status=404)
    else:
        context = {
            "wall": display,
            "wall_panels": wall_panels(display.panels),
            "socket_path": f"/ws/wall/{token}/",
            **panels_context(display.account, display.panels),
        }
        response = render(request, "dashboard/wall.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the path is the credential: never pass it on
    response["Cache-Control"] = "no-store"
    return response


class WallForm(forms.Form):
    name = forms.CharField(max_length=120)
    panels = forms.MultipleChoiceField(
        choices=WallPanel.choices, widget=forms.CheckboxSelectMultiple, initial=[p.value for p in WallPanel]
    )
    rotation_seconds = forms.IntegerField(min_value=5, max_value=600, initial=15, label="Seconds per panel")
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires (optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: until revoked.",
    )


def _admin_account(user: User) -> Account:
    """The account whose walls this user manages: VoIPBIN admins only, their own customer only."""
    if user.role is not Role.ADMIN:
        raise PermissionDenied("Only VoIPBIN admins manage wall displays")
    account = Account.objects.filter(customer_id=user.customer_id).first()
    if account is None:
        raise PermissionDenied("No VoIPBIN account is configured for your customer yet")
    return account


@require_http_methods(["GET", "POST"])
@login_required
def manage(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    account = _admin_account(user)
    form = WallForm(request.POST or None)
    link = ""
    if request.method == "POST" and form.is_valid():
        _, token = tokens.issue(
            name=form.cleaned_data["name"],
            account=account,
            panels=form.cleaned_data["panels"],
            rotation_seconds=form.cleaned_data["rotation_seconds"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=user,
        )
        link = request.build_absolute_uri(f"/wall/{token}/")
        form = WallForm()
    walls = WallDisplay.objects.filter(account=account).select_related("created_by").order_by("-created_at")
    context = {"form": form, "walls": walls, "link": link, "account": account}
    return render(request, "dashboard/walls.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def revoke(request: HttpRequest, wall_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    account = _admin_account(user)
    tokens.revoke(get_object_or_404(WallDisplay, pk=wall_id, account=account))
    return redirect("walls")
