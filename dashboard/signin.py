"""Signing in with VoIPBIN credentials, and signing out.

VoIPBIN checks the password (``POST /auth/login``) and says who the agent is
(``GET /v1.0/me``); the local user only mirrors that agent. Local passwords are
unusable, so nothing but VoIPBIN can sign anyone in. The token is stored
encrypted (``EncryptedTextField``) and never logged or rendered.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import aget_user, alogin, alogout
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.clients import rest_client
from dashboard.forms import LoginForm
from dashboard.models import User
from dashboard.relay import end_user_session
from dashboard.voipbin.rest import (
    InvalidCredentials,
    ServerError,
    Unreachable,
    VoipbinError,
    VoipbinTimeout,
)

logger = logging.getLogger(__name__)

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"
WRONG_CREDENTIALS = "Wrong username or password."


class SignInRefused(Exception):
    """VoIPBIN accepted the credentials, but this dashboard will not sign the agent in."""


@sensitive_variables("password", "result", "client", "anonymous")
async def sign_in(*, username: str, password: str) -> User:
    """The local user for the VoIPBIN agent these credentials belong to, created or brought up to date.

    Raises VoIPBIN's errors (``InvalidCredentials``, ``Unreachable``,
    ``VoipbinTimeout``, ``ServerError``, …) and ``SignInRefused``.
    """
    async with rest_client() as anonymous:
        result = await anonymous.login(username, password)
    async with rest_client(token=result.token) as client:
        agent = _agent_fields(await client.me(), fallback_username=result.username)

    agent_id = agent.pop("agent_id")
    existing = await User.objects.filter(agent_id=agent_id).afirst()
    if existing is not None and not existing.is_active:
        raise SignInRefused("This account is disabled on this dashboard; ask an administrator.")
    fields = {
        **agent,
        "voipbin_token": result.token,
        "token_expires_at": result.expire,
        "token_rejected_at": None,
    }
    try:
        user, created = await User.objects.aupdate_or_create(
            agent_id=agent_id, defaults=fields, create_defaults={**fields, "password": make_password(None)}
        )
    except IntegrityError as exc:
        # The identity is the agent id; a username held by another row (a local account, or an
        # agent VoIPBIN has since deleted) must not be taken over silently.
        logger.warning("sign-in refused: username %r belongs to another local user", agent["username"])
        raise SignInRefused(
            "This username belongs to another account on this dashboard; ask an administrator."
        ) from exc
    if not created and user.has_usable_password():
        user.set_unusable_password()
        await user.asave(update_fields=["password"])
    if existing is not None and existing.token_rejected_at is not None:
        # Sessions still holding the refused token (in any process) are dead: end them, so the
        # user's tabs reload and the next one opens an upstream session with the new token.
        await end_user_session(user.pk)
    logger.info("VoIPBIN agent %s (%s) signed in as %s", user.username, agent_id, user.role.label)
    return user


def _agent_fields(me: Any, *, fallback_username: str) -> dict[str, Any]:
    """``/me``'s agent as ``User`` fields."""
    if not isinstance(me, dict) or not me.get("id") or not me.get("customer_id"):
        raise ServerError("VoIPBIN's /me answer does not describe an agent")
    try:
        permission = int(me.get("permission") or 0)
    except (TypeError, ValueError) as exc:
        raise ServerError("VoIPBIN's /me answer has unreadable permission bits") from exc
    first_name, _, last_name = " ".join(str(me.get("name") or "").split()).partition(" ")
    return {
        "agent_id": str(me["id"]),
        "username": str(me.get("username") or fallback_username),
        "first_name": first_name[:150],
        "last_name": last_name[:150],
        "customer_id": str(me["customer_id"]),
        "permission": max(permission, 0),
    }


def unavailable_message(error: VoipbinError) -> str:
    """What the login form says when VoIPBIN could not answer."""
    if isinstance(error, VoipbinTimeout):
        reason = f"no answer within {settings.VOIPBIN_HTTP_TIMEOUT:g} seconds"
    elif isinstance(error, Unreachable) and error.__cause__ is not None:
        reason = str(error.__cause__) or type(error.__cause__).__name__
    else:
        reason = error.message
    return f"VoIPBIN cannot be reached right now ({reason}). Please try again in a moment."


def _safe_next(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if allowed else ""


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
async def login_view(request: HttpRequest) -> HttpResponse:
    """GET shows the form; POST signs in with VoIPBIN and goes to ``next`` (if safe) or the calls page."""
    # Resolve the user the async way, so a template reading ``user`` does no sync query.
    request.user = await aget_user(request)
    next_url = _safe_next(request)
    form = LoginForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user = await sign_in(
                username=form.cleaned_data["username"], password=form.cleaned_data["password"]
            )
        except InvalidCredentials:
            logger.info("sign-in refused by VoIPBIN: wrong username or password")
            form.add_error(None, WRONG_CREDENTIALS)
        except (Unreachable, VoipbinTimeout, ServerError) as exc:
            logger.warning("sign-in failed, VoIPBIN unavailable: %s", exc.message)
            form.add_error(None, unavailable_message(exc))
        except VoipbinError as exc:
            logger.warning("sign-in failed, VoIPBIN said: %s", exc.message)
            form.add_error(None, f"VoIPBIN did not sign you in: {exc.message}")
        except SignInRefused as exc:
            form.add_error(None, str(exc))
        else:
            await alogin(request, user, backend=AUTH_BACKEND)
            return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    return render(request, "registration/login.html", {"form": form, "next": next_url})


@require_POST
@csrf_protect
async def logout_view(request: HttpRequest) -> HttpResponse:
    """Ends the user's live VoIPBIN session, then the Django session."""
    user = await request.auser()
    if user.is_authenticated:
        # The token is no longer wanted: a signed-out user's credentials do not stay at rest.
        await User.objects.filter(pk=user.pk).aupdate(voipbin_token="", token_expires_at=None)
        try:
            await end_user_session(user.pk)
        except Exception:
            # A failing relay must not keep anyone signed in.
            logger.exception("ending the live session of user %s failed; signing out anyway", user.pk)
    await alogout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
