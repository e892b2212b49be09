"""Forms for the dashboard's pages."""

from __future__ import annotations

from django import forms


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
