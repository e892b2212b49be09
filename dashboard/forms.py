"""Forms for the dashboard's pages."""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.core.exceptions import ValidationError


class LoginForm(forms.Form):
    """VoIPBIN credentials; checking them is VoIPBIN's job (``dashboard.signin.sign_in``)."""

    username = forms.CharField(
        max_length=150,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autocapitalize": "none",
                "autocorrect": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
    password = forms.CharField(
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


# Days and times typed into filters and the dry run: far-off years would overflow date arithmetic
# (a day after 9999-12-31) long before they could mean anything here.
SENSIBLE_YEARS = range(2000, 2101)


def validate_sensible_date(value: date | datetime) -> None:
    if value.year not in SENSIBLE_YEARS:
        raise ValidationError(
            f"Give a date between {SENSIBLE_YEARS.start} and {SENSIBLE_YEARS.stop - 1}.", code="out_of_range"
        )
