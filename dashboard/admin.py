"""Django admin for auto-replies: accounts and rules are edited here; what the relay did is read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from dashboard.models import Account, AutoReply, Rule, RuleDecisionLog


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
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ("name", "customer_id", "enabled", "mode", "time_zone", "daily_cap")
    list_filter = ("enabled", "mode")
    search_fields = ("name", "customer_id")


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "enabled", "order")
    list_editable = ("order",)
    list_filter = ("account", "enabled")
    search_fields = ("name", "reply")


class ReadOnlyAdmin(admin.ModelAdmin):
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
    list_filter = ("status", "account")
    search_fields = ("inbound_message_id", "sender", "reply_message_id")


@admin.register(RuleDecisionLog)
class RuleDecisionLogAdmin(ReadOnlyAdmin):
    list_display = ("created", "message_id", "rule_name", "reason", "check_name", "until")
    list_filter = ("reason",)
    search_fields = ("message_id", "rule_name")
