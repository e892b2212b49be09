"""Staffing: does the demo's contact center look like a plausible day on the queues page?

Plays the seeded scenario in virtual time (no sockets, no wall clock) at the rates ``make demo``
uses (``DEMO_RATES``) and judges each queue once a virtual minute with the dashboard's own rule
(``dashboard.queues.stats.assess``) and ``Queue``'s default thresholds. The service level is the
queues page's: answered within ``service_level_seconds`` of joining ÷ (answered + abandoned), over
the whole run (the page's "today"). Also prints the agents' time by status and the busy spells.
A plausible day: queues normal most of the time, warning or critical during busy spells.

    .venv/bin/python bench/staffing.py [--hours 3] [--seed 7] [--calls-per-minute …] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py`: import the project's packages as manage.py does
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from dashboard.models import Queue  # noqa: E402
from dashboard.queues.stats import Level, assess  # noqa: E402
from dashboard.simulator.accounts import CUSTOMERS  # noqa: E402
from dashboard.simulator.config import DEMO_RATES  # noqa: E402
from dashboard.simulator.events import Change  # noqa: E402
from dashboard.simulator.scenario import Rates, Scenario  # noqa: E402
from dashboard.simulator.state import State  # noqa: E402

SAMPLE_SECONDS = 10.0
AFTERMATH_SECONDS = 120.0
"""A busy spell's queue counts as turned warning/critical if it did so during the spell or this soon after."""


class Watch:
    """Queuecall times in virtual seconds, which the records' wall-clock stamps are not."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.waiting: defaultdict[str, dict[str, float]] = defaultdict(dict)
        self.waits: defaultdict[str, list[float]] = defaultdict(list)
        self.abandoned: Counter[str] = Counter()

    def __call__(self, change: Change) -> None:
        if change.resource != "queuecall":
            return
        queue_id, now = change.data["queue_id"], self.scenario.now
        if change.created:
            self.waiting[queue_id][change.resource_id] = now
        elif change.entered_status == "service":
            self.waits[queue_id].append(now - self.waiting[queue_id].pop(change.resource_id))
        elif change.entered_status == "abandoned":
            self.abandoned[queue_id] += 1
            del self.waiting[queue_id][change.resource_id]

    def service_level(self, queue_id: str, limit: float) -> float | None:
        offered = len(self.waits[queue_id]) + self.abandoned[queue_id]
        in_time = sum(wait <= limit for wait in self.waits[queue_id])
        return 100 * in_time / offered if offered else None


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=3.0, help="virtual hours to play")
    parser.add_argument("--seed", type=int, default=7, help="the scenario's seed (make demo: 7)")
    parser.add_argument("--calls-per-minute", type=float, default=DEMO_RATES.calls_per_minute)
    parser.add_argument("--breaks-per-hour", type=float, default=DEMO_RATES.breaks_per_hour)
    parser.add_argument("--peak-factor", type=float, default=DEMO_RATES.peak_factor)
    parser.add_argument("--quick", action="store_true", help="one virtual hour")
    options = parser.parse_args()
    hours = 1.0 if options.quick else options.hours
    rates = Rates(
        calls_per_minute=options.calls_per_minute,
        sms_per_minute=DEMO_RATES.sms_per_minute,  # its draws shape the seed's story too
        breaks_per_hour=options.breaks_per_hour,
        peak_factor=options.peak_factor,
    )

    state = State()
    scenario = Scenario(state, seed=options.seed, rates=rates)
    watch = Watch(scenario)
    state.listeners.append(watch)
    thresholds = Queue()  # the dashboard's defaults
    limit = thresholds.service_level_seconds
    queues = {queue.id: queue.name for customer in CUSTOMERS for queue in customer.queues}
    time_at: defaultdict[str, Counter[str]] = defaultdict(Counter)
    spells: defaultdict[str, list[Level]] = defaultdict(list)
    """Per queue, the worst level (waiting or longest wait) each of its busy spells brought."""
    spell_ends: dict[str, float] = {}
    agent_time: defaultdict[str, Counter[str]] = defaultdict(Counter)
    samples = round(hours * 3600 / SAMPLE_SECONDS)

    for _ in range(samples):
        scenario.advance(SAMPLE_SECONDS)
        now = scenario.now
        for queue_id in queues:
            joined = watch.waiting[queue_id].values()
            longest = timedelta(seconds=now - min(joined)) if joined else None
            level, _ = assess(
                thresholds,
                waiting=len(joined),
                longest_wait=longest,
                service_level=watch.service_level(queue_id, limit),
            )
            load, _ = assess(thresholds, waiting=len(joined), longest_wait=longest, service_level=None)
            seconds = longest.total_seconds() if longest else 0.0
            time_at[queue_id].update(
                {
                    level: 1,
                    "waiting ≥ warn": len(joined) >= thresholds.warn_waiting,
                    "waiting ≥ critical": len(joined) >= thresholds.critical_waiting,
                    "wait ≥ warn": seconds >= thresholds.warn_longest_wait_seconds,
                    "wait ≥ critical": seconds >= thresholds.critical_longest_wait_seconds,
                    "busy spell": scenario.load(queue_id) > 1,
                }
            )
            if scenario.load(queue_id) > 1:
                if queue_id not in spell_ends:
                    spells[queue_id].append(Level.NORMAL)
                spell_ends[queue_id] = now
            elif queue_id in spell_ends and now - spell_ends[queue_id] > AFTERMATH_SECONDS:
                del spell_ends[queue_id]
            if queue_id in spell_ends:
                worst = max(spells[queue_id][-1], load, key=list(Level).index)
                spells[queue_id][-1] = worst
        for agent in state.all("agent"):
            if agent.get("tag_ids"):
                agent_time[agent["customer_id"]][agent["status"]] += 1

    print(f"seed {options.seed}, {hours:g} virtual hours, {rates}, sampled every {SAMPLE_SECONDS:g} s")
    print(
        f"thresholds: waiting {thresholds.warn_waiting}/{thresholds.critical_waiting}, longest wait "
        f"{thresholds.warn_longest_wait_seconds}/{thresholds.critical_longest_wait_seconds} s, service "
        f"level {thresholds.warn_service_level}/{thresholds.critical_service_level} % within {limit} s"
    )
    for queue_id, name in queues.items():
        answered, abandoned = len(watch.waits[queue_id]), watch.abandoned[queue_id]
        service_level = watch.service_level(queue_id, limit)
        spent = time_at[queue_id]
        turned = Counter(spells[queue_id])
        print(
            f"\n{name}: {answered} answered, {abandoned} abandoned, service level "
            + (f"{service_level:.1f} %" if service_level is not None else "—")
        )
        print("  time " + ", ".join(f"{level} {percent(spent[level], samples)}" for level in Level))
        print(
            "  time "
            + ", ".join(
                f"{key} {percent(spent[key], samples)}"
                for key in ("waiting ≥ warn", "waiting ≥ critical", "wait ≥ warn", "wait ≥ critical")
            )
        )
        print(
            f"  busy spells: {len(spells[queue_id])} ({percent(spent['busy spell'], samples)} of the time); "
            f"they turned it warning {turned[Level.WARNING]}, critical {turned[Level.CRITICAL]}, "
            f"stayed normal {turned[Level.NORMAL]}"
        )
    print()
    for customer in CUSTOMERS:
        spent = agent_time[customer.id]
        total = sum(spent.values())
        shares = ", ".join(f"{status} {percent(spent[status], total)}" for status in sorted(spent))
        print(f"{customer.name} serving agents' time: {shares}")


if __name__ == "__main__":
    main()
