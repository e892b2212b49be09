"""The simulator without its socket: state, hub, scenario and the test controls.

Every control the ``/_sim/`` endpoints offer is a plain method here, so
in-process tests call them directly and HTTP tests call the endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from dashboard.simulator import auth
from dashboard.simulator.accounts import AGENT_IDS, DEMO_CUSTOMER_ID
from dashboard.simulator.config import SimConfig
from dashboard.simulator.frames import Dialect
from dashboard.simulator.hub import Hub
from dashboard.simulator.resources import Record, address, queuecall_record
from dashboard.simulator.scenario import Journey, Scenario
from dashboard.simulator.state import State
from dashboard.voipbin.topics import Principal

logger = logging.getLogger(__name__)

REFUSAL_STATUSES = (401, 403, 429, 503)
SEND_FAILURE_STATUSES = (429, 500, 503)
_CALL_FINAL_STATUSES = ("terminating", "canceling", "hangup")
_REMOTE_NUMBER = "+12025550199"


def _report_failure(task: asyncio.Task[None]) -> None:
    """A crashed scenario driver would otherwise just stop the traffic, silently."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("the scenario engine stopped", exc_info=error)


@dataclass(slots=True)
class SendFailure:
    """The next ``remaining`` sends are answered ``status`` and not sent; ``Retry-After`` if given."""

    status: int
    remaining: int
    retry_after: int | None = None


@dataclass(slots=True)
class SendDelay:
    """The next ``remaining`` sends go out at once, but their answer comes ``seconds`` later."""

    seconds: float
    remaining: int


class Simulator:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.state = State()
        self.hub = Hub(self.state, self.config.dialect)
        self.scenario = Scenario(self.state, seed=self.config.seed, rates=self.config.rates)
        self.sent: list[dict[str, Any]] = []
        """Every body ``POST /v1.0/messages`` accepted, with who sent it."""
        self.send_failure: SendFailure | None = None
        self.send_delay: SendDelay | None = None
        self.sends_refused = 0
        self.sends_delayed = 0
        self._closing = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # Life cycle

    async def close(self) -> None:
        """Stop the scenario driver and pending timers, answer held sends, and say goodbye to every socket."""
        self._closing.set()
        self.set_scenario_running(False)
        tasks = [*self._tasks, *([self._driver] if self._driver else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(
            *(
                connection.ws.close(code=1001, message=b"server shutdown")
                for connection in self.hub.connections
            ),
            return_exceptions=True,
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Operations the REST API shares with the controls

    def issue_token(self, username: str, *, lifetime: float | None = None) -> str:
        """A JWT for a demo user, as ``POST /auth/login`` gives (tests pass a negative lifetime)."""
        agent = self.state.get("agent", AGENT_IDS[username])
        if agent is None:
            raise KeyError(username)
        seconds = self.config.token_lifetime if lifetime is None else lifetime
        return auth.issue_token(agent, secret=self.config.jwt_secret, lifetime=timedelta(seconds=seconds))

    def hang_up(self, call_id: str) -> Record:
        """VoIPBIN's hangup: ``terminating`` now, ``hangup`` a moment later."""
        call = self.state.get("call", call_id)
        if call is None:
            raise KeyError(call_id)
        if call.get("status") in _CALL_FINAL_STATUSES:
            return call
        call = self.state.set_call_status(call_id, "terminating")
        self._spawn(self._finish_hangup(call_id))
        return call

    async def _finish_hangup(self, call_id: str) -> None:
        await asyncio.sleep(self.config.hangup_delay)
        call = self.state.get("call", call_id)
        if call is not None and call.get("status") != "hangup":  # the other leg's end may have come first
            self.state.set_call_status(call_id, "hangup", hangup_by="local", hangup_reason="normal")
            self.scenario.advance(0.0)  # VoIPBIN ends the other leg at once, paused scenario or not

    def record_sent(self, principal: Principal, body: Mapping[str, Any], message: Record) -> None:
        """Log an accepted send, and deliver it to any simulated customer it was addressed to."""
        self.sent.append(
            {
                "message_id": message["id"],
                "customer_id": principal.customer_id,
                "agent_id": principal.agent_id,
                "access_key": principal.access_key,
                "body": body,
            }
        )
        for target in message.get("targets", ()):
            number = target["destination"]["target"]
            customer = self.state.customer_for_number(number)
            if customer is not None:  # both ends on VoIPBIN: the message arrives there, as it would
                self.state.receive_message(
                    customer_id=customer.id,
                    source=message["source"]["target"],
                    destination=number,
                    text=message["text"],
                )

    def take_send_failure(self) -> SendFailure | None:
        """Use up one refused send, if any are set (the REST handler asks before sending)."""
        failure = self.send_failure
        if failure is None:
            return None
        failure.remaining -= 1
        if failure.remaining <= 0:
            self.send_failure = None
        self.sends_refused += 1
        return failure

    async def hold_answer(self) -> None:
        """Hold an accepted send's answer if a delay is set; the simulator closing releases it."""
        delay = self.send_delay
        if delay is None:
            return
        delay.remaining -= 1
        if delay.remaining <= 0:
            self.send_delay = None
        self.sends_delayed += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay.seconds)

    # Test controls

    def inject(self, resource: str, data: Mapping[str, Any], event: str | None = None) -> Record:
        """Create or merge any resource and publish it; ``customer_id`` defaults to Acme."""
        if not resource.isidentifier() or not resource.islower():
            raise ValueError(f"{resource!r} is not a resource name")
        fields = dict(data)
        fields.setdefault("id", str(uuid.uuid4()))
        if self.state.get(resource, fields["id"]) is None:
            fields.setdefault("customer_id", DEMO_CUSTOMER_ID)
        return self.state.upsert(resource, fields, event=event)

    def broadcast_raw(self, frame: str | bytes) -> None:
        """Send this exact frame to every open socket (malformed-frame tests)."""
        self.hub.broadcast(frame)

    def create_call(
        self,
        *,
        customer_id: str = DEMO_CUSTOMER_ID,
        direction: str = "incoming",
        status: str | None = None,
        source: str | None = None,
        destination: str | None = None,
        owner_id: str | None = None,
        queue_id: str | None = None,
        call_id: str | None = None,
    ) -> Record:
        """A call, optionally owned by an agent and waiting in a queue (then a queuecall joins it)."""
        customer = self.state.customer(customer_id)
        if customer is None:
            raise KeyError(customer_id)
        if queue_id is not None and self.state.find("queue", customer_id, queue_id) is None:
            raise KeyError(queue_id)
        ours, theirs = customer.numbers[0], _REMOTE_NUMBER
        incoming = direction == "incoming"
        call = self.state.create_call(
            call_id=call_id,
            customer_id=customer_id,
            direction=direction,
            source=address(source or (theirs if incoming else ours)),
            destination=address(destination or (ours if incoming else theirs)),
            status=status or ("ringing" if incoming else "dialing"),
            flow_id=customer.flow_id,
            owner_agent_id=owner_id,
        )
        if queue_id is not None:
            queuecall = queuecall_record(
                queuecall_id=str(uuid.uuid4()), customer_id=customer_id, queue_id=queue_id, call_id=call["id"]
            )
            self.state.upsert("queuecall", queuecall)
            self.state.upsert("queuecall", {"id": queuecall["id"], "status": "waiting"})
        return call

    def set_call_status(self, call_id: str, status: str, **fields: str) -> Record:
        """Move a call; a hangup is followed at once by what VoIPBIN does (the other leg ends)."""
        call = self.state.set_call_status(call_id, status, **fields)
        if status == "hangup":
            self.scenario.advance(0.0)
        return call

    def start_journey(
        self, *, queue_id: str, customer_id: str = DEMO_CUSTOMER_ID, source: str = _REMOTE_NUMBER
    ) -> dict[str, Any]:
        """A caller ringing the queue's number, walked by :meth:`step_journey` and nothing else."""
        journey = self.scenario.start_journey(customer_id, queue_id, source)
        return self._journey_view(journey)

    def step_journey(
        self, call_id: str, to: str, *, agent_id: str | None = None, side: str = "caller"
    ) -> dict[str, Any]:
        """The scenario's own next transition (``JOURNEY_STEPS``) and the records it left."""
        journey = self.scenario.step(call_id, to, agent_id=agent_id, side=side)
        return self._journey_view(journey)

    def _journey_view(self, journey: Journey) -> dict[str, Any]:
        call = self.state.get("call", journey.call_id) or {}
        legs = call.get("chained_call_ids", ())
        return {
            "call_id": journey.call_id,
            "activeflow_id": journey.activeflow_id,
            "stage": journey.stage,
            "call": call,
            "agent_call": self.state.get("call", legs[-1]) if legs else None,
            "queuecall": self.state.get("queuecall", journey.queuecall_id) if journey.queuecall_id else None,
            "activeflow": self.state.get("activeflow", journey.activeflow_id),
        }

    def delete(self, resource: str, resource_id: str) -> Record:
        return self.state.delete(resource, resource_id)

    def receive_sms(
        self,
        *,
        source: str,
        destination: str | None = None,
        text: str,
        customer_id: str = DEMO_CUSTOMER_ID,
        message_id: str | None = None,
    ) -> Record:
        customer = self.state.customer(customer_id)
        if customer is None:
            raise KeyError(customer_id)
        return self.state.receive_message(
            customer_id=customer_id,
            source=source,
            destination=destination or customer.sms_numbers[0],
            text=text,
            message_id=message_id,
        )

    def clear_sent(self) -> None:
        self.sent.clear()

    def drop_connections(self) -> None:
        self.hub.drop_all()

    def set_refusal(self, status: int | None) -> None:
        if status is not None and status not in REFUSAL_STATUSES:
            raise ValueError(f"refusal status must be one of {REFUSAL_STATUSES} or None")
        self.hub.refusal = status

    def fail_sends(self, status: int, count: int = 1, *, retry_after: int | None = None) -> None:
        """Refuse the next ``count`` ``POST /v1.0/messages`` with ``status``, sending nothing.

        429 and 503 say "not now" (``Retry-After`` in seconds, if given); 500 is a server error.
        A count of 0 lifts what is left.
        """
        if status not in SEND_FAILURE_STATUSES:
            raise ValueError(f"send failure status must be one of {SEND_FAILURE_STATUSES}")
        if count < 0 or (retry_after is not None and retry_after < 0):
            raise ValueError("count and retry_after cannot be negative")
        self.send_failure = SendFailure(status, count, retry_after) if count else None

    def delay_sends(self, seconds: float, count: int = 1) -> None:
        """Send the next ``count`` messages at once but answer only after ``seconds``.

        That is how a client times out on an SMS that did go out. A count of 0 lifts what is left.
        """
        if seconds < 0 or count < 0:
            raise ValueError("seconds and count cannot be negative")
        self.send_delay = SendDelay(seconds, count) if count else None

    def set_accept_then_close(self, enabled: bool) -> None:
        self.hub.accept_then_close = enabled

    def set_stalled(self, enabled: bool) -> None:
        if enabled:
            self.hub.flow.running.clear()
        else:
            self.hub.flow.running.set()

    def set_slow(self, delay: float) -> None:
        if delay < 0:
            raise ValueError("delay cannot be negative")
        self.hub.flow.delay = delay

    def set_dialect(self, dialect: Dialect | str) -> None:
        self.hub.dialect = Dialect(dialect)

    def set_insufficient_balance(self, customer_id: str, insufficient: bool) -> None:
        if insufficient:
            self.state.insufficient_balance.add(customer_id)
        else:
            self.state.insufficient_balance.discard(customer_id)

    @property
    def scenario_running(self) -> bool:
        return self._driver is not None and not self._driver.done()

    def set_scenario_running(self, running: bool) -> None:
        if running and not self.scenario_running:
            self._driver = asyncio.create_task(self.scenario.run_realtime(self.config.speed))
            self._driver.add_done_callback(_report_failure)
        elif not running and self._driver is not None:
            self._driver.cancel()
            self._driver = None

    def advance(self, seconds: float) -> None:
        self.scenario.advance(seconds)

    def stats(self) -> dict[str, Any]:
        return {
            **self.hub.stats(),
            "sends_accepted": len(self.sent),
            "sends_refused": self.sends_refused,
            "sends_delayed": self.sends_delayed,
        }

    def controls(self) -> dict[str, Any]:
        """The switches as they stand (what each control endpoint answers)."""
        return {
            "dialect": str(self.hub.dialect),
            "refusal": self.hub.refusal,
            "accept_then_close": self.hub.accept_then_close,
            "stalled": self.hub.flow.stalled,
            "slow": self.hub.flow.delay,
            "scenario_running": self.scenario_running,
            "insufficient_balance": sorted(self.state.insufficient_balance),
            "fail_sends": asdict(self.send_failure) if self.send_failure else None,
            "delay_sends": asdict(self.send_delay) if self.send_delay else None,
            "virtual_time": self.scenario.now,
        }

    def reset(self) -> None:
        """Back to the seeded start: resources, scenario, switches, counters, sent log."""
        self.state.reset()
        self.scenario.reset()
        self.hub.reset(self.config.dialect)
        self.sent.clear()
        self.send_failure = self.send_delay = None
        self.sends_refused = self.sends_delayed = 0
        self.set_scenario_running(self.config.scenario)


SIMULATOR = web.AppKey("simulator", Simulator)


def simulator_of(request: web.Request) -> Simulator:
    return request.app[SIMULATOR]
