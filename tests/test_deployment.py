"""Production configuration: settings that refuse to start on embedded defaults, and the compose file.

No Docker engine runs here, so docker-compose.yml is checked by reading it: `make lint` validates
it against the Compose specification, these tests check what the production layout promises.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from dashboard.webserver import web_command

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]

PRODUCTION_ENV = {
    "DASHBOARD_PRODUCTION": "true",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DJANGO_ALLOWED_HOSTS": "dashboard.example.com",
    "DATABASE_URL": "postgres://dashboard@db.example.com:5432/dashboard",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "VOIPBIN_BASE_URL": "https://api.voipbin.net",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DASHBOARD_", "TOKEN_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_the_documented_production_env():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


COOKIE_FLAGS = (
    "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
    "s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_SAMESITE)"
)


def test_production_cookies_are_secure_httponly_and_same_site():
    result = manage("shell", "-c", COOKIE_FLAGS, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == ["True", "True", "Lax", "True", "Lax"]


def test_the_embedded_default_keeps_cookies_working_over_plain_http():
    result = manage("shell", "-c", COOKIE_FLAGS, env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == ["False", "True", "Lax", "False", "Lax"]


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_a_short_secret_and_debug():
    assert "at least 50" in manage("check", env={**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "short"}).stderr
    assert "DJANGO_DEBUG" in manage("check", env={**PRODUCTION_ENV, "DJANGO_DEBUG": "true"}).stderr


def test_a_bad_value_names_its_variable():
    result = manage("check", env={"UPSTREAM_BACKOFF_CAP": "soon"})
    assert result.returncode != 0
    assert "UPSTREAM_BACKOFF_CAP" in result.stderr
    assert "VOIPBIN_WS_URL" in manage("check", env={"VOIPBIN_WS_URL": "https://x/ws"}).stderr


def test_secrets_can_come_from_files(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text(PRODUCTION_ENV["TOKEN_ENCRYPTION_KEYS"] + "\n")
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "TOKEN_ENCRYPTION_KEYS"}
    assert manage("check", env={**env, "TOKEN_ENCRYPTION_KEYS_FILE": str(key_file)}).returncode == 0


def test_every_long_running_service_restarts_and_reports_health():
    for name, service in SERVICES.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name


def test_web_runs_twice_behind_a_websocket_proxy_after_migrations():
    web = SERVICES["web"]
    assert web["deploy"]["replicas"] == 2
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    proxy = SERVICES["proxy"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    mounted = proxy["volumes"][0].split(":")[0]
    nginx = (ROOT / mounted).read_text()
    assert "proxy_set_header Upgrade $http_upgrade" in nginx
    assert "proxy_set_header Connection $connection_upgrade" in nginx
    assert "server web:8000" in nginx


def test_app_services_share_production_settings_and_the_relay_runs_apart():
    for name in ("web", "relay", "migrate"):
        env = SERVICES[name]["environment"]
        assert env["DASHBOARD_PRODUCTION"] == "true"
        assert env["RELAY_IN_WEB"] == "false"
        for required in ("DJANGO_SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS", "REDIS_URL"):
            assert env[required], (name, required)
    assert SERVICES["relay"]["command"] == ["python", "manage.py", "runrelay"]
    assert SERVICES["simulator"]["profiles"] == ["demo"]
    assert "9100" in " ".join(SERVICES["simulator"]["command"])


def test_dockerfile_runs_the_one_web_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "dashboard.webserver", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile


def test_the_web_command_is_uvicorn_with_the_fast_parts_and_our_limits():
    command = web_command("0.0.0.0", 8000, access_log=False)
    options = dict(zip(command[4::2], command[5::2], strict=False))
    assert command[1:4] == ["-m", "uvicorn", "config.asgi:application"]
    assert options["--loop"] == "uvloop"
    assert options["--http"] == "httptools"
    assert options["--ws"] == "websockets-sansio"
    assert options["--ws-max-size"] == str(1024 * 1024)
    assert options["--ws-ping-interval"] == options["--ws-ping-timeout"] == "20"
    assert options["--timeout-graceful-shutdown"] == "10"
    assert command[-1] == "--no-access-log"
    daphne = web_command("127.0.0.1", 8001, server="daphne")
    assert daphne[1:5] == ["-m", "daphne", "--websocket_timeout", "-1"]  # sockets never expire
