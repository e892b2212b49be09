"""Django admin for auto-replies: accounts and rules are edited here; what the relay did is read-only.

Superusers (operators) see every customer. A staff user who is not a superuser sees only the rows
of their own ``customer_id`` (accounts, rules, replies, decision logs, rule changes) and cannot add
accounts or move one to another customer. Rule and reply-mode changes are recorded through
``dashboard.autoreplies.audit``, as on the rules page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from dashboard.autoreplies import audit, describe
from dashboard.models import Account, AutoReply, Message, Rule, RuleChange, RuleDecisionLog, User, WallDisplay


def _customer_id(request: HttpRequest) -> str | None:
    """None for a superuser (no scoping); otherwise the staff user's customer id ("" sees nothing)."""
    user = request.user
    if user.is_superuser:
        return None
    return getattr(user, "customer_id", "") or ""


def _author(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class TenantScopedAdmin(admin.ModelAdmin):
    """Rows of the staff user's own customer only; ``customer_lookup`` leads from the row to it."""

    customer_lookup = "account__customer_id"

    def scope(self, queryset: QuerySet, customer_id: str) -> QuerySet:
        return queryset.filter(**{self.customer_lookup: customer_id})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        customer_id = _customer_id(request)
        if customer_id is None:
            return queryset
        return self.scope(queryset, customer_id) if customer_id else queryset.none()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        customer_id = _customer_id(request)
        if customer_id is not None and db_field.related_model is Account:
            kwargs["queryset"] = (
                Account.objects.filter(customer_id=customer_id) if customer_id else Account.objects.none()
            )
        elif customer_id is not None and db_field.related_model is Rule:
            kwargs["queryset"] = (
                Rule.objects.filter(account__customer_id=customer_id) if customer_id else Rule.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AccountForm(forms.ModelForm):
    """The access key can be set or replaced, never read back: it is a password to VoIPBIN."""

    access_key = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Write-only. Leave blank to keep the current key.",
    )

    class Meta:
        model = Account
        fields = (
            "name",
            "customer_id",
            "access_key",
            "numbers",
            "time_zone",
            "enabled",
            "mode",
            "daily_cap",
            "automated_min_digits",
            "automated_senders",
            "automated_markers",
        )

    def clean_access_key(self) -> str:
        value: str = self.cleaned_data.get("access_key") or ""
        if value:
            return value
        if self.instance.pk and self.instance.access_key:
            return self.instance.access_key
        raise forms.ValidationError("The account's VoIPBIN access key is required.")


@admin.register(Account)
class AccountAdmin(TenantScopedAdmin):
    form = AccountForm
    customer_lookup = "customer_id"
    list_display = ("name", "customer_id", "enabled", "mode", "time_zone", "daily_cap")
    list_filter = ("enabled", "mode")
    search_fields = ("name", "customer_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Which customers have an account is the operators' decision."""
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if request.user.is_superuser else ("customer_id",)

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        audit.save_account(account=obj, by=_author(request))


@admin.register(Rule)
class RuleAdmin(TenantScopedAdmin):
    list_display = ("name", "account", "enabled", "order")
    list_editable = ("order",)
    list_filter = (("account", admin.RelatedOnlyFieldListFilter), "enabled")
    list_select_related = ("account",)
    search_fields = ("name", "reply")

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        """Also the list's order column: the changelist saves each changed row through here."""
        audit.save_rule(rule=obj, by=_author(request))

    def delete_model(self, request: HttpRequest, obj: Rule) -> None:
        audit.delete_rule(rule=obj, by=_author(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            audit.delete_rule(rule=rule, by=_author(request))


class ReadOnlyAdmin(TenantScopedAdmin):
    """What the relay recorded: evidence, so nobody edits it by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AutoReply)
class AutoReplyAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "rule", "sender", "status", "attempts", "error")
    list_filter = ("status", ("account", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("account", "rule")
    search_fields = ("inbound_message_id", "sender", "reply_message_id")


@admin.register(RuleDecisionLog)
class RuleDecisionLogAdmin(ReadOnlyAdmin):
    list_display = ("created", "message_id", "rule_name", "reason", "check_name", "until")
    list_filter = ("reason",)
    search_fields = ("message_id", "rule_name")

    def scope(self, queryset: QuerySet, customer_id: str) -> QuerySet:
        """A log row names its message only by id: the customer's via its rule or its message."""
        messages = Message.objects.filter(account__customer_id=customer_id).values("pk")
        return queryset.filter(Q(rule__account__customer_id=customer_id) | Q(message_id__in=messages))


@admin.register(RuleChange)
class RuleChangeAdmin(ReadOnlyAdmin):
    """Who changed which rule, or an account's reply mode (``(account mode)``), here or on the rules page."""

    list_display = ("created", "account", "rule_name", "action", "changed_by_name", "summary")
    list_filter = ("action", ("account", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("account",)
    search_fields = ("rule_name", "changed_by_name")
    fields = ("created", "account", "rule", "rule_name", "action", "changed_by_name", "summary")

    @admin.display(description="What changed")
    def summary(self, obj: RuleChange) -> str:
        return "; ".join(describe.change_lines(obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return self.fields


@admin.register(WallDisplay)
class WallDisplayAdmin(TenantScopedAdmin):
    """Wall links are issued on /walls/ (the token is shown once there); here they are listed and revoked."""

    list_display = ("name", "account", "panels", "rotation_seconds", "expires_at", "revoked_at", "created_at")
    list_filter = (("account", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name",)
    fields = ("name", "account", "panels", "rotation_seconds", "expires_at", "revoked_at", "created_by")
    readonly_fields = ("account", "revoked_at", "created_by")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        """A link that expired or was revoked stays dead: its token may be in a log somewhere."""
        if obj is not None and not obj.is_active:
            return (*self.readonly_fields, "expires_at")
        return tuple(self.readonly_fields)

    @admin.action(description="Revoke the selected wall links (open screens close within seconds)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[WallDisplay]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{revoked} wall link(s) revoked.")
