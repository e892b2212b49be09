"""Supervisors: N signed-in supervisors of one account, one calls tab each, R new calls per second.

Each supervisor has their own upstream VoIPBIN session (N sessions deliver every event), and each
event must reach every tab. Measured against the same clients subscribed straight to the simulator
with the supervisors' own token (the tutorial's way) and against a plain ``websockets`` broadcast
server. Targets (issue 7): 100 supervisors at 40 events/s, p99 within 3x of the direct p99; the
light-load case (``bench/light.py``: 10 supervisors at 100 events/s), p99 ≤ 5 ms.

    .venv/bin/python bench/supervisors.py [--users 100] [--rate 40] [--seconds 20] [--quick]
"""

from __future__ import annotations

import argparse
from typing import Literal

from harness import (
    Figures,
    Mode,
    SimControl,
    Stack,
    Workload,
    base_parser,
    browser_spec,
    customer_topic,
    direct_fleet,
    header,
    our_fleet,
    plain_fleet,
    print_table,
    ratio,
    run,
    verdict,
)

Target = Literal["supervisors", "light"]
QUICK_SECONDS = 5.0


async def new_call(sim: SimControl, seq: int, call_id: str) -> None:
    """One event: a new call (``call_created``) whose id is the marker, so its row names it."""
    await sim.post("/_sim/calls", {"id": call_id})


CALLS = Workload(inject=new_call, mode=Mode.EXACT, topic=customer_topic("call"))


def parse(argv: list[str] | None, *, users: int, rate: float, seconds: float) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=users, help="signed-in supervisors, one tab each")
    parser.add_argument("--rate", type=float, default=rate, help="events injected per second")
    parser.add_argument("--seconds", type=float, default=seconds, help="how long events are injected")
    options = parser.parse_args(argv)
    if options.quick:
        options.seconds = min(options.seconds, QUICK_SECONDS)
    return options


async def measure(options: argparse.Namespace) -> list[Figures]:
    """The three systems, one after the other, each fed the same events at the same rate."""
    rows: list[Figures] = []
    async with Stack() as stack:
        token = await stack.sim.login("manager")
        provisioned = await stack.provision(users=options.users, token=token)
        inject = CALLS.bound(stack.sim)
        load = {"mode": CALLS.mode, "rate": options.rate, "seconds": options.seconds}
        async with direct_fleet(stack, CALLS, clients=options.users, credential=f"token={token}") as fleet:
            rows.append(await fleet.measure(inject, **load))
        async with plain_fleet(stack, CALLS, clients=options.users, credential=f"token={token}") as fleet:
            rows.append(await fleet.measure(inject, **load))
        for server in options.servers:
            await stack.use_web(server)
            specs = [browser_spec(stack, "/ws/live/calls/", key) for key in provisioned.sessions]
            async with our_fleet(stack, CALLS, specs, upstreams=options.users) as fleet:
                rows.append(await fleet.measure(inject, **load))
    return rows


def report(rows: list[Figures], options: argparse.Namespace, target: Target) -> None:
    direct = rows[0]
    print_table(rows, f"{options.users} supervisors x 1 calls tab, {options.rate:g} new calls/s")
    for ours in rows[2:]:
        delivered = f"{ours.delivered}/{ours.expected} delivered"
        verdict(f"{ours.label}: every event reaches every tab", ours.complete, delivered)
        if target == "light":
            p99 = ours.p99
            verdict(f"{ours.label}: p99 ≤ 5 ms", p99 is not None and p99 <= 5, f"p99 {p99 or 0:.1f} ms")
        else:
            times = ratio(ours.p99, direct.p99)
            detail = f"p99 {ours.p99 or 0:.1f} ms vs direct {direct.p99 or 0:.1f} ms = {times or 0:.1f}x"
            verdict(
                f"{ours.label}: p99 within 3x of direct subscription",
                times is not None and times <= 3,
                detail,
            )


def main(
    argv: list[str] | None = None, *, users: int = 100, rate: float = 40, target: Target = "supervisors"
) -> None:
    options = parse(argv, users=users, rate=rate, seconds=20)

    async def go() -> None:
        header(f"{target}: {options.users} supervisors, {options.rate:g} events/s", options)
        report(await measure(options), options, target)

    run(go)


if __name__ == "__main__":
    main()
