"""A seeded contact center, simulated in virtual time.

A discrete-event simulation: actions wait in a priority queue keyed by virtual
time, and every random draw (ids included) comes from one ``random.Random(seed)``,
so the same seed and the same :meth:`Scenario.advance` calls give the same
event sequence. Tests call ``advance`` directly; the demo runs
:meth:`Scenario.run_realtime`, which maps it onto the wall clock times the speed.

The story, mostly for Acme (Globex gets a quarter of its traffic): a call
rings, its flow answers and plays a greeting, the call joins a queue and waits
until an available agent serving the queue takes it, or the caller gives up.
Agents wrap up after a call and sometimes step away. SMS arrive from a pool
of customers; outbound SMS move from queued to sent to delivered.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from dashboard.simulator.accounts import CUSTOMERS, DemoCustomer
from dashboard.simulator.events import Change
from dashboard.simulator.resources import (
    START_ACTION_ID,
    activeflow_record,
    address,
    flow_action,
    queuecall_record,
    with_target_status,
)
from dashboard.simulator.state import State

# 202-555-01xx: numbers reserved for fiction.
REMOTE_NUMBERS = tuple(f"+1202555{line:04d}" for line in range(110, 140))
SMS_TEXTS = (
    "Hi, what are your opening hours?",
    "help! my order never arrived",
    "What's the price of the premium plan?",
    "Can someone call me back please?",
    "Thanks, that fixed it.",
    "Are you open on Sunday? What are the hours?",
    "I need help resetting my password",
    "Is there a student price?",
    "Where is my refund?",
    "HELP",
)

_OTHER_CUSTOMER_SHARE = 0.25
_RING_SECONDS = (1.0, 4.0)
_GREETING_SECONDS = (3.0, 7.0)
_PATIENCE_SECONDS = (15.0, 150.0)
_AGENT_RING_SECONDS = (2.0, 6.0)
_TALK_SECONDS = (20.0, 150.0)
_WRAP_UP_SECONDS = (2.0, 15.0)
_SMS_SENT_SECONDS = (0.5, 2.0)
_SMS_DELIVERED_SECONDS = (1.0, 5.0)
_SMS_FAILURE_RATE = 0.05


@dataclass(frozen=True, slots=True)
class Rates:
    calls_per_minute: float = 2.0
    sms_per_minute: float = 1.5
    agent_changes_per_minute: float = 1.0


@dataclass(slots=True)
class Journey:
    """One inbound call on its way through the flow, a queue and an agent."""

    customer: DemoCustomer
    queue_id: str
    call_id: str
    activeflow_id: str
    queuecall_id: str = ""
    agent_id: str = ""
    stage: str = "flow"
    """flow → waiting → connecting → service → ended."""
    joined_at: float = 0.0
    serviced_at: float = 0.0


def _milliseconds(seconds: float) -> int:
    return round(seconds * 1000)


class Scenario:
    _rng: random.Random
    _now: float
    _agenda: list[tuple[float, int, Callable[[], None]]]
    _sequence: Iterator[int]
    _journeys: dict[str, Journey]
    """Calls still on their way, by call id."""
    _idle_since: dict[str, float]
    _dispatch_pending: bool

    def __init__(self, state: State, *, seed: int, rates: Rates | None = None) -> None:
        self.state = state
        self.seed = seed
        self.rates = rates or Rates()
        state.listeners.append(self._on_change)
        self.reset()

    @property
    def now(self) -> float:
        """Virtual seconds since the start (or the last reset)."""
        return self._now

    def reset(self) -> None:
        """Back to virtual time zero with the seed's first draws scheduled."""
        self._rng = random.Random(self.seed)
        self._now = 0.0
        self._agenda = []
        self._sequence = itertools.count()
        self._journeys = {}
        self._idle_since = {}
        self._dispatch_pending = False
        for customer in CUSTOMERS:
            share = 1.0 if customer is CUSTOMERS[0] else _OTHER_CUSTOMER_SHARE
            self._recurring(self.rates.calls_per_minute * share, partial(self._call_arrives, customer))
            self._recurring(self.rates.sms_per_minute * share, partial(self._sms_arrives, customer))
            self._recurring(
                self.rates.agent_changes_per_minute * share, partial(self._agent_changes, customer)
            )

    def advance(self, seconds: float) -> None:
        """Run every action due in the next ``seconds`` of virtual time."""
        if seconds < 0:
            raise ValueError("cannot advance by a negative time")
        end = self._now + seconds
        while self._agenda and self._agenda[0][0] <= end:
            self._now, _, action = heapq.heappop(self._agenda)
            action()
        self._now = end

    async def run_realtime(self, speed: float, tick: float = 0.1) -> None:
        """Advance forever at ``speed`` virtual seconds per real second."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            self.advance((now - last) * speed)
            last = now

    # Scheduling

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._agenda, (self._now + delay, next(self._sequence), action))

    def _after(self, bounds: tuple[float, float], action: Callable[[], None]) -> None:
        self._at(self._rng.uniform(*bounds), action)

    def _recurring(self, per_minute: float, action: Callable[[], None]) -> None:
        """Poisson arrivals: exponential gaps averaging ``60 / per_minute`` seconds."""
        if per_minute <= 0:
            return

        def fire() -> None:
            self._recurring(per_minute, action)
            action()

        self._at(self._rng.expovariate(per_minute / 60.0), fire)

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # Reactions to any change, whoever made it (the REST API, a control, this engine)

    def _on_change(self, change: Change) -> None:
        if change.resource == "call" and change.entered_status == "hangup":
            journey = self._journeys.get(change.resource_id)
            if journey is not None:
                self._at(0.0, partial(self._settle, journey))
        elif change.resource == "agent" and change.entered_status == "available":
            self._idle_since[change.resource_id] = self._now
            if not self._dispatch_pending:
                self._dispatch_pending = True
                self._at(0.0, self._dispatch)
        elif change.resource == "message" and change.created and change.data.get("direction") == "outbound":
            self._after(_SMS_SENT_SECONDS, partial(self._message_moves, change.resource_id, "sent"))

    # The call's journey

    def _call_status(self, journey: Journey) -> str | None:
        call = self.state.get("call", journey.call_id)
        return call.get("status") if call else None

    def _call_arrives(self, customer: DemoCustomer) -> None:
        queue = self._rng.choice(customer.queues)
        journey = Journey(customer, queue.id, call_id=self._new_id(), activeflow_id=self._new_id())
        self._journeys[journey.call_id] = journey
        self.state.create_call(
            call_id=journey.call_id,
            customer_id=customer.id,
            direction="incoming",
            source=address(self._rng.choice(REMOTE_NUMBERS)),
            destination=address(queue.number),
            status="ringing",
            flow_id=customer.flow_id,
            activeflow_id=journey.activeflow_id,
        )
        self.state.upsert(
            "activeflow",
            activeflow_record(
                activeflow_id=journey.activeflow_id,
                customer_id=customer.id,
                flow_id=customer.flow_id,
                call_id=journey.call_id,
            ),
        )
        self._flow_moves(journey, "answer")  # the flow's first action runs at once; the call rings on
        self._after(_RING_SECONDS, partial(self._flow_answers, journey))

    def _flow_answers(self, journey: Journey) -> None:
        if self._call_status(journey) != "ringing":
            return
        self.state.set_call_status(journey.call_id, "progressing")
        self._flow_moves(journey, "talk")
        self._after(_GREETING_SECONDS, partial(self._joins_queue, journey))

    def _flow_moves(self, journey: Journey, action: str, *, status: str = "running") -> None:
        activeflow = self.state.get("activeflow", journey.activeflow_id)
        if activeflow is None:
            return
        done, executed = activeflow["current_action"], activeflow.get("executed_actions", [])
        if done["id"] != START_ACTION_ID:
            executed = [*executed, done]
        self.state.upsert(
            "activeflow",
            {
                "id": journey.activeflow_id,
                "status": status,
                "current_action": flow_action(journey.customer.flow_id, action),
                "executed_actions": executed or None,  # VoIPBIN leaves an empty list out
            },
        )

    def _joins_queue(self, journey: Journey) -> None:
        if self._call_status(journey) != "progressing":
            return
        self._flow_moves(journey, "queue_join")
        journey.queuecall_id = self._new_id()
        journey.stage = "waiting"
        journey.joined_at = self._now
        self.state.upsert(
            "queuecall",
            queuecall_record(
                queuecall_id=journey.queuecall_id,
                customer_id=journey.customer.id,
                queue_id=journey.queue_id,
                call_id=journey.call_id,
            ),
        )
        self.state.upsert("queuecall", {"id": journey.queuecall_id, "status": "waiting"})
        self._after(_PATIENCE_SECONDS, partial(self._caller_gives_up, journey))
        self._dispatch()

    def _dispatch(self) -> None:
        """Offer each waiting call, oldest first, to the longest-idle available agent of its queue."""
        self._dispatch_pending = False
        for journey in list(self._journeys.values()):
            if journey.stage != "waiting":
                continue
            available = [
                agent
                for agent in self.state.agents_serving(journey.queue_id)
                if agent.get("status") == "available"
            ]
            if available:
                agent = min(available, key=lambda a: (self._idle_since.get(a["id"], 0.0), a["username"]))
                self._offer(journey, agent["id"])

    def _offer(self, journey: Journey, agent_id: str) -> None:
        journey.stage = "connecting"
        journey.agent_id = agent_id
        self.state.upsert(
            "queuecall", {"id": journey.queuecall_id, "status": "connecting", "service_agent_id": agent_id}
        )
        self.state.upsert("agent", {"id": agent_id, "status": "ringing"})
        self._after(_AGENT_RING_SECONDS, partial(self._agent_answers, journey))

    def _agent_answers(self, journey: Journey) -> None:
        if journey.stage != "connecting":
            return
        agent = self.state.get("agent", journey.agent_id)
        if agent is None or agent.get("status") != "ringing":
            # The agent changed status while ringing: back to the queue.
            journey.stage = "waiting"
            journey.agent_id = ""
            self.state.upsert(
                "queuecall", {"id": journey.queuecall_id, "status": "waiting", "service_agent_id": None}
            )
            self._dispatch()
            return
        journey.stage = "service"
        journey.serviced_at = self._now
        self.state.upsert("agent", {"id": journey.agent_id, "status": "busy"})
        stamp = self.state.clock.stamp()
        self.state.upsert(
            "queuecall",
            {
                "id": journey.queuecall_id,
                "status": "service",
                "tm_service": stamp,
                "duration_waiting": _milliseconds(self._now - journey.joined_at),
            },
            stamp=stamp,
        )
        self.state.upsert(
            "call", {"id": journey.call_id, "owner_type": "agent", "owner_id": journey.agent_id}
        )
        self._after(_TALK_SECONDS, partial(self._talk_ends, journey))

    def _talk_ends(self, journey: Journey) -> None:
        if journey.stage == "service" and self._call_status(journey) == "progressing":
            side = self._rng.choice(("local", "remote"))
            self.state.set_call_status(journey.call_id, "hangup", hangup_by=side, hangup_reason="normal")

    def _caller_gives_up(self, journey: Journey) -> None:
        if journey.stage in ("waiting", "connecting") and self._call_status(journey) == "progressing":
            self.state.set_call_status(journey.call_id, "hangup", hangup_by="remote", hangup_reason="cancel")

    def _settle(self, journey: Journey) -> None:
        """After the call hung up, however it did: close the queuecall, free the agent, end the flow."""
        if journey.stage == "ended":
            return
        stage, journey.stage = journey.stage, "ended"
        del self._journeys[journey.call_id]
        if stage in ("waiting", "connecting"):
            self.state.upsert(
                "queuecall",
                {
                    "id": journey.queuecall_id,
                    "status": "abandoned",
                    "duration_waiting": _milliseconds(self._now - journey.joined_at),
                },
            )
            if stage == "connecting":
                self._agent_frees(journey.agent_id, "ringing")
        elif stage == "service":
            self.state.upsert(
                "queuecall",
                {
                    "id": journey.queuecall_id,
                    "status": "done",
                    "duration_service": _milliseconds(self._now - journey.serviced_at),
                },
            )
            self._after(_WRAP_UP_SECONDS, partial(self._agent_frees, journey.agent_id, "busy"))
        self._flow_moves(journey, "hangup", status="ended")

    def _agent_frees(self, agent_id: str, expected_status: str) -> None:
        agent = self.state.get("agent", agent_id)
        if agent is not None and agent.get("status") == expected_status:
            self.state.upsert("agent", {"id": agent_id, "status": "available"})

    # Agents stepping away, SMS

    def _agent_changes(self, customer: DemoCustomer) -> None:
        candidates = [
            agent
            for agent in self.state.all("agent")
            if agent["customer_id"] == customer.id
            and agent.get("tag_ids")
            and agent.get("status") in ("available", "away", "offline")
        ]
        if not candidates:
            return
        agent = self._rng.choice(candidates)
        if agent["status"] == "available":
            status = "away" if self._rng.random() < 0.8 else "offline"
        else:
            status = "available"
        self.state.upsert("agent", {"id": agent["id"], "status": status})

    def _sms_arrives(self, customer: DemoCustomer) -> None:
        self.state.receive_message(
            message_id=self._new_id(),
            customer_id=customer.id,
            source=self._rng.choice(REMOTE_NUMBERS),
            destination=self._rng.choice(customer.sms_numbers),
            text=self._rng.choice(SMS_TEXTS),
        )

    def _message_moves(self, message_id: str, status: str) -> None:
        message = self.state.get("message", message_id)
        if message is None:
            return
        stamp = self.state.clock.stamp()
        self.state.upsert(
            "message", {"id": message_id, "targets": with_target_status(message, status, stamp)}, stamp=stamp
        )
        if status == "sent":
            final = "failed" if self._rng.random() < _SMS_FAILURE_RATE else "delivered"
            self._after(_SMS_DELIVERED_SECONDS, partial(self._message_moves, message_id, final))
