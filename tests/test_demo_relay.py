"""The embedded demo's relay worker: seeded once, it answers a 'help' SMS with no page open."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from dashboard.simulator.accounts import DEMO_SMS_NUMBER
from tests.processes import stop
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[1]


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_seeded_demo_relay_answers_help_once_without_redis(sim, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "VOIPBIN_WS_URL")},
        "DASHBOARD_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VOIPBIN_BASE_URL": sim.url,
        "PYTHONUNBUFFERED": "1",
    }
    await asyncio.to_thread(manage, "migrate", "-v", "0", env=env)
    first = await asyncio.to_thread(manage, "seed_demo", env=env)
    again = await asyncio.to_thread(manage, "seed_demo", env=env)
    assert "created; 1 auto-reply rule(s)" in first
    assert "already there; 1 auto-reply rule(s)" in again

    relay = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, str(ROOT / "manage.py"), "runrelay", "--heartbeat-file", str(tmp_path / "beat")],
        env=env,
        cwd=ROOT,
    )
    try:
        await until(
            lambda: any(c["access_key"] and c["topics"] for c in sim.stats()["open_connections"]), timeout=20
        )
        async with httpx.AsyncClient(base_url=sim.url) as http:
            body = {"source": "+12025550177", "destination": DEMO_SMS_NUMBER, "text": "help please"}
            await http.post("/_sim/sms", json=body)
            await until(lambda: _sent(http), timeout=20)
            await asyncio.sleep(1)  # a second reply would have been sent by now
            sent = await _sent(http)
        assert len(sent) == 1
        assert sent[0]["body"]["destinations"] == [{"type": "tel", "target": "+12025550177"}]
        assert "+12025550177" in sent[0]["body"]["text"]  # {sender} filled in
    finally:
        await asyncio.to_thread(stop, relay)
    assert relay.returncode == 0


async def _sent(http: httpx.AsyncClient) -> list[dict]:
    return (await http.get("/_sim/sent")).json()["result"]
