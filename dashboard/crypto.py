"""VoIPBIN credentials at rest: Fernet-encrypted, with key rotation (MultiFernet).

``TOKEN_ENCRYPTION_KEYS`` lists Fernet keys, newest first: the first encrypts,
all decrypt, so a new key can be put in front and old rows re-encrypted with
``manage.py rotate_token_keys`` before the old key is dropped.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models


@cache
def cipher() -> MultiFernet:
    keys = settings.TOKEN_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"TOKEN_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "TOKEN_ENCRYPTION_KEYS":
        cipher.cache_clear()


setting_changed.connect(_reset)


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Plaintext, or "" when no key can read it (a dropped key means "sign in again")."""
    try:
        return cipher().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        return ""


def rotate(ciphertext: str) -> str:
    return cipher().rotate(ciphertext.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """Plain text in Python, Fernet ciphertext in the database; "" stays ""."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        return decrypt(value) if value else ""

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
