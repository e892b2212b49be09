"""``make demo``'s command: stops every child on SIGTERM or SIGINT, even started in the background,
and starts again at once on the same ports; a port another program listens on is still refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, stop

pytestmark = pytest.mark.processes  # its own database: not the in-process suite's

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"
RUNNING = "VoIPBIN dashboard demo is running"


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DASHBOARD_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "VOIPBIN_BASE_URL", "VOIPBIN_WS_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    subprocess.run([sys.executable, str(MANAGE), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    return env


def start_demo(env: dict[str, str], port: int, sim_port: int) -> subprocess.Popen[str]:
    """The demo as a background job of a shell starts it: SIGINT ignored from the start."""
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "demo", "--port", str(port), "--sim-port", str(sim_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def wait_running(demo: subprocess.Popen[str], within: float = 90) -> str:
    """The demo's output until it says it is running (fails with the output if it exits first)."""
    assert demo.stdout is not None
    seen = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        if not line and demo.poll() is not None:
            break
        seen.append(line)
        if RUNNING in line:
            return "".join(seen)
    pytest.fail("the demo did not start:\n" + "".join(seen)[-3000:])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_stopped_with_sigint_in_the_background_it_stops_everything_and_starts_again_at_once(demo_env):
    port, sim_port = free_port(), free_port()
    demo = start_demo(demo_env, port, sim_port)
    try:
        wait_running(demo)
        second = subprocess.run(
            [sys.executable, str(MANAGE), "demo", "--port", str(port), "--sim-port", str(sim_port)],
            env=demo_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"port {port} for the web server is taken" in second.stderr  # a listener still counts
        for url in (f"http://127.0.0.1:{port}/login/", f"http://127.0.0.1:{sim_port}/_sim/stats"):
            # Connections the servers close first: they stay in TIME_WAIT on the servers' ports.
            assert httpx.get(url, headers={"Connection": "close"}).status_code == 200

        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        assert not listening(port)
        assert not listening(sim_port)  # every child stopped with it

        again = start_demo(demo_env, port, sim_port)  # at once, the same ports
        try:
            wait_running(again)
            again.send_signal(signal.SIGTERM)
            assert again.wait(timeout=30) == 0
        finally:
            stop(again)
    finally:
        stop(demo)
