"""``manage.py demo``: the simulator and the web server together, stopped together.

Starts the bundled VoIPBIN simulator, the web server (as production runs it, ``dashboard.webserver``)
and the relay worker as child processes, waits until they accept connections, prints where to go and
how to sign in, and on Ctrl-C (or SIGTERM, or a child dying) stops every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.simulator.accounts import DEMO_PASSWORD, DEMO_SMS_NUMBER
from dashboard.simulator.config import DEMO_RATES
from dashboard.webserver import web_command

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def demo_rate_options() -> list[str]:
    """The scenario's rates as ``voipbin_sim`` options: a staffed day with busy spells (DEMO_RATES)."""
    return [
        "--calls-per-minute",
        str(DEMO_RATES.calls_per_minute),
        "--sms-per-minute",
        str(DEMO_RATES.sms_per_minute),
        "--breaks-per-hour",
        str(DEMO_RATES.breaks_per_hour),
        "--peak-factor",
        str(DEMO_RATES.peak_factor),
    ]


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"{process.args[1:3]} exited with code {process.returncode} during start-up")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise CommandError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _port_free(host: str, port: int) -> bool:
    """Whether a server could listen on the port now. As the servers do, the probe allows the
    closed connections of a demo just stopped (TIME_WAIT): only a listener makes the port taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Run the VoIPBIN simulator and the dashboard web server together (Ctrl-C stops both)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("DEMO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
        parser.add_argument("--sim-port", type=int, default=int(os.environ.get("DEMO_SIM_PORT", "9100")))
        parser.add_argument("--seed", type=int, default=int(os.environ.get("DEMO_SEED", "7")))

    def handle(
        self, *args: object, host: str, port: int, sim_port: int, seed: int, **options: object
    ) -> None:
        for what, number in (("web server", port), ("simulator", sim_port)):
            if not _port_free(host, number):
                raise CommandError(f"port {number} for the {what} is taken; set DEMO_PORT / DEMO_SIM_PORT")
        sim_url = f"http://{host}:{sim_port}"
        env = {**os.environ, "VOIPBIN_BASE_URL": sim_url, "PYTHONUNBUFFERED": "1"}
        env.pop("VOIPBIN_WS_URL", None)
        children: list[subprocess.Popen[bytes]] = []

        def stop(*_: object) -> None:
            raise KeyboardInterrupt

        # SIGINT too: a shell starts a background job with SIGINT ignored, and Python then leaves it so.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        call_command("seed_demo")
        try:
            sim_command = [sys.executable, str(MANAGE), "voipbin_sim", "--controls", "--seed", str(seed)]
            sim_command += demo_rate_options()
            sim = subprocess.Popen([*sim_command, "--host", host, "--port", str(sim_port)], env=env)
            children.append(sim)
            _wait_for_port(host, sim_port, sim, timeout=30)
            web = subprocess.Popen(web_command(host, port), env=env, cwd=settings.BASE_DIR)
            children.append(web)
            _wait_for_port(host, port, web, timeout=60)
            # Answers inbound SMS with the account's rules even when nobody has a page open.
            children.append(subprocess.Popen([sys.executable, str(MANAGE), "runrelay"], env=env))
            self.stdout.write(
                self.style.SUCCESS("\nVoIPBIN dashboard demo is running\n")
                + f"  Dashboard:   http://{host}:{port}/\n"
                + f"  Demo login:  manager / {DEMO_PASSWORD}"
                + "   (supervisor; also admin, agent1 … agent9)\n"
                + f"  Simulator:   {sim_url}   (stands in for VoIPBIN, seed {seed})\n"
                + f"  Auto-reply:  SMS saying 'help' to {DEMO_SMS_NUMBER} get one\n"
                + f"  Admin panel: http://{host}:{port}/admin/  operator / {DEMO_PASSWORD}  (rules)\n"
                + "  Press Ctrl-C to stop everything.\n"
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            dead = next(child for child in children if child.poll() is not None)
            raise CommandError(f"{' '.join(map(str, dead.args[1:3]))} exited with code {dead.returncode}")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
