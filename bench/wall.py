"""Wall fan-out: one account session feeding N wall sockets (the TV screens of one account).

Inbound SMS from one sender are injected; the wall's inbox panel shows the newest one, so a frame
showing SMS n shows the state every earlier SMS led to (``Mode.LATEST``). Measured against a plain
``websockets`` broadcast server holding one upstream subscription (the target's reference) and
against the same clients subscribed straight to the simulator with the account's access key.
Then a saturation sweep for our server and the plain one: from ``--sweep-from`` events/s the rate
doubles until p99 passes the limit or something is lost; the figure is the frames/s delivered at the
best step within the limit.
Targets (issue 7): 1000 walls at 20 events/s, all delivered, p99 within 2x of the plain server's.

    .venv/bin/python bench/wall.py [--walls 1000] [--rate 20] [--seconds 20] [--quick]
"""

from __future__ import annotations

import argparse

from harness import (
    DEMO_ACCESS_KEY,
    Figures,
    Fleet,
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

SENDER = "+12025550177"  # one thread: the wall shows its newest message
QUICK = {"seconds": 5.0, "step_seconds": 3.0}


async def inbound_sms(sim: SimControl, seq: int, marker_id: str) -> None:
    """One event: an inbound SMS whose text carries the marker (the wall's inbox panel shows it)."""
    await sim.post("/_sim/sms", {"source": SENDER, "text": f"bench {marker_id}"})


SMS = Workload(inject=inbound_sms, mode=Mode.LATEST, topic=customer_topic("message"))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--walls", type=int, default=1000, help="wall sockets of one account")
    parser.add_argument("--rate", type=float, default=20, help="events per second")
    parser.add_argument("--seconds", type=float, default=20, help="how long events are injected")
    parser.add_argument("--step-seconds", type=float, default=10, help="length of each sweep step")
    parser.add_argument("--sweep-from", type=float, default=2.5, help="events/s of the sweep's first step")
    parser.add_argument("--p99-limit", type=float, default=50, help="ms; the sweep stops past it")
    parser.add_argument("--max-rate", type=float, default=1280, help="the sweep's last rate at most")
    options = parser.parse_args(argv)
    if options.quick:
        for name, value in QUICK.items():
            setattr(options, name, min(getattr(options, name), value))
    return options


async def sweep(fleet: Fleet, sim: SimControl, options: argparse.Namespace) -> list[Figures]:
    """Double the rate until p99 passes the limit, something is lost, or the injector falls behind."""
    steps: list[Figures] = []
    rate = options.sweep_from
    while rate <= options.max_rate:
        figures = await fleet.measure(
            SMS.bound(sim),
            mode=SMS.mode,
            rate=rate,
            seconds=options.step_seconds,
            label=f"{fleet.label}@{rate:g}",
        )
        steps.append(figures)
        p99 = figures.p99
        if (
            p99 is None
            or p99 > options.p99_limit
            or not figures.complete
            or figures.achieved_rate < 0.9 * rate
        ):
            break
        rate *= 2
    return steps


def best_step(steps: list[Figures], limit: float) -> Figures | None:
    """The step that delivered the most frames/s with everything shown and p99 within the limit."""
    within = [s for s in steps if s.complete and s.p99 is not None and s.p99 <= limit]
    return max(within, key=lambda s: s.frames_per_second, default=None)


def best_rate(steps: list[Figures], limit: float) -> float:
    """Frames/s delivered at the best step within the p99 limit (0 if none was)."""
    best = best_step(steps, limit)
    return best.frames_per_second if best is not None else 0.0


def saturation(steps: list[Figures], limit: float) -> str:
    best = best_step(steps, limit)
    if best is None:
        return f"no step had p99 ≤ {limit:g} ms"
    return f"{best.frames_per_second:.0f} frames/s at {best.rate:g} events/s (p99 {best.p99:.1f} ms)"


async def measure(options: argparse.Namespace) -> tuple[list[Figures], dict[str, list[Figures]]]:
    rows: list[Figures] = []
    sweeps: dict[str, list[Figures]] = {}
    async with Stack() as stack:
        provisioned = await stack.provision(wall=True)
        inject = SMS.bound(stack.sim)
        load = {"mode": SMS.mode, "rate": options.rate, "seconds": options.seconds}
        credential = f"accesskey={DEMO_ACCESS_KEY}"
        async with direct_fleet(stack, SMS, clients=options.walls, credential=credential) as fleet:
            rows.append(await fleet.measure(inject, **load))
        async with plain_fleet(stack, SMS, clients=options.walls, credential=credential) as fleet:
            rows.append(await fleet.measure(inject, **load))
            sweeps["plain"] = await sweep(fleet, stack.sim, options)
        for server in options.servers:
            await stack.use_web(server)
            specs = [browser_spec(stack, f"/ws/wall/{provisioned.wall_token}/")] * options.walls
            async with our_fleet(stack, SMS, specs, upstreams=1) as fleet:
                rows.append(await fleet.measure(inject, **load))
                sweeps[fleet.label] = await sweep(fleet, stack.sim, options)
    return rows, sweeps


def report(rows: list[Figures], sweeps: dict[str, list[Figures]], options: argparse.Namespace) -> None:
    plain = rows[1]
    print_table(rows, f"{options.walls} wall sockets of one account, {options.rate:g} inbound SMS/s")
    for ours in rows[2:]:
        shown = f"{ours.delivered}/{ours.expected} events shown on every wall"
        verdict(f"{ours.label}: all delivered", ours.complete, shown)
        times = ratio(ours.p99, plain.p99)
        detail = f"p99 {ours.p99 or 0:.1f} ms vs plain {plain.p99 or 0:.1f} ms = {times or 0:.1f}x"
        verdict(f"{ours.label}: p99 within 2x of the plain server", times is not None and times <= 2, detail)
    print_table(
        [s for steps in sweeps.values() for s in steps],
        f"saturation sweep ({options.step_seconds:g} s steps)",
    )
    for name, steps in sweeps.items():
        print(f"  saturation {name}: {saturation(steps, options.p99_limit)}")
    plain_best = best_rate(sweeps["plain"], options.p99_limit)
    for name, steps in sweeps.items():
        if name != "plain":
            ours_best = best_rate(steps, options.p99_limit)
            detail = f"{ours_best:.0f} frames/s against plain {plain_best:.0f}"
            met = ours_best >= plain_best / 2 if plain_best else None  # no plain figure: nothing to compare
            verdict(f"{name}: saturation at least half the plain server's", met, detail)


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)

    async def go() -> None:
        header(f"wall fan-out: {options.walls} walls, {options.rate:g} events/s", options)
        report(*(await measure(options)), options)

    run(go)


if __name__ == "__main__":
    main()
