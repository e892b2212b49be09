"""Memory: what an idle authenticated browser socket, and an idle upstream session, cost a web process.

RSS (``VmRSS`` in ``/proc/<pid>/status``) of the web process (each of ``--servers`` in turn) after
start-up, one warm-up user with one calls tab and one tab of each of ``--users`` signed-in users
(their upstream sessions open); then after ``--sockets`` more calls tabs spread over those users:
per socket = RSS delta / sockets. Then ``--sessions`` more users with one tab each (one upstream
session each, counted once the simulator lists it as subscribed): per session = RSS delta / sessions
minus the per-socket cost of its one tab. Baseline in the same run, same driver: the plain
``websockets`` broadcast server holding as many sockets (its RSS after one client, then after all of
them). Every reading is taken once every tab painted and a second passed without frames. Targets: ≤
25 KiB per idle authenticated browser socket with 2000 held (issue 16; issue 7 asked for 50); per
idle upstream session, reported.

    .venv/bin/python bench/memory.py [--sockets 2000] [--users 20] [--sessions 200] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
from dataclasses import dataclass
from pathlib import Path

from harness import (
    QUIET_SECONDS,
    ClientSpec,
    Fleet,
    HarnessError,
    Stack,
    base_parser,
    browser_spec,
    header,
    our_fleet,
    plain_fleet,
    run,
    verdict,
)
from supervisors import CALLS

PATH = "/ws/live/calls/"
QUICK = {"sockets": 500, "sessions": 50}
TARGET_KIB = 25.0
FD_SPARE = 1000  # the driver's and the web process's own files, the simulator's and database's sockets


@dataclass
class Reading:
    """RSS of one process before and after ``count`` more idle things (sockets or sessions)."""

    label: str
    what: str
    count: int
    before: int  # KiB
    after: int  # KiB
    less: float = 0.0  # KiB per item already accounted for elsewhere (a session's one tab)

    @property
    def per_item(self) -> float:
        return (self.after - self.before) / self.count - self.less


def rss_kib(pid: int | None) -> int:
    """Resident set size of a process in KiB (``VmRSS``)."""
    if pid is None:
        raise HarnessError("the process to measure is not running")
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise HarnessError(f"cannot read /proc/{pid}/status: {exc}") from exc
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise HarnessError(f"no VmRSS in /proc/{pid}/status")


async def settled_rss(pid: int | None) -> int:
    """RSS once idle: one more quiet second after the fleet settled (late frees, deferred work)."""
    await asyncio.sleep(QUIET_SECONDS)
    return rss_kib(pid)


def raise_fd_limit(sockets: int) -> None:
    """Enough descriptors for the driver's sockets; daphne and the plain server inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = sockets + FD_SPARE
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise HarnessError(f"{sockets} sockets need {need} file descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


async def open_fleet(fleet: Fleet, *, expect_first_frame: bool) -> None:
    await fleet.open()
    await fleet.settle(expect_first_frame=expect_first_frame)


async def measure(options: argparse.Namespace) -> list[Reading]:
    readings: list[Reading] = []
    async with Stack() as stack:
        token = await stack.sim.login("manager")
        users = 1 + options.users + options.sessions
        keys = (await stack.provision(users=users, token=token)).sessions
        warm_key, tab_keys, session_keys = keys[0], keys[1 : 1 + options.users], keys[1 + options.users :]

        # plain: a websockets broadcast server, one warm-up client, then all the sockets
        async with plain_fleet(stack, CALLS, clients=1, credential=f"token={token}") as warm:
            pid = stack.pid("plain-server")
            before = await settled_rss(pid)
            fleet = Fleet([warm.specs[0]] * options.sockets, "plain")
            try:
                await open_fleet(fleet, expect_first_frame=False)
                after = await settled_rss(pid)
            finally:
                await fleet.close()
            readings.append(Reading("plain", "socket", options.sockets, before, after))

        for server in options.servers:
            readings += await measure_ours(stack, server, warm_key, tab_keys, session_keys, options)
    return readings


async def measure_ours(
    stack: Stack,
    server: str,
    warm_key: str,
    tab_keys: list[str],
    session_keys: list[str],
    options: argparse.Namespace,
) -> list[Reading]:
    """The web process after start-up and a tab of each user, then more sockets over those users, then
    sessions."""
    await stack.use_web(server)
    readings: list[Reading] = []
    pid = stack.pid(server)
    label = f"ours {server}"
    # Warm-up: one user with a tab, and one tab of each user the sockets are spread over, so that
    # their upstream sessions are open before the first reading and only sockets come after it.
    warm_specs = [browser_spec(stack, PATH, key) for key in [warm_key, *tab_keys]]
    async with our_fleet(stack, CALLS, warm_specs, upstreams=1 + len(tab_keys)):
        before = await settled_rss(pid)
        specs: list[ClientSpec] = [
            browser_spec(stack, PATH, tab_keys[i % options.users]) for i in range(options.sockets)
        ]
        tabs = Fleet(specs, label)
        sessions = Fleet([browser_spec(stack, PATH, key) for key in session_keys], f"{label} sessions")
        try:
            await tabs.open()
            await tabs.settle(expect_first_frame=True)
            stack.check_alive()
            middle = await settled_rss(pid)
            socket = Reading(label, "socket", options.sockets, before, middle)
            readings.append(socket)
            if options.sessions:
                await sessions.open()
                await stack.sim.wait_subscribed(CALLS.topic, 1 + options.users + options.sessions)
                await sessions.settle(expect_first_frame=True)
                stack.check_alive()
                after = await settled_rss(pid)
                every = f"{label}, {options.sessions} users x 1 tab"
                readings.append(
                    Reading(every, "session", options.sessions, middle, after, less=socket.per_item)
                )
        finally:
            await sessions.close()
            await tabs.close()
    return readings


def report(readings: list[Reading], options: argparse.Namespace) -> None:
    head = ("system", "held", "RSS before MiB", "RSS after MiB", "delta MiB", "KiB each")
    body = [
        (
            r.label,
            f"{r.count} {r.what}s",
            f"{r.before / 1024:.1f}",
            f"{r.after / 1024:.1f}",
            f"{(r.after - r.before) / 1024:.1f}",
            f"{r.per_item:.1f}" + (f" (after {r.less:.1f} for its tab)" if r.less else ""),
        )
        for r in readings
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    tabs = f"{options.sockets} calls tabs over {options.users} users"
    print(f"\nidle sockets: {tabs}; then {options.sessions} users x 1 tab  (RSS of the server process)")
    for line in (head, *body):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    plain = readings[0]
    for ours in readings[1:]:
        if ours.what == "socket":
            verdict(
                f"{ours.label}: ≤ {TARGET_KIB:g} KiB per idle authenticated socket",
                ours.per_item <= TARGET_KIB,
                f"{ours.per_item:.1f} KiB per socket with {ours.count} held "
                f"(plain server: {plain.per_item:.1f} KiB)",
            )
        else:
            verdict(f"{ours.label}: per idle upstream session", None, f"{ours.per_item:.1f} KiB per session")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sockets", type=int, default=2000, help="idle calls tabs held")
    parser.add_argument("--users", type=int, default=20, help="signed-in users the tabs are spread over")
    parser.add_argument("--sessions", type=int, default=200, help="more users, one tab (session) each")
    options = parser.parse_args(argv)
    if options.quick:
        for name, value in QUICK.items():
            setattr(options, name, min(getattr(options, name), value))
    if options.users < 1 or options.sockets < options.users or options.sessions < 0:
        parser.error("need --users ≥ 1, --sockets ≥ --users and --sessions ≥ 0")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)

    async def go() -> None:
        raise_fd_limit(options.sockets + options.sessions)
        header(f"memory: {options.sockets} idle sockets, {options.sessions} idle sessions", options)
        report(await measure(options), options)

    run(go)


if __name__ == "__main__":
    main()
