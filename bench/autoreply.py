"""Auto-reply: inbound SMS → the reply's ``POST /v1.0/messages``, with N enabled rules on the account.

The relay worker (``manage.py runrelay``, its own process, as in production) holds the account's
session, stores each inbound SMS, runs every rule and sends the reply. The rules are built so the
only match is the last one: N-1 rules (keywords, RE2 regexes, exact texts, sender lists) are
evaluated and refused before it. Each SMS comes from a new sender, so cooldowns and daily caps never
hold a reply back.

How it is timed: the simulator runs in this process (an in-process ``SimServer`` whose
``record_sent`` hook stamps ``time.monotonic()`` as the reply POST is accepted), the injection is a
direct ``receive_sms`` call stamped just before it. Polling ``/_sim/sent`` would add its own
interval to every figure. The baseline, in the same run: the least a Python client can do, a
process subscribed directly to the simulator that POSTs a fixed reply for each inbound SMS event
(``harness.py plain-replier``). Target (issue 7): 200 enabled rules, p99 ≤ 50 ms.

    .venv/bin/python bench/autoreply.py [--rules 200] [--rate 10] [--seconds 20] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from harness import (
    HARNESS,
    QUIET_SECONDS,
    SIM_DIALECT,
    Figures,
    Stack,
    base_parser,
    cpu_shares,
    customer_topic,
    drain,
    header,
    pace,
    print_table,
    profiled,
    run,
    verdict,
)

from dashboard.simulator.resources import Record
from dashboard.simulator.server import SimServer
from dashboard.voipbin.topics import Principal

QUICK_SECONDS = 5.0
MESSAGES = customer_topic("message")


class TimedSim(SimServer):
    """The simulator, stamping each accepted reply POST on the harness's clock, by its destination."""

    def __init__(self) -> None:
        super().__init__(controls=True, scenario=False, dialect=SIM_DIALECT)
        self.replied_at: dict[str, float] = {}
        self.replies: Counter[str] = Counter()  # more than one for a sender would be a double reply

    def record_sent(self, principal: Principal, body: Mapping[str, Any], message: Record) -> None:
        now = time.monotonic()
        for destination in body.get("destinations", ()):
            self.replied_at.setdefault(str(destination.get("target")), now)
            self.replies[str(destination.get("target"))] += 1
        super().record_sent(principal, body, message)


def rules(count: int) -> list[dict[str, Any]]:
    """``count`` enabled rules; only the last matches the benchmark's SMS ("bench <n>")."""
    refused: list[dict[str, Any]] = []
    for i in range(count - 1):
        kind = i % 4
        fields: dict[str, Any] = {"name": f"bench rule {i}", "order": i, "reply": f"Reply {i} to {{sender}}"}
        if kind == 0:
            fields.update(keywords=[f"refund{i}", f"cancel{i}"], whole_word=True)
        elif kind == 1:
            fields.update(regex=rf"^order\s+#?{i}\d*$")
        elif kind == 2:
            fields.update(exact_text=f"stop {i}")
        else:  # the text matches; the sender list refuses it
            fields.update(keywords=["bench"], senders_in=[f"+1555000{i:04d}"])
        refused.append(fields)
    last = {
        "name": "bench: the match",
        "order": count,
        "keywords": ["bench"],
        "whole_word": True,
        "reply": "Thanks {sender}, we got your message. (auto-reply)",
    }
    return [*refused, last]


def sender(phase: int, seq: int) -> str:
    """A new E.164 sender per SMS (no cooldown applies), distinct between phases."""
    return f"+1{900 + phase}{seq:07d}"


async def measure_replies(
    stack: Stack, sim: TimedSim, *, label: str, phase: int, rate: float, seconds: float, process: str
) -> Figures:
    """Inject inbound SMS at ``rate``; latency from each injection to its reply being recorded."""
    count = max(1, round(rate * seconds))
    senders = [sender(phase, seq) for seq in range(count)]
    sent_at: list[float] = []

    async def inject(seq: int) -> None:
        sim.receive_sms(source=senders[seq], text=f"bench {seq}")

    cpu_before, started = stack.cpu_times(), time.monotonic()
    async with profiled(stack.pid(process), label):
        await pace(count, rate, inject, sent_at)
        await drain(lambda: sum(1 for s in senders if s in sim.replied_at), count)
    cpu = cpu_shares(cpu_before, stack.cpu_times(), time.monotonic() - started)
    latencies = [sim.replied_at[s] - sent_at[i] for i, s in enumerate(senders) if s in sim.replied_at]
    last = max((sim.replied_at[s] for s in senders if s in sim.replied_at), default=started)
    return Figures(
        label=label,
        clients=1,
        events=count,
        rate=rate,
        achieved_rate=(count - 1) / (sent_at[-1] - sent_at[0]) if count > 1 else rate,
        expected=count,
        delivered=len(latencies),
        frames=len(latencies),
        seconds=max(last - sent_at[0], 1e-9),
        latencies=latencies,
        cpu=cpu,
    )


async def measure(options: argparse.Namespace) -> tuple[list[Figures], int]:
    """The baseline replier, then the relay worker; and how many SMS the relay answered twice."""
    sim = TimedSim()
    rows: list[Figures] = []
    load = {"rate": options.rate, "seconds": options.seconds}
    async with Stack(sim=sim) as stack:
        await stack.provision(rules=rules(options.rules))
        command = [sys.executable, str(HARNESS), "plain-replier", "--sim-url", stack.sim.url]
        replier = stack.spawn("plain-replier", command)
        await stack.sim.wait_subscribed(MESSAGES, 1)
        rows.append(
            await measure_replies(stack, sim, label="direct", phase=0, process="plain-replier", **load)
        )
        await stack.stop(replier)
        await stack.sim.wait_no_connections()
        await stack.sim.post("/_sim/reset")  # or the relay's start-up backfill answers the baseline's SMS
        heartbeat = stack.tmp / "relay.heartbeat"
        manage = [sys.executable, "manage.py", "runrelay", "--heartbeat-file", str(heartbeat)]
        stack.spawn("runrelay", manage)
        await stack.wait_file(heartbeat, "runrelay")
        await stack.sim.wait_subscribed(MESSAGES, 1)
        await asyncio.sleep(2 * QUIET_SECONDS)  # its start-up backfill and sweep are over
        rows.append(await measure_replies(stack, sim, label="ours", phase=1, process="runrelay", **load))
    doubles = sum(n - 1 for target, n in sim.replies.items() if target.startswith(sender(1, 0)[:5]))
    return rows, doubles


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "", web=False)
    parser.add_argument("--rules", type=int, default=200, help="enabled rules; only the last matches")
    parser.add_argument("--rate", type=float, default=10, help="inbound SMS per second")
    parser.add_argument("--seconds", type=float, default=20, help="how long SMS are injected")
    options = parser.parse_args(argv)
    if options.quick:
        options.seconds = min(options.seconds, QUICK_SECONDS)
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)

    async def go() -> None:
        header(f"auto-reply: {options.rules} rules, {options.rate:g} SMS/s", options)
        rows, doubles = await measure(options)
        direct, ours = rows
        title = f"inbound SMS → reply POST, {options.rules} enabled rules (frames = replies)"
        print_table(rows, title, latency="injection → reply POST accepted by the simulator")
        detail = f"{ours.delivered}/{ours.expected} answered, {doubles} answered twice"
        verdict("every SMS answered exactly once", ours.complete and not doubles, detail)
        p99 = ours.p99
        verdict(
            "p99 ≤ 50 ms",
            p99 is not None and p99 <= 50,
            f"p99 {p99 or 0:.1f} ms (direct {direct.p99 or 0:.1f} ms)",
        )

    run(go)


if __name__ == "__main__":
    main()
