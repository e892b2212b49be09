"""``manage.py voipbin_sim``: announces its address, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import httpx

from dashboard.simulator.cli import add_arguments, config_from_options
from dashboard.simulator.config import DEMO_RATES, SimConfig
from dashboard.simulator.frames import Dialect

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


async def test_the_command_announces_its_address_serves_and_stops_on_sigterm():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(MANAGE),
        "voipbin_sim",
        "--port=0",
        "--controls",
        "--no-scenario",
        "--dialect=legacy",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        prefix = "VoIPBIN simulator listening on "
        assert line.startswith(prefix)
        async with httpx.AsyncClient(base_url=line.removeprefix(prefix).strip()) as http:
            controls = (await http.post("/_sim/reset", json={})).json()
        assert controls["dialect"] == "legacy"
        assert controls["scenario_running"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


def test_options_map_onto_the_config():
    config = config_from_options(
        {
            "seed": 9,
            "dialect": "bare",
            "controls": True,
            "no_scenario": True,
            "speed": 5.0,
            "calls_per_minute": 3.0,
            "sms_per_minute": 0.0,
            "breaks_per_hour": 2.0,
            "peak_factor": 3.0,
            "ping_interval": 1.5,
        }
    )
    assert (config.seed, config.dialect, config.controls, config.scenario) == (9, Dialect.BARE, True, False)
    assert (config.speed, config.calls_per_minute, config.sms_per_minute) == (5.0, 3.0, 0.0)
    assert (config.breaks_per_hour, config.peak_factor, config.ping_interval) == (2.0, 3.0, 1.5)


def test_the_demo_runs_the_simulator_at_the_demo_rates():
    from dashboard.management.commands.demo import demo_rate_options

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_options(vars(parser.parse_args(["--seed", "7", *demo_rate_options()])))
    assert config.rates == DEMO_RATES
    assert config.rates != SimConfig().rates  # the demo's SMS are busier than the default
