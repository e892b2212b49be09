"""VoIPBIN tokens at rest: Fernet ciphertext in the column, key rotation with ``rotate_token_keys``."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from dashboard import crypto
from dashboard.models import User

pytestmark = pytest.mark.django_db

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhZ2VudCI6eyJpZCI6ImEifX0.c2lnbmF0dXJl"  # JWT-shaped, not a real one
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_column(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT voipbin_token FROM dashboard_user WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def rotate_token_keys() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_token_keys", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_is_ciphertext_in_the_column_and_plaintext_on_the_model(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    user = User.objects.create(username="agent1", voipbin_token=TOKEN)
    raw = raw_column(user.pk)
    assert TOKEN not in raw
    assert Fernet(OLD_KEY).decrypt(raw.encode()).decode() == TOKEN
    assert User.objects.get(pk=user.pk).voipbin_token == TOKEN


def test_empty_token_stays_empty(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    user = User.objects.create(username="agent1")
    assert raw_column(user.pk) == ""
    assert User.objects.get(pk=user.pk).voipbin_token == ""


def test_token_under_an_unknown_key_reads_as_no_token(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    user = User.objects.create(username="agent1", voipbin_token=TOKEN)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    reloaded = User.objects.get(pk=user.pk)
    assert reloaded.voipbin_token == ""
    assert reloaded.voipbin_session_expired


@pytest.mark.parametrize("keys", [[], ["not-a-fernet-key"]])
def test_missing_or_invalid_keys_are_a_configuration_error(settings, keys):
    settings.TOKEN_ENCRYPTION_KEYS = keys
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt(TOKEN)


def test_rotate_token_keys_moves_every_token_to_the_first_key(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    users = [User.objects.create(username=f"agent{n}", voipbin_token=f"{TOKEN}{n}") for n in (1, 2)]
    nobody = User.objects.create(username="no-token")
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    out, err = rotate_token_keys()

    assert out.strip() == "Rotated 2 tokens."
    assert err == ""
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    assert [User.objects.get(pk=u.pk).voipbin_token for u in users] == [f"{TOKEN}1", f"{TOKEN}2"]
    assert raw_column(nobody.pk) == ""
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    assert [User.objects.get(pk=u.pk).voipbin_token for u in users] == ["", ""]


def test_rotate_token_keys_reports_tokens_no_key_can_read(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    lost = User.objects.create(username="lost", voipbin_token=TOKEN)
    lost_raw = raw_column(lost.pk)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    kept = User.objects.create(username="kept", voipbin_token=TOKEN)

    out, err = rotate_token_keys()

    assert out.strip() == "Rotated 1 token."
    assert "1 token could not be read with any key" in err
    assert raw_column(lost.pk) == lost_raw
    assert User.objects.get(pk=kept.pk).voipbin_token == TOKEN
