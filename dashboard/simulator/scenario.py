"""A seeded contact center, simulated in virtual time.

A discrete-event simulation: actions wait in a priority queue keyed by virtual
time, and every random draw (ids included) comes from one ``random.Random(seed)``,
so the same seed and the same :meth:`Scenario.advance` calls give the same
event sequence. Tests call ``advance`` directly; the demo runs
:meth:`Scenario.run_realtime`, which maps it onto the wall clock times the speed.
The story (calls, agent legs, breaks, busy spells) is told in ``docs/SIMULATOR.md``.
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

from dashboard.simulator.accounts import CUSTOMERS, DemoCustomer, DemoQueue
from dashboard.simulator.events import Change
from dashboard.simulator.resources import (
    START_ACTION_ID,
    activeflow_record,
    address,
    agent_address,
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
JOURNEY_STEPS = ("flow", "queue", "offer", "answer", "hangup", "abandon")
"""What a test can make a stepped journey do next (:meth:`Scenario.step`)."""
SIDES = ("caller", "agent")

_RING_SECONDS = (1.0, 4.0)
_GREETING_SECONDS = (3.0, 7.0)
_PATIENCE_SECONDS = (15.0, 150.0)
_AGENT_RING_SECONDS = (2.0, 6.0)
_TALK_SECONDS = (20.0, 150.0)
_WRAP_UP_SECONDS = (2.0, 15.0)
_BREAK_SECONDS = {"away": (120.0, 480.0), "offline": (300.0, 900.0)}
_OFFLINE_SHARE = 0.2
_CALM_SECONDS = (900.0, 1500.0)
_BUSY_SPELL_SECONDS = (120.0, 180.0)
_SMS_SENT_SECONDS = (0.5, 2.0)
_SMS_DELIVERED_SECONDS = (1.0, 5.0)
_SMS_FAILURE_RATE = 0.05


@dataclass(frozen=True, slots=True)
class Rates:
    calls_per_minute: float = 1.8
    """Acme's mean inbound call rate between busy spells; Globex has its ``traffic_share`` of it."""
    sms_per_minute: float = 1.5
    breaks_per_hour: float = 1.0
    """Breaks each serving agent takes in an hour, on average."""
    peak_factor: float = 5.5
    """How many times the call rate a busy spell brings (1: no busy spells)."""


@dataclass(slots=True)
class Journey:
    """One inbound call on its way through the flow, a queue and an agent."""

    customer: DemoCustomer
    queue_id: str
    call_id: str
    activeflow_id: str
    stepped: bool = False
    """Walked by a test (:meth:`Scenario.step`): no timers, never dispatched by the engine."""
    queuecall_id: str = ""
    agent_id: str = ""
    leg_id: str = ""
    """The agent leg being dialed or talking: VoIPBIN's second, outgoing call."""
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
    _legs: dict[str, Journey]
    """Journeys by the id of their agent leg, until the leg's hangup is handled."""
    _stepped: dict[str, Journey]
    """Stepped journeys by call id, kept once ended so a test can read how they ended."""
    _idle_since: dict[str, float]
    _dispatch_pending: bool
    _busy_queue_id: str | None

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
        self._legs = {}
        self._stepped = {}
        self._idle_since = {}
        self._dispatch_pending = False
        self._busy_queue_id = None
        rates = self.rates
        for customer in CUSTOMERS:
            share = customer.traffic_share
            calls = partial(self._call_may_arrive, customer)
            self._recurring(rates.calls_per_minute * share * rates.peak_factor, calls)
            self._recurring(rates.sms_per_minute * share, partial(self._sms_arrives, customer))
            serving = [agent for agent in customer.agents if agent.tag_ids]
            self._recurring(rates.breaks_per_hour * len(serving) / 60, partial(self._break_starts, customer))
            if rates.breaks_per_hour > 0:
                for agent in serving:
                    if agent.status in _BREAK_SECONDS:  # on a break already
                        self._after(
                            _BREAK_SECONDS[agent.status], partial(self._agent_frees, agent.id, agent.status)
                        )
        if rates.calls_per_minute > 0 and rates.peak_factor > 1:
            self._after(_CALM_SECONDS, self._busy_spell_starts)

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

    def _then(self, journey: Journey, bounds: tuple[float, float], action: Callable[[Journey], None]) -> None:
        """Schedule the journey's next move, unless a test walks it step by step."""
        if not journey.stepped:
            self._after(bounds, partial(action, journey))

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

    def _id_for(self, journey: Journey) -> str:
        """Stepped journeys take no draws, so walking one leaves the seeded story as it was."""
        return str(uuid.uuid4()) if journey.stepped else self._new_id()

    # Reactions to any change, whoever made it (the REST API, a control, this engine)

    def _on_change(self, change: Change) -> None:
        if change.resource == "call" and change.entered_status == "hangup":
            if (journey := self._journeys.get(change.resource_id)) is not None:
                self._at(0.0, partial(self._settle, journey))
            elif (journey := self._legs.get(change.resource_id)) is not None:
                self._at(0.0, partial(self._leg_ends, journey, change.resource_id))
        elif change.resource == "agent" and change.entered_status == "available":
            self._idle_since[change.resource_id] = self._now
            if not self._dispatch_pending:
                self._dispatch_pending = True
                self._at(0.0, self._dispatch)
        elif change.resource == "message" and change.created and change.data.get("direction") == "outbound":
            self._after(_SMS_SENT_SECONDS, partial(self._message_moves, change.resource_id, "sent"))

    # Load: busy spells

    def _busy_spell_starts(self) -> None:
        """One queue gets busier for a while (a campaign for Sales, an outage for Support)."""
        queues = [queue.id for customer in CUSTOMERS for queue in customer.queues]
        shares = [customer.traffic_share for customer in CUSTOMERS for _ in customer.queues]
        self._busy_queue_id = self._rng.choices(queues, weights=shares)[0]
        self._after(_BUSY_SPELL_SECONDS, self._busy_spell_ends)

    def _busy_spell_ends(self) -> None:
        self._busy_queue_id = None
        self._after(_CALM_SECONDS, self._busy_spell_starts)

    def load(self, queue_id: str) -> float:
        """The queue's call rate multiplier now: the peak factor during its busy spell, else 1."""
        return self.rates.peak_factor if queue_id == self._busy_queue_id else 1.0

    def _call_may_arrive(self, customer: DemoCustomer) -> None:
        """Candidates come at the busiest rate and are thinned to their queue's current one: a
        Poisson process whose rate follows the load."""
        queue = self._rng.choice(customer.queues)
        if self._rng.random() * self.rates.peak_factor < self.load(queue.id):
            self._call_arrives(customer, queue)

    # The call's journey

    def _call_status(self, call_id: str) -> str | None:
        call = self.state.get("call", call_id)
        return call.get("status") if call else None

    def _call_arrives(self, customer: DemoCustomer, queue: DemoQueue | None = None) -> None:
        """A caller rings one of the customer's queues (a random one unless given)."""
        queue = queue or self._rng.choice(customer.queues)
        journey = Journey(customer, queue.id, call_id=self._new_id(), activeflow_id=self._new_id())
        self._begin(journey, source=self._rng.choice(REMOTE_NUMBERS), destination=queue.number)
        self._then(journey, _RING_SECONDS, self._flow_answers)

    def start_journey(self, customer_id: str, queue_id: str, source: str) -> Journey:
        """A call that a test walks step by step (:meth:`step`). KeyError for an unknown
        customer, or a queue not the customer's."""
        customer = self.state.customer(customer_id)
        queue = next((q for q in customer.queues if q.id == queue_id), None) if customer else None
        if customer is None or queue is None:
            raise KeyError(queue_id)
        journey = Journey(
            customer, queue_id, call_id=str(uuid.uuid4()), activeflow_id=str(uuid.uuid4()), stepped=True
        )
        self._stepped[journey.call_id] = journey
        self._begin(journey, source=source, destination=queue.number)
        return journey

    def stepped_journey(self, call_id: str) -> Journey:
        """A journey :meth:`start_journey` began, ended or not (KeyError if there is none)."""
        return self._stepped[call_id]

    def step(self, call_id: str, to: str, *, agent_id: str | None = None, side: str = "caller") -> Journey:
        """Run the engine's own next transition of a stepped journey, then the reactions to it.

        KeyError for an unknown journey or agent; ValueError for a step the journey cannot take now.
        """
        journey = self._stepped[call_id]
        if to not in JOURNEY_STEPS:
            raise ValueError(f"'to' must be one of {', '.join(JOURNEY_STEPS)}")
        if side not in SIDES:
            raise ValueError("'side' must be caller or agent")
        status = self._call_status(call_id)
        possible = {
            "flow": journey.stage == "flow" and status == "ringing",
            "queue": journey.stage == "flow" and status == "progressing",
            "offer": journey.stage == "waiting",
            "answer": journey.stage == "connecting",
            "hangup": journey.stage == "service",
            "abandon": journey.stage in ("waiting", "connecting"),
        }
        if not possible[to]:
            raise ValueError(f"a journey at {journey.stage} (call {status}) cannot take the step {to!r}")
        if to == "flow":
            self._flow_answers(journey)
        elif to == "queue":
            self._joins_queue(journey)
        elif to == "offer":
            self._offer(journey, self._offerable_agent(journey, agent_id))
        elif to == "answer":
            self._agent_answers(journey)
        elif to == "hangup":
            self._hangs_up(journey, side)
        else:
            self._caller_gives_up(journey)
        self.advance(0.0)  # the reactions: the other leg, the queuecall, the flow
        return journey

    def _offerable_agent(self, journey: Journey, agent_id: str | None) -> str:
        if agent_id is None:
            raise ValueError("'agent_id' is missing")
        agent = self.state.find("agent", journey.customer.id, agent_id)
        if agent is None:
            raise KeyError(agent_id)
        if agent not in self.state.agents_serving(journey.queue_id):
            raise ValueError("the agent does not serve this queue")
        if agent.get("status") != "available":
            raise ValueError("VoIPBIN offers a caller only to an available agent")
        return agent_id

    def _begin(self, journey: Journey, *, source: str, destination: str) -> None:
        """The call rings; its flow starts, and its first action runs at once."""
        self._journeys[journey.call_id] = journey
        customer = journey.customer
        self.state.create_call(
            call_id=journey.call_id,
            customer_id=customer.id,
            direction="incoming",
            source=address(source),
            destination=address(destination),
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
        self._flow_moves(journey, "answer")

    def _flow_answers(self, journey: Journey) -> None:
        if self._call_status(journey.call_id) != "ringing":
            return
        self.state.set_call_status(journey.call_id, "progressing")
        self._flow_moves(journey, "talk")
        self._then(journey, _GREETING_SECONDS, self._joins_queue)

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
        """``queue_join``: the queuecall waits, and the flow plays the queue's hold music."""
        if journey.stage != "flow" or self._call_status(journey.call_id) != "progressing":
            return
        self._flow_moves(journey, "queue_join")
        journey.queuecall_id = self._id_for(journey)
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
        self._flow_moves(journey, "play")
        self._then(journey, _PATIENCE_SECONDS, self._caller_gives_up)
        if not journey.stepped:
            self._dispatch()

    def _dispatch(self) -> None:
        """Offer each waiting call, oldest first, to the longest-idle available agent of its queue."""
        self._dispatch_pending = False
        for journey in list(self._journeys.values()):
            if journey.stage != "waiting" or journey.stepped:
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
        """Dial the agent on a second call chained to the caller's, and move the caller's flow to
        the bridge the agent is dialed into."""
        agent = self.state.get("agent", agent_id)
        call = self.state.get("call", journey.call_id)
        if agent is None or call is None:
            return
        journey.stage = "connecting"
        journey.agent_id = agent_id
        journey.leg_id = self._id_for(journey)
        self._legs[journey.leg_id] = journey
        self.state.create_call(
            call_id=journey.leg_id,
            customer_id=journey.customer.id,
            direction="outgoing",
            source=call["source"],
            destination=agent_address(agent),
            status="dialing",
            owner_agent_id=agent_id,
            master_call_id=journey.call_id,
            groupcall_id=self._id_for(journey),
        )
        chained = [*call.get("chained_call_ids", ()), journey.leg_id]
        self.state.upsert("call", {"id": journey.call_id, "chained_call_ids": chained})
        if agent.get("status") == "available":  # VoIPBIN rings an agent only if available
            self.state.upsert("agent", {"id": agent_id, "status": "ringing"})
        self.state.upsert(
            "queuecall", {"id": journey.queuecall_id, "status": "connecting", "service_agent_id": agent_id}
        )
        self._flow_moves(journey, "confbridge_join")
        self.state.set_call_status(journey.leg_id, "ringing")
        self._then(journey, _AGENT_RING_SECONDS, self._agent_answers)

    def _agent_answers(self, journey: Journey) -> None:
        """The agent picks up, unless they are no longer ringing: then the leg rings out."""
        if journey.stage != "connecting" or self._call_status(journey.leg_id) not in ("dialing", "ringing"):
            return
        agent = self.state.get("agent", journey.agent_id)
        if agent is None or agent.get("status") != "ringing":
            leg_id = journey.leg_id
            self._back_to_queue(journey)
            self.state.set_call_status(leg_id, "hangup", hangup_by="remote", hangup_reason="noanswer")
            return
        journey.stage = "service"
        journey.serviced_at = self._now
        self.state.set_call_status(journey.leg_id, "progressing")
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
        self._then(journey, _TALK_SECONDS, self._talk_ends)

    def _back_to_queue(self, journey: Journey) -> None:
        """The agent leg ended unanswered: the caller waits again, to the hold music."""
        agent_id = journey.agent_id
        self._legs.pop(journey.leg_id, None)
        journey.stage = "waiting"
        journey.agent_id = journey.leg_id = ""
        self.state.upsert(
            "queuecall", {"id": journey.queuecall_id, "status": "waiting", "service_agent_id": None}
        )
        self._flow_moves(journey, "play")
        self._agent_frees(agent_id, "ringing")
        if not journey.stepped:
            self._dispatch()

    def _talk_ends(self, journey: Journey) -> None:
        if journey.stage == "service":
            self._hangs_up(journey, self._rng.choice(SIDES))

    def _hangs_up(self, journey: Journey, side: str) -> None:
        """One side of the conversation hangs up; VoIPBIN ends the other leg (see the reactions)."""
        self._hang_up(journey.call_id if side == "caller" else journey.leg_id, by="remote")

    def _caller_gives_up(self, journey: Journey) -> None:
        if journey.stage in ("waiting", "connecting") and self._call_status(journey.call_id) == "progressing":
            self._hang_up(journey.call_id, by="remote", reason="cancel")

    def _hang_up(self, call_id: str, *, by: str = "local", reason: str = "normal") -> None:
        if self._call_status(call_id) not in (None, "hangup"):
            self.state.set_call_status(call_id, "hangup", hangup_by=by, hangup_reason=reason)

    def _leg_ends(self, journey: Journey, leg_id: str) -> None:
        """The agent leg hung up, whoever ended it: a talking caller's call ends with it (the bridge
        is gone); a leg that ended before the agent answered sends the caller back to waiting."""
        self._legs.pop(leg_id, None)
        if journey.leg_id != leg_id:
            return
        if journey.stage == "service":
            self._hang_up(journey.call_id)
        elif journey.stage == "connecting":
            self._back_to_queue(journey)

    def _settle(self, journey: Journey) -> None:
        """After the caller's call hung up, however it did: end the agent leg, close the queuecall,
        end the flow."""
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
                self._hang_up(journey.leg_id, reason="cancel")
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
            self._hang_up(journey.leg_id)
            if not journey.stepped:  # the simulated person is ready again after wrap-up
                self._after(_WRAP_UP_SECONDS, partial(self._agent_frees, journey.agent_id, "busy"))
        self._flow_moves(journey, "hangup", status="ended")

    def _agent_frees(self, agent_id: str, expected_status: str) -> None:
        """The agent makes themselves available, if still as they were (VoIPBIN never does)."""
        agent = self.state.get("agent", agent_id)
        if agent is not None and agent.get("status") == expected_status:
            self.state.upsert("agent", {"id": agent_id, "status": "available"})

    # Breaks, SMS

    def _break_starts(self, customer: DemoCustomer) -> None:
        """An available agent steps away (mostly) or signs off, and comes back some minutes later."""
        available = [
            agent
            for agent in self.state.all("agent")
            if agent["customer_id"] == customer.id
            and agent.get("tag_ids")
            and agent.get("status") == "available"
        ]
        if not available:
            return
        agent = self._rng.choice(available)
        status = "offline" if self._rng.random() < _OFFLINE_SHARE else "away"
        self.state.upsert("agent", {"id": agent["id"], "status": status})
        self._after(_BREAK_SECONDS[status], partial(self._agent_frees, agent["id"], status))

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
