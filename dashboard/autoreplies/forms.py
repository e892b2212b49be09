"""Forms of the rules pages: lists and time windows typed as text, validation by the model and engine."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from dashboard.autoreplies import numbers
from dashboard.autoreplies.decisions import DELIVERY_CHOICES
from dashboard.autoreplies.describe import FIELD_LABELS, LOGGED_REASON_WORDS
from dashboard.autoreplies.simulate import DEFAULT_REPLAY_DAYS, MAX_REPLAY_DAYS
from dashboard.autoreplies.timewindows import EXAMPLE, WindowSyntaxError, format_windows, parse_windows
from dashboard.forms import validate_sensible_date
from dashboard.models import RULE_CHECK, Account, Rule
from dashboard.rules import PLACEHOLDERS

_SEPARATORS = re.compile(r"[\r\n,]+")
_NUMBERS_HELP = (
    f"Phone numbers in international format (E.164), e.g. {numbers.EXAMPLE}; "
    "one per line, or separated by commas or spaces."
)


@dataclass(frozen=True)
class ErrorItem:
    """One line of a form's error summary: the field's id to link to (empty: the whole form)."""

    field_id: str
    label: str
    message: str


class ErrorSummary:
    """What ``form_fields.html`` shows above a refused form (``with error_summary=True``).

    Every problem at once, fields in the form's order, each linking to its field; the summary
    takes focus when the page (or the htmx swap) shows it, so nobody has to find the first error.
    """

    def error_items(self) -> list[ErrorItem]:
        form: forms.BaseForm = self  # type: ignore[assignment]
        items = [ErrorItem("", "", str(message)) for message in form.non_field_errors()]
        for field in form:
            label = str(field.label)
            items += [ErrorItem(field.id_for_label, label, str(message)) for message in field.errors]
        return items

    @property
    def error_count(self) -> int:
        return len(self.error_items())


class ListField(forms.Field):
    """A JSON list of texts, typed one per line or comma-separated; blanks and repeats dropped."""

    widget = forms.Textarea(attrs={"rows": 2})

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        items = (item.strip() for item in _SEPARATORS.split(str(value or "")))
        return list(dict.fromkeys(item for item in items if item))

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(str(item) for item in value) if isinstance(value, list) else value


class NumberListField(ListField):
    """Phone numbers in E.164, typed one per line or separated by commas or spaces.

    Every entry that is not a number is refused by name; good ones are kept in plain form
    (``+1 555-123 4567`` → ``+15551234567``), each once. With ``ours``, numbers outside it are
    refused too (a rule limited to a number that is not ours would never fire, silently).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ours: Collection[str] | None = None

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return numbers.split_numbers(str(value or ""))

    def clean(self, value: Any) -> list[str]:
        entries: list[str] = super().clean(value)
        errors = [ValidationError(text, code="e164") for text in numbers.e164_problems(entries)]
        good = numbers.normalized(entries)
        if self.ours is not None:
            ours = {numbers.as_e164(number) or number for number in self.ours}
            foreign = [number for number in good if number not in ours]
            if foreign:
                errors.append(
                    ValidationError(
                        f"Not a number of this account: {', '.join(foreign)}. Ours: {', '.join(self.ours)}.",
                        code="foreign",
                    )
                )
        if errors:
            raise ValidationError(errors)
        return good


class WindowsField(forms.Field):
    """Time windows, one per line as ``Mon-Fri 09:00-17:00`` (see ``timewindows``)."""

    widget = forms.Textarea(attrs={"rows": 2, "placeholder": EXAMPLE})

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, list):
            return value
        try:
            return parse_windows(str(value or ""))
        except WindowSyntaxError as exc:
            raise ValidationError(str(exc), code="windows") from exc

    def prepare_value(self, value: Any) -> Any:
        return format_windows(value) if isinstance(value, list) else value


class RuleForm(ErrorSummary, forms.ModelForm):
    """A rule of the signed-in admin's account; ``Rule.clean`` (the engine's checks) has the last word.

    Every problem is reported at once: the fields' own, then every one ``Rule.clean`` finds. The
    order is not here: new rules go last and the rules page moves them.
    """

    keywords = ListField(
        required=False,
        help_text="One per line or comma-separated; the text must contain one of them (any case).",
    )
    senders_in = NumberListField(required=False, label=FIELD_LABELS["senders_in"], help_text=_NUMBERS_HELP)
    senders_not_in = NumberListField(
        required=False, label=FIELD_LABELS["senders_not_in"], help_text=_NUMBERS_HELP
    )
    receiving_numbers = NumberListField(required=False, label=FIELD_LABELS["receiving_numbers"])
    windows = WindowsField(
        required=False,
        label=FIELD_LABELS["windows"],
        help_text=(
            f"One per line in the account's time zone, e.g. “{EXAMPLE}”, “Sat,Sun 10:00-14:00” or "
            "“Fri 22:00-02:00” (past midnight). Empty: any time."
        ),
    )

    class Meta:
        model = Rule
        fields = (
            "name",
            "enabled",
            "keywords",
            "whole_word",
            "exact_text",
            "regex",
            "senders_in",
            "senders_not_in",
            "receiving_numbers",
            "windows",
            "outside_windows",
            "first_message_only",
            "reply",
            "cooldown_minutes",
            "closes_conversation",
        )
        labels = FIELD_LABELS
        help_texts = {
            "exact_text": "The whole message, ignoring case and surrounding spaces.",
            "regex": "RE2 syntax, searched anywhere in the text, e.g. (?i)order\\s*#?\\d+",
            "cooldown_minutes": "After replying, this rule stays quiet for the same sender this long.",
            "closes_conversation": (
                "An auto-reply by this rule counts as the answer: the conversation leaves “awaiting "
                "reply” in the inbox and on the wall. Off: it keeps waiting until a person replies."
            ),
        }
        widgets = {"reply": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.instance.account = account
        receiving: NumberListField = self.fields["receiving_numbers"]  # type: ignore[assignment]
        receiving.ours = list(account.numbers)
        receiving.help_text = f"Our numbers, one per line; empty: all of them ({', '.join(account.numbers)})."
        self.fields["reply"].help_text = "Placeholders: " + "; ".join(
            f"{{{name}}} {meaning}" for name, meaning in PLACEHOLDERS.items()
        )

    def full_clean(self) -> None:
        """Drop what ``Rule.clean`` said about a field the form refused itself.

        The model never saw what was typed in such a field (it judged the stored or default value),
        so its message would be wrong or a repeat, e.g. "The rule needs a name." under "This field
        is required.".
        """
        super().full_clean()
        for name, errors in (self._errors or {}).items():
            found = errors.as_data()
            if name != NON_FIELD_ERRORS and any(error.code != RULE_CHECK for error in found):
                errors.data = [error for error in found if error.code != RULE_CHECK]


class ModeForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ("mode",)
        labels = {"mode": "When several rules match"}


class DryRunForm(ErrorSummary, forms.Form):
    """A message to try the stored rules on; the time is wall-clock time in the account's zone."""

    sender = forms.CharField(max_length=128, help_text="The number writing in, e.g. +15551234567.")
    receiving_number = forms.ChoiceField(label="To our number")
    text = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), strip=False)
    at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        validators=[validate_sensible_date],
    )
    first_in_conversation = forms.BooleanField(required=False, label="First message of the conversation")

    def __init__(self, *args: Any, account: Account, now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(account.time_zone)
        self.fields["receiving_number"].choices = [(number, number) for number in account.numbers]
        self.fields["receiving_number"].initial = next(iter(account.numbers), "")
        self.fields["at"].label = f"Time ({account.time_zone})"
        local = (now or timezone.now()).astimezone(self.zone)
        self.fields["at"].initial = local.replace(tzinfo=None, second=0, microsecond=0)

    def full_clean(self) -> None:
        """Read the typed time in the account's zone, not the server's."""
        with timezone.override(self.zone):
            super().full_clean()


class ReplayForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_REPLAY_DAYS,
        initial=DEFAULT_REPLAY_DAYS,
        label="Days",
        error_messages={
            "invalid": f"Give a whole number of days from 1 to {MAX_REPLAY_DAYS}.",
            "min_value": f"Give a whole number of days from 1 to {MAX_REPLAY_DAYS}.",
            "max_value": f"Replay looks back at most {MAX_REPLAY_DAYS} days.",
            "required": f"Give a whole number of days from 1 to {MAX_REPLAY_DAYS}.",
        },
    )


class DecisionFilterForm(forms.Form):
    """Filters of the decision log and its CSV export; rules are only the account's own."""

    reason = forms.ChoiceField(
        required=False, choices=[("", "Any reason"), *LOGGED_REASON_WORDS.items()], label="Reason"
    )
    rule = forms.ModelChoiceField(queryset=Rule.objects.none(), required=False, empty_label="Any rule")
    delivery = forms.ChoiceField(
        required=False, choices=[("", "Any delivery"), *DELIVERY_CHOICES], label="Delivery"
    )
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_sensible_date],
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_sensible_date],
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = account.rules.all()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("“From” is after “To”.")
        return data
