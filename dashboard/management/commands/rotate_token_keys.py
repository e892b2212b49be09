"""Re-encrypt every stored VoIPBIN token with the first key of ``TOKEN_ENCRYPTION_KEYS``.

Put the new key first, keep the old ones after it, run this, then drop the old
keys. The command works on the raw column: the field itself decrypts on load.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand
from django.db import models
from django.db.models.functions import Cast

from dashboard.crypto import rotate
from dashboard.models import User


class Command(BaseCommand):
    help = "Re-encrypt stored VoIPBIN tokens with the first key of TOKEN_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        # Cast to a plain TextField: the annotation skips EncryptedTextField.from_db_value.
        rows = User.objects.annotate(ciphertext=Cast("voipbin_token", models.TextField()))
        rotated = unreadable = 0
        for pk, ciphertext in list(rows.exclude(ciphertext="").values_list("pk", "ciphertext")):
            try:
                fresh = rotate(ciphertext)
            except InvalidToken:
                unreadable += 1
                continue
            # Compare-and-set: a token a sign-in wrote meanwhile is already under the new key.
            rotated += rows.filter(pk=pk, ciphertext=ciphertext).update(
                voipbin_token=models.Value(fresh, output_field=models.TextField())
            )
        self.stdout.write(f"Rotated {rotated} token{'' if rotated == 1 else 's'}.")
        if unreadable:
            self.stderr.write(
                f"{unreadable} token{'' if unreadable == 1 else 's'} could not be read with any key; "
                "those users must sign in again."
            )
