"""The rules pages: thin views over ``access`` (who), ``audit`` (changes) and ``simulate`` (what if)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import ProtectedError, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from dashboard.autoreplies import audit, decisions, describe, simulate
from dashboard.autoreplies.access import can_edit, editable_account, viewable_account
from dashboard.autoreplies.forms import DecisionFilterForm, DryRunForm, ModeForm, ReplayForm, RuleForm
from dashboard.models import Account, Rule, RuleChange, RuleDecisionLog, User

HISTORY_LENGTH = 20


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _no_account(request: HttpRequest) -> HttpResponse:
    """The customer has no account here yet: say what an operator must do, on every rules page."""
    context = {"account": None, "customer_id": _user(request).customer_id}
    return render(request, "dashboard/rules.html", context)


def _to_rules(rule: Rule | None = None) -> HttpResponse:
    url = reverse("autoreplies:rules")
    return redirect(f"{url}#rule-{rule.pk}" if rule is not None and rule.pk else url)


@require_GET
@login_required
def rules_page(request: HttpRequest) -> HttpResponse:
    """The account's rules in the order they run, its reply mode, delivery trouble and recent changes."""
    user = _user(request)
    account = viewable_account(user)
    if account is None:
        return _no_account(request)
    rows = list(account.rules.all())
    history = RuleChange.objects.filter(account=account)[:HISTORY_LENGTH]
    context = {
        "account": account,
        "rules": [(rule, describe.conditions(rule)) for rule in rows],
        "can_edit": can_edit(user),
        "mode_form": ModeForm(instance=account),
        "trouble": decisions.delivery_trouble(account, now=timezone.now()),
        "stuck_minutes": int(decisions.STUCK_AFTER.total_seconds() // 60),
        "history": [(change, describe.change_lines(change)) for change in history],
    }
    return render(request, "dashboard/rules.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def rule_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    account = editable_account(user)
    form = RuleForm(request.POST if request.method == "POST" else None, account=account, instance=Rule())
    if form.is_valid():
        rule = form.save(commit=False)
        audit.save_rule(rule=rule, by=user, append=True)
        messages.success(request, f"Rule “{rule.name}” created; it runs last.")
        return _to_rules(rule)
    return render(request, "dashboard/rule_form.html", {"form": form, "account": account, "rule": None})


@require_http_methods(["GET", "POST"])
@login_required
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = _user(request)
    account = editable_account(user)
    rule = get_object_or_404(Rule, pk=rule_id, account=account)
    title = rule.name  # validation writes the typed values into ``rule``, valid or not
    form = RuleForm(request.POST if request.method == "POST" else None, account=account, instance=rule)
    if form.is_valid():
        change = audit.save_rule(rule=form.save(commit=False), by=user)
        messages.success(request, f"Rule “{rule.name}” {'saved' if change else 'unchanged'}.")
        return _to_rules(rule)
    context = {"form": form, "account": account, "rule": rule, "title": title}
    return render(request, "dashboard/rule_form.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    """GET asks for confirmation (no script needed); POST deletes, unless replies point at the rule."""
    user = _user(request)
    account = editable_account(user)
    rule = get_object_or_404(Rule, pk=rule_id, account=account)
    if request.method == "GET":
        context = {"account": account, "rule": rule, "confirm_delete": True}
        return render(request, "dashboard/rule_form.html", context)
    try:
        audit.delete_rule(rule=rule, by=user)
    except ProtectedError:
        messages.error(
            request,
            f"Rule “{rule.name}” has sent replies, which its cooldown and daily cap still count: "
            "switch it off instead of deleting it.",
        )
        return _to_rules(rule)
    messages.success(request, f"Rule “{rule.name}” deleted.")
    return _to_rules()


@require_POST
@login_required
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = _user(request)
    account = editable_account(user)
    rule = get_object_or_404(Rule, pk=rule_id, account=account)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction must be up or down")
    audit.move_rule(rule=rule, direction=direction, by=user)
    return _to_rules(rule)


@require_POST
@login_required
def rule_enabled(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = _user(request)
    account = editable_account(user)
    rule = get_object_or_404(Rule, pk=rule_id, account=account)
    value = request.POST.get("enabled")
    if value not in ("on", "off"):
        return HttpResponseBadRequest("enabled must be on or off")
    audit.set_enabled(rule=rule, enabled=value == "on", by=user)
    messages.success(request, f"Rule “{rule.name}” switched {value}.")
    return _to_rules(rule)


@require_POST
@login_required
def account_mode(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    account = editable_account(user)
    form = ModeForm(request.POST, instance=account)
    if form.is_valid():
        audit.save_account(account=form.instance, by=user, update_fields=["mode"])
        messages.success(request, f"Reply mode: {form.instance.get_mode_display()}.")
    else:
        messages.error(request, "Choose one of the reply modes.")
    return _to_rules()


@require_http_methods(["GET", "POST"])
@login_required
def dry_run(request: HttpRequest) -> HttpResponse:
    """Try the stored rules on a typed message; htmx swaps only the result, plain POST reloads the page."""
    account = viewable_account(_user(request))
    if account is None:
        return _no_account(request)
    form = DryRunForm(request.POST if request.method == "POST" else None, account=account)
    results = None
    if form.is_valid():
        results = simulate.dry_run(
            account=account,
            sender=form.cleaned_data["sender"],
            receiving_number=form.cleaned_data["receiving_number"],
            text=form.cleaned_data["text"],
            at=form.cleaned_data["at"],
            first_in_conversation=form.cleaned_data["first_in_conversation"],
        )
    context = {
        "account": account,
        "form": form,
        "results": results,
        "replying": [result for result in results or () if result.decision.fired],
    }
    if request.htmx:  # type: ignore[attr-defined]
        if results is not None:
            return render(request, "dashboard/fragments/dry_run_result.html", context)
        response = render(request, "dashboard/fragments/dry_run_panel.html", context)
        return reswap(retarget(response, "#dry-run-panel"), "outerHTML")
    return render(request, "dashboard/dry_run.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def replay(request: HttpRequest) -> HttpResponse:
    """The stored rules over the last N days of inbound SMS; shows what would have gone out."""
    account = viewable_account(_user(request))
    if account is None:
        return _no_account(request)
    data = request.GET if "days" in request.GET else {"days": simulate.DEFAULT_REPLAY_DAYS}
    form = ReplayForm(data)
    cap = simulate.MAX_REPLAY_MESSAGES
    result = (
        simulate.replay(account=account, days=form.cleaned_data["days"], cap=cap) if form.is_valid() else None
    )
    context = {"account": account, "form": form, "result": result, "cap": cap}
    return render(request, "dashboard/replay.html", context, status=200 if form.is_valid() else 400)


def _filtered_logs(
    request: HttpRequest, account: Account
) -> tuple[DecisionFilterForm, QuerySet[RuleDecisionLog] | None]:
    form = DecisionFilterForm(request.GET, account=account)
    if not form.is_valid():
        return form, None
    logs = decisions.filter_logs(
        decisions.account_logs(account),
        zone=account.settings().time_zone,
        reason=form.cleaned_data["reason"],
        rule=form.cleaned_data["rule"],
        delivery=form.cleaned_data["delivery"],
        since=form.cleaned_data["since"],
        until=form.cleaned_data["until"],
    )
    return form, logs


@require_GET
@login_required
def decision_log(request: HttpRequest) -> HttpResponse:
    """Every rule's decision on every inbound SMS of the account, newest first, filtered, paginated."""
    account = viewable_account(_user(request))
    if account is None:
        return _no_account(request)
    form, logs = _filtered_logs(request, account)
    context: dict[str, object] = {"account": account, "form": form, "page": None, "rows": []}
    if logs is None:
        return render(request, "dashboard/decisions.html", context, status=400)
    page = Paginator(logs, decisions.PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(page=page, rows=decisions.with_context(list(page.object_list), account=account))
    return render(request, "dashboard/decisions.html", context)


@require_GET
@login_required
def decision_csv(request: HttpRequest) -> HttpResponse:
    """The same rows as the decision log with the same filters, streamed as CSV."""
    account = viewable_account(_user(request))
    if account is None:
        raise Http404("No auto-reply account is configured for your VoIPBIN customer.")
    form, logs = _filtered_logs(request, account)
    if logs is None:
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {problems}", content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        decisions.csv_rows(logs, account=account),
        content_type="text/csv; charset=utf-8",
    )
    today = timezone.now().astimezone(account.settings().time_zone).date()
    name = f"rule-decisions-{today:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
