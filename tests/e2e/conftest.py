"""The whole product as a user meets it: simulator and the web server as real processes, real Chromium.

Chromium is Debian's (``/usr/bin/chromium``, or ``CHROMIUM_PATH``), driven by
Playwright; Playwright's own browser download is not used. Without Chromium
these tests skip, except under ``CI=true`` where a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from dashboard.webserver import web_command
from tests.processes import free_port, stop, wait_for_file, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"


@dataclass
class Stack:
    web_url: str
    sim_url: str

    def sim(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, f"{self.sim_url}{path}", timeout=5, **kwargs)
        response.raise_for_status()
        return response

    def sms(self, source: str, text: str) -> httpx.Response:
        """An inbound SMS from ``source`` to the demo account's SMS number."""
        message = {"source": source, "destination": DEMO_SMS_NUMBER, "text": text}
        return self.sim("POST", "/_sim/sms", json={"customer_id": DEMO_CUSTOMER_ID, **message})


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request) -> Iterator[Stack]:
    """Simulator (controls on, scenario paused), the dashboard's web process and the relay worker.

    The simulator speaks VoIPBIN's code (bare) unless the module sets ``SIM_DIALECT``.
    """
    dialect = getattr(request.module, "SIM_DIALECT", "bare")
    var = tmp_path_factory.mktemp("var")
    sim_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DASHBOARD_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
        "VOIPBIN_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "UPSTREAM_BACKOFF_CAP": "1",
        # Silence noticed in seconds, not the production 15 s (tests/e2e/test_gaps.py).
        "UPSTREAM_SILENCE_SECONDS": "4",
        "UPSTREAM_PING_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("VOIPBIN_WS_URL", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    # The demo's account and its 'help' rule: the relay worker answers SMS as in `make demo`.
    subprocess.run([*manage, "seed_demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    processes = [
        subprocess.Popen(
            [
                *manage,
                "voipbin_sim",
                "--port",
                str(sim_port),
                "--controls",
                "--no-scenario",
                "--dialect",
                dialect,
            ],
            env=env,
            cwd=ROOT,
        )
    ]
    try:
        wait_for_port(sim_port, processes[0])
        processes.append(subprocess.Popen(web_command("127.0.0.1", web_port), env=env, cwd=ROOT))
        wait_for_port(web_port, processes[1])
        heartbeat = var / "relay.heartbeat"
        processes.append(
            subprocess.Popen([*manage, "runrelay", "--heartbeat-file", str(heartbeat)], env=env, cwd=ROOT)
        )
        wait_for_file(heartbeat, processes[2])
        yield Stack(web_url=f"http://127.0.0.1:{web_port}", sim_url=f"http://127.0.0.1:{sim_port}")
    finally:
        for process in processes:
            stop(process)


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM} (CI=true: browser tests may not skip)")
        pytest.skip(f"Chromium not found at {CHROMIUM}; apt-get install chromium or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    yield page
    context.close()


def new_wall_link(page, stack: Stack, name: str) -> str:
    """A wall display link made on /walls/ by the signed-in admin, with the form's defaults."""
    page.goto(stack.web_url + "/walls/")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create link").click()
    return page.get_by_label("New wall display link").input_value()


def screenshot(page, name: str) -> None:
    """Saved under docs/screenshots/ only when SCREENSHOTS=1, so test runs leave the tree alone."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]', '-', name)}.png"), full_page=True)


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # npm, pinned in package-lock.json


def assert_accessible(page, what: str = "") -> None:
    """axe-core on the page as it stands now: no serious or critical violation of WCAG 2.x A/AA."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make install` runs `npm ci`")
    leaked = page.evaluate("() => /\\{[#%{]/.test(document.body.innerText)")
    assert not leaked, f"template syntax shows as text on {what or page.url}"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """() => axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
            resultTypes: ["violations"],
        })"""
    )
    serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, f"axe on {what or page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:5]]}"
        for v in serious
    )


def assert_no_overflow(page) -> None:
    """Nothing wider than the viewport: no sideways scrolling of the whole page."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px viewport ({page.url})"
