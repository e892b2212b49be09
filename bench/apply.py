"""Apply and render: what one new call costs the web process's database thread, without sockets.

The step every live event takes once per process (``dashboard.relay.pipeline``): ``apply_event``
(the row stored, the change routed to its caller's conversation) and ``apply_and_render`` (that,
and the update rendered for the supervisors' calls page, as when only supervisors' calls tabs are
open). Each of ``--calls`` new calls, as VoIPBIN's code sends them (the simulator's record, built in
process: no server), is applied on its own, in a ``manage.py shell`` on the run's fresh database,
after ``--warm`` calls not counted. No baseline: this is the floor under ``bench/light.py``'s
latency, in milliseconds per event.

    .venv/bin/python bench/apply.py [--calls 400] [--warm 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import textwrap

from harness import Stack, base_parser, header, nearest_rank, run

QUICK_CALLS = 100

_MEASURE = textwrap.dedent(
    """
    import json, os, statistics, time
    from dashboard.live import apply_event
    from dashboard.relay.pipeline import apply_and_render
    from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
    from dashboard.simulator.core import Simulator
    from dashboard.voipbin.events import normalize

    spec = json.loads(os.environ["BENCH_APPLY"])
    sim = Simulator()
    shown = {("calls", "supervisor")}

    def new_call():
        return normalize(sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming"))

    def timed(step, count):
        events = [new_call() for _ in range(count)]
        spent = []
        for event in events:
            started = time.perf_counter()
            step(event)
            spent.append((time.perf_counter() - started) * 1000)
        return spent

    timed(lambda e: apply_and_render((e, shown)), spec["warm"])
    out = {
        "apply_event": timed(apply_event, spec["calls"]),
        "apply_and_render": timed(lambda e: apply_and_render((e, shown)), spec["calls"]),
    }
    print(json.dumps(out))
    """
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "", web=False)
    parser.add_argument("--calls", type=int, default=400, help="new calls measured per step")
    parser.add_argument("--warm", type=int, default=50, help="calls applied first, not counted")
    options = parser.parse_args(argv)
    if options.quick:
        options.calls = min(options.calls, QUICK_CALLS)
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)

    async def go() -> None:
        header(f"apply and render: {options.calls} new calls", options)
        async with Stack() as stack:
            spec = json.dumps({"calls": options.calls, "warm": options.warm})
            out = stack.manage("shell", "-c", _MEASURE, extra_env={"BENCH_APPLY": spec})
            print(f"   database: {stack.database}")
        spent = json.loads(out.strip().splitlines()[-1])
        print(f"\n{'step':<18}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  (ms per new call)")
        for step, values in spent.items():
            figures = "".join(f"{nearest_rank(values, p) or 0:8.2f}" for p in (50, 90, 99, 100))
            print(f"{step:<18}{figures}")

    run(go)


if __name__ == "__main__":
    main()
