"""Redis: the supervisors case on two web processes sharing PostgreSQL and Redis, as deployed scaled out.

Two web processes (each of ``--servers`` in turn) with ``REDIS_URL`` (a private ``redis-server``)
and ``RELAY_IN_WEB=false``, as docker-compose.yml runs them, on one PostgreSQL database; N signed-in
supervisors, each with a calls tab on *each* process (``--tabs 2``), R new calls/s. A user's
upstream session is owned by one process, whichever serves their first tab (a Redis lease; the first
tabs alternate, so each process owns half the sessions): the owner applies and renders each event,
hands it to its own tab directly and, once through the Redis channel layer, to the other process,
which hands it to the user's tab there. So every event reaches half the tabs through Redis; the
figures are over all tabs and over each half. ``--tabs 1`` spreads one tab per user over the two
processes instead (no Redis hop on the way to a tab). The relay worker (``runrelay``) is not
started: it keeps no user's session and no calls tab depends on it.

Database: PostgreSQL, since processes on several machines cannot share a SQLite file: the server
``BENCH_POSTGRES_URL`` names, else the local one (``postgres://postgres@127.0.0.1:5432/postgres``)
if it answers, else SQLite, said in the output. ``--sqlite`` forces SQLite (one file, both processes,
WAL: it works on one machine).

Baselines in the same run, with the same driver and as many clients: direct subscription to the
simulator and the plain broadcast server (as ``bench/supervisors.py``). Target (issue 7): 20
events/s, p99 ≤ 25 ms.

    .venv/bin/python bench/scaleout.py [--users 100] [--tabs 2] [--rate 20] [--seconds 20]
        [--sqlite] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit

from harness import (
    HOST,
    Figures,
    Fleet,
    Stack,
    _cpu_seconds,
    base_parser,
    browser_spec,
    direct_fleet,
    fresh_simulator,
    header,
    plain_fleet,
    print_table,
    reachable_postgres,
    run,
    verdict,
)
from supervisors import CALLS

PATH = "/ws/live/calls/"
QUICK_SECONDS = 5.0
TARGET_P99_MS = 25.0
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
LEASES = "dashboard:lease:user-session:*"  # dashboard.leases prefix + dashboard.relay.lease_key
_OWNERS = (
    "local out = {} for _, key in ipairs(redis.call('KEYS', ARGV[1])) do "
    "out[#out + 1] = redis.call('GET', key) end return out"
)


def choose_database(options: argparse.Namespace) -> tuple[str, str]:
    """(admin URL of the PostgreSQL server to use, or "" for SQLite; why SQLite, if it is)."""
    if options.sqlite:
        return "", "--sqlite: one SQLite file shared by both processes (works only on one machine)"
    url = os.environ.get("BENCH_POSTGRES_URL") or LOCAL_POSTGRES
    why = reachable_postgres(url)
    if why is None:
        return url, ""
    return "", (
        f"PostgreSQL not reachable at {url} ({why}): SQLite instead, which a team that outgrew one "
        "machine cannot run (set BENCH_POSTGRES_URL)"
    )


async def lease_owners(redis_url: str) -> Counter[str]:
    """How many users' sessions each process holds a lease on (read with redis-cli; empty if absent)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        return Counter()
    port = str(urlsplit(redis_url).port)
    process = await asyncio.create_subprocess_exec(
        *(cli, "-h", HOST, "-p", port, "--raw", "EVAL", _OWNERS, "0", LEASES),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    return Counter(line for line in out.decode().splitlines() if line.strip())


async def measure(options: argparse.Namespace, postgres: str) -> tuple[list[Figures], list[str]]:
    rows: list[Figures] = []
    notes: list[str] = []
    clients = options.users * options.tabs
    async with Stack(redis=True, env={"RELAY_IN_WEB": "false"}, postgres=postgres) as stack:
        notes.append(f"database: {stack.database}; channel layer and leases: {stack.redis_url}")
        token = await stack.sim.login("manager")
        keys = (await stack.provision(users=options.users, token=token)).sessions
        inject = CALLS.bound(stack.sim)
        load = {"mode": CALLS.mode, "rate": options.rate, "seconds": options.seconds}
        async with direct_fleet(stack, CALLS, clients=clients, credential=f"token={token}") as fleet:
            rows.append(await fleet.measure(inject, **load))
        async with plain_fleet(stack, CALLS, clients=clients, credential=f"token={token}") as fleet:
            rows.append(await fleet.measure(inject, **load))
        for server in options.servers:
            ours, found = await measure_ours(stack, server, keys, options)
            rows += ours
            notes += found
    return rows, notes


async def measure_ours(
    stack: Stack, server: str, keys: Sequence[str], options: argparse.Namespace
) -> tuple[list[Figures], list[str]]:
    """Two web processes on ``server``; each user's first tab on alternate processes (that process
    takes the lease), then their second tab on the other one. Both stopped after, and what they
    stored deleted, so the next server starts from the same database."""
    webs = (f"{server}-a", f"{server}-b")
    ports = [await stack.start_web(name, server=server) for name in webs]
    inject = CALLS.bound(stack.sim)
    load = {"mode": CALLS.mode, "rate": options.rate, "seconds": options.seconds}
    clients = options.users * options.tabs
    label = f"ours {server}"
    await fresh_simulator(stack)
    first = [browser_spec(stack, PATH, key, port=ports[i % 2]) for i, key in enumerate(keys)]
    second = [browser_spec(stack, PATH, key, port=ports[(i + 1) % 2]) for i, key in enumerate(keys)]
    fleet = Fleet(first, label)
    fleet.profile_pid = stack.pid(webs[0])
    try:
        await fleet.open()
        await stack.sim.wait_subscribed(CALLS.topic, options.users)
        if options.tabs == 2:
            await fleet.add(second)
        await fleet.settle(expect_first_frame=True)
        stack.check_alive()
        backends = await asyncio.to_thread(stack.database_backends)

        def cpu() -> dict[str, float]:
            times = stack.cpu_times()
            if backends:
                times["postgres"] = sum(_cpu_seconds(pid) for pid in backends)
            return times

        fleet.cpu = cpu
        sessions_before = await stack.sim.subscribed(CALLS.topic)
        owners = await lease_owners(stack.redis_url)
        ours = await fleet.measure(inject, **load, per_client=True)
        sessions_after = await stack.sim.subscribed(CALLS.topic)
        stack.check_alive()
    finally:
        await fleet.close()
    logged = stack.log_summary(webs)
    for name in webs:
        await stack.stop(dict(stack.processes)[name])
    await stack.forget_live()
    rows = [ours]
    users = range(options.users)
    if options.tabs == 2:
        rows.append(ours.subset(users, f"{label}: tabs on the owner"))
        rows.append(ours.subset(range(options.users, clients), f"{label}: tabs via Redis"))
    else:
        rows.append(ours.subset([i for i in users if i % 2 == 0], f"{label}: tabs on {webs[0]}"))
        rows.append(ours.subset([i for i in users if i % 2 == 1], f"{label}: tabs on {webs[1]}"))
    split = " + ".join(str(n) for n in sorted(owners.values(), reverse=True)) or "unknown (no redis-cli)"
    notes = [
        f"{label}: upstream sessions on the simulator: {sessions_before} before, {sessions_after} after "
        f"the measurement, for {options.users} users; leases held by {len(owners)} processes: {split}"
    ]
    notes += [f"{label} logged: {line}" for line in logged] or [f"{label} logged: no warning, no error"]
    return rows, notes


def report(rows: Sequence[Figures], notes: Sequence[str], options: argparse.Namespace) -> None:
    direct, plain = rows[0], rows[1]
    tabs = "a calls tab on each" if options.tabs == 2 else "one calls tab, spread over both"
    title = f"{options.users} supervisors x {tabs} of 2 web processes (Redis), {options.rate:g} new calls/s"
    print_table(rows, title)
    for note in notes:
        print(f"  {note}")
    for at in range(2, len(rows), 3):  # each server: all tabs, then its two halves
        ours, via = rows[at], rows[at + 2] if options.tabs == 2 else None
        delivered = f"{ours.delivered}/{ours.expected} delivered"
        verdict(f"{ours.label}: every event reaches every tab", ours.complete, delivered)
        p99 = ours.p99
        detail = f"p99 {p99 or 0:.1f} ms over all tabs"
        if via is not None:
            detail += f", {via.p99 or 0:.1f} ms for the tabs reached through Redis"
        detail += f" (direct {direct.p99 or 0:.1f} ms, plain {plain.p99 or 0:.1f} ms)"
        verdict(f"{ours.label}: p99 ≤ {TARGET_P99_MS:g} ms", p99 is not None and p99 <= TARGET_P99_MS, detail)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=100, help="signed-in supervisors")
    parser.add_argument(
        "--tabs", type=int, choices=(1, 2), default=2, help="calls tabs per user: 2 = one on each process"
    )
    parser.add_argument("--rate", type=float, default=20, help="events injected per second")
    parser.add_argument("--seconds", type=float, default=20, help="how long events are injected")
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite (one shared file) instead of PostgreSQL"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.seconds = min(options.seconds, QUICK_SECONDS)
    if options.users < 2:
        parser.error("need --users ≥ 2 (the sessions are spread over two processes)")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)

    async def go() -> None:
        header(f"redis: {options.users} supervisors on 2 web processes, {options.rate:g} events/s", options)
        postgres, why = await asyncio.to_thread(choose_database, options)
        if why:
            print(f"   {why}")
        rows, notes = await measure(options, postgres)
        report(rows, notes, options)

    run(go)


if __name__ == "__main__":
    main()
