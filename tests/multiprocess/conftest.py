"""Several real dashboard processes on PostgreSQL and Redis, fed by the simulator.

PostgreSQL comes from ``TEST_POSTGRES_URL`` (default: the local server's ``test``
database, trust auth); each test module gets a fresh database created there and
dropped after. Redis is a private ``redis-server`` on a free port, so a test may
restart it. Without either, these tests skip, except under ``CI=true`` where
they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet

from dashboard.management.commands.demo import daphne_command
from tests.processes import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: multi-process tests may not skip)")
    pytest.skip(reason)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).is_file():
        unavailable(f"redis-server not found at {REDIS_SERVER}")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; its URL."""
    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    name = f"dashboard_mp_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    try:
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True, cwd=ROOT
        )
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class Deployment:
    """Shared configuration of the web processes: one database, one Redis, one VoIPBIN."""

    database_url: str
    redis: RedisServer
    voipbin_url: str
    var: Path
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    token_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    processes: list[subprocess.Popen] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "VOIPBIN_BASE_URL": self.voipbin_url,
            "DJANGO_SECRET_KEY": self.secret_key,
            "TOKEN_ENCRYPTION_KEYS": self.token_key,
            "DASHBOARD_VAR_DIR": str(self.var),
            "RELAY_LEASE_SECONDS": "2",
            "RELAY_GRACE_SECONDS": "1",
            "UPSTREAM_BACKOFF_CAP": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("VOIPBIN_WS_URL", None)
        return {**env, **self.env_overrides}

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def start_manage(self, *args: str) -> subprocess.Popen:
        """A long-running management command (e.g. runrelay), stopped with the deployment."""
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def start_web(self) -> tuple[int, subprocess.Popen]:
        port = free_port()
        process = subprocess.Popen(daphne_command("127.0.0.1", port), env=self.env, cwd=ROOT)
        self.processes.append(process)
        wait_for_port(port, process)
        return port, process

    def session_for(self, username: str, token: str) -> str:
        """A signed-in user as the sign-in view would leave them: the session key for the cookie."""
        code = textwrap.dedent(
            f"""
            from django.contrib import auth
            from django.contrib.sessions.backends.db import SessionStore
            from dashboard.simulator.accounts import AGENT_IDS, DEMO_CUSTOMER_ID
            user, _ = auth.get_user_model().objects.update_or_create(
                username={username!r},
                defaults=dict(customer_id=DEMO_CUSTOMER_ID, agent_id=AGENT_IDS[{username!r}],
                              permission=64, voipbin_token={token!r}),
            )
            store = SessionStore()
            store[auth.SESSION_KEY] = str(user.pk)
            store[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            print(store.session_key)
            """
        )
        return self.manage("shell", "-c", code).strip().splitlines()[-1]

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


@pytest.fixture
async def deployment(sim, redis_server, postgres_database, tmp_path) -> Iterator[Deployment]:
    result = Deployment(postgres_database, redis_server, sim.url, tmp_path)
    yield result
    await asyncio.to_thread(result.stop_all)
