from __future__ import annotations

from django import forms

# Ten SMS parts: longer texts are almost always a paste gone wrong.
MAX_REPLY_LENGTH = 1600


class ReplyForm(forms.Form):
    """A manual reply: the thread it answers (our number, remote) and the text."""

    our = forms.CharField(max_length=128)
    remote = forms.CharField(max_length=128)
    text = forms.CharField(
        max_length=MAX_REPLY_LENGTH,
        error_messages={
            "required": "Write a message before sending.",
            "max_length": f"Keep the message under {MAX_REPLY_LENGTH} characters.",
        },
    )
