"""Command-line options shared by ``manage.py voipbin_sim`` and ``python -m dashboard.simulator``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from dashboard.simulator.config import SimConfig
from dashboard.simulator.frames import Dialect

_DEFAULTS = SimConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--dialect", choices=[str(d) for d in Dialect], default=str(_DEFAULTS.dialect))
    parser.add_argument("--controls", action="store_true", help="serve the /_sim/ test controls")
    parser.add_argument("--no-scenario", action="store_true", help="start with the scenario engine paused")
    parser.add_argument(
        "--speed", type=float, default=_DEFAULTS.speed, help="virtual seconds per real second"
    )
    parser.add_argument(
        "--calls-per-minute",
        type=float,
        default=_DEFAULTS.calls_per_minute,
        help="Acme's mean inbound calls between busy spells",
    )
    parser.add_argument("--sms-per-minute", type=float, default=_DEFAULTS.sms_per_minute)
    parser.add_argument(
        "--breaks-per-hour", type=float, default=_DEFAULTS.breaks_per_hour, help="per serving agent"
    )
    parser.add_argument(
        "--peak-factor",
        type=float,
        default=_DEFAULTS.peak_factor,
        help="call rate multiplier during busy spells (1: none)",
    )
    parser.add_argument("--ping-interval", type=float, default=_DEFAULTS.ping_interval, help="seconds")


def config_from_options(options: Mapping[str, Any]) -> SimConfig:
    return SimConfig(
        seed=options["seed"],
        dialect=Dialect(options["dialect"]),
        controls=options["controls"],
        scenario=not options["no_scenario"],
        speed=options["speed"],
        calls_per_minute=options["calls_per_minute"],
        sms_per_minute=options["sms_per_minute"],
        breaks_per_hour=options["breaks_per_hour"],
        peak_factor=options["peak_factor"],
        ping_interval=options["ping_interval"],
    )
