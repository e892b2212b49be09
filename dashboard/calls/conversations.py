"""A caller's contact as people see it: one conversation per caller, whatever the number of legs.

VoIPBIN keeps a contact as several resources (VOIPBIN.md §5): the customer's call, answered by its
flow (``progressing`` is the IVR picking up, not a person); its activeflow; its queuecall while it
waits in a queue; and the agent legs, second calls VoIPBIN dials to an agent (``owner_id`` the
agent, ``master_call_id`` the customer's call) and bridges to it. A conversation joins them and
says where the caller is (its ``phase``), with the clock people mean in that phase: time in the
flow, wait from joining the queue, talk from the agent leg's answer.

Older dialects (the tutorial's) have no agent leg: the customer's call itself gets the agent as
owner when the queue serves it. The same code reads both: without a leg, the agent is the
queuecall's ``service_agent_id`` or the call's owner, and the talk starts at ``tm_service``.

Everything here reads rows that are already stored; ``gather`` loads what a set of customer calls
needs in a few queries, whatever their number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone

from dashboard.flows.labels import Action, describe
from dashboard.flows.pages import current_actions
from dashboard.models import SETTLED, Activeflow, Agent, Call, Queue, Queuecall, User
from dashboard.voipbin.topics import format_topic

WRAP_UP_LIMIT = timedelta(minutes=15)
"""An agent still busy this long after a conversation is no longer wrapping it up (they forgot)."""
QUEUED = ("initiating", "waiting", "connecting", "kicking")
"""Queuecall statuses of a caller still in the queue (``connecting``: an agent's phone rings)."""


class Phase(enum.StrEnum):
    RINGING = "ringing"  # the customer's call rings; no flow picked up yet
    FLOW = "flow"  # the flow answered and runs (greeting, menu, …)
    WAITING = "waiting"  # waiting in a queue
    CONNECTING = "connecting"  # an agent's phone rings for this caller
    TALKING = "talking"  # with an agent
    WRAP_UP = "wrap_up"  # the caller is gone; the agent who talked is still busy with it
    ENDED = "ended"


class Outcome(enum.StrEnum):
    COMPLETED = "completed"  # talked with an agent
    ABANDONED = "abandoned"  # left while waiting in a queue or while an agent's phone rang
    FLOW = "flow"  # ended in the flow without joining a queue
    MISSED = "missed"  # never answered
    UNKNOWN = "unknown"  # ended while the dashboard was disconnected: we do not know how


PHASE_LABELS = {
    Phase.RINGING: "Ringing",
    Phase.FLOW: "In the flow",
    Phase.WAITING: "Waiting",
    Phase.CONNECTING: "Ringing agent",
    Phase.TALKING: "Talking",
    Phase.WRAP_UP: "Wrap-up",
    Phase.ENDED: "Ended",
}
PHASE_ICONS = {
    Phase.RINGING: "◔",
    Phase.FLOW: "▸",
    Phase.WAITING: "◷",
    Phase.CONNECTING: "☏",
    Phase.TALKING: "●",
    Phase.WRAP_UP: "✎",
    Phase.ENDED: "○",
}
OUTCOME_LABELS = {
    Outcome.COMPLETED: "Completed",
    Outcome.ABANDONED: "Abandoned in queue",
    Outcome.FLOW: "Ended in the flow",
    Outcome.MISSED: "Missed",
    Outcome.UNKNOWN: "Ended while disconnected",
}
PHASE_CHOICES = [(phase.value, PHASE_LABELS[phase]) for phase in Phase if phase is not Phase.ENDED]


def _active(call: Call | None) -> bool:
    return call is not None and call.is_active


@dataclass
class Conversation:
    """The customer's call (``call``) and what joined it; built by ``gather``."""

    call: Call
    legs: list[Call] = field(default_factory=list)  # agent legs, oldest first
    queuecall: Queuecall | None = None
    activeflow: Activeflow | None = None
    queue_name: str = ""
    names: dict[str, str] = field(default_factory=dict)  # agent id → name
    busy_agents: dict[str, datetime] = field(default_factory=dict)  # busy, on no call → last hangup

    @property
    def pk(self) -> str:
        return self.call.pk

    @property
    def customer_id(self) -> str:
        return self.call.customer_id

    @property
    def direction(self) -> str:
        return self.call.direction

    @property
    def direct(self) -> bool:
        """The call is an agent's own leg, with no queue between: an agent's outgoing call, or a call
        put straight through to them. Its answer is the agent's."""
        return bool(self.call.owner_agent_id) and not self.legs and self.queuecall is None

    @property
    def leg(self) -> Call | None:
        """The agent leg that matters: one talking, else one ringing, else the last that answered."""
        for wanted in ("progressing", None):
            for leg in reversed(self.legs):
                if leg.is_active and (wanted is None or leg.status == wanted):
                    return leg
        answered = [leg for leg in self.legs if leg.tm_answer]
        return answered[-1] if answered else (self.legs[-1] if self.legs else None)

    @property
    def agent_id(self) -> str:
        leg = self.leg
        if leg is not None and leg.owner_agent_id:
            return leg.owner_agent_id
        if self.queuecall is not None and self.queuecall.service_agent_id:
            return self.queuecall.service_agent_id
        return self.call.owner_agent_id

    @property
    def agent_name(self) -> str:
        return self.names.get(self.agent_id, "") if self.agent_id else ""

    @property
    def agent_ids(self) -> set[str]:
        """Every agent on it: whoever owns a leg, the agent the queue chose, the call's owner."""
        ids = {leg.owner_agent_id for leg in self.legs} | {self.call.owner_agent_id}
        if self.queuecall is not None:
            ids.add(self.queuecall.service_agent_id)
        return ids - {""}

    @property
    def is_active(self) -> bool:
        return self.call.is_active or any(leg.is_active for leg in self.legs)

    @property
    def answered_at(self) -> datetime | None:
        """When a person started talking: the agent leg's answer (or the queue's service)."""
        if self.direct:
            return self.call.tm_answer
        leg = self.leg
        if leg is not None and leg.tm_answer:
            return leg.tm_answer
        if self.queuecall is not None and self.queuecall.tm_service and not self.legs:
            return self.queuecall.tm_service
        return None

    @property
    def talk_ended_at(self) -> datetime | None:
        leg = self.leg
        if leg is not None and leg.tm_answer:
            return leg.tm_hangup
        return self.call.tm_hangup if self.answered_at else None

    @property
    def joined_at(self) -> datetime | None:
        return self.queuecall.tm_create if self.queuecall is not None else None

    @property
    def wait(self) -> timedelta | None:
        """From joining the queue to an agent's answer, or to leaving it."""
        if self.joined_at is None:
            return None
        end = self.answered_at or (self.queuecall.tm_end if self.queuecall else None) or self.call.tm_hangup
        return max(end - self.joined_at, timedelta(0)) if end else None

    @property
    def talk(self) -> timedelta | None:
        start, end = self.answered_at, self.talk_ended_at
        return max(end - start, timedelta(0)) if start and end else None

    @property
    def outcome(self) -> Outcome | None:
        """How it ended; None while it goes on."""
        if self.is_active:
            return None
        if self.answered_at is not None:
            return Outcome.COMPLETED
        if self.call.data.get(SETTLED) and self.queuecall is None:
            return Outcome.UNKNOWN
        if self.queuecall is not None:
            return Outcome.ABANDONED
        if self.call.tm_answer is not None and not self.direct:
            return Outcome.FLOW
        return Outcome.MISSED

    @property
    def wrapping_up(self) -> bool:
        """Ended with an agent who is still busy, with no call since: the agent's after-call work."""
        ended, last = self.talk_ended_at, self.busy_agents.get(self.agent_id)
        return (
            self.outcome is Outcome.COMPLETED
            and ended is not None
            and last is not None
            and ended >= last
            and timezone.now() - ended <= WRAP_UP_LIMIT
        )

    @property
    def phase(self) -> Phase:
        if not self.is_active:
            return Phase.WRAP_UP if self.wrapping_up else Phase.ENDED
        if self.direct:
            return Phase.TALKING if self.call.status == "progressing" else Phase.CONNECTING
        leg = self.leg
        if leg is not None and leg.is_active:
            return Phase.TALKING if leg.status == "progressing" else Phase.CONNECTING
        queuecall = self.queuecall
        if queuecall is not None and queuecall.tm_end is None:
            if queuecall.status == "service":
                return Phase.TALKING
            if queuecall.status in QUEUED:
                return Phase.CONNECTING if queuecall.status == "connecting" else Phase.WAITING
        if self.call.status in ("dialing", "ringing") and not self.call.tm_answer:
            return Phase.RINGING
        return Phase.FLOW

    @property
    def since(self) -> datetime | None:
        """When the phase's clock started: what the page counts from."""
        phase = self.phase
        if phase is Phase.RINGING:
            return self.call.tm_create
        if phase is Phase.FLOW:
            return self.call.tm_answer or self.call.tm_create
        if phase in (Phase.WAITING, Phase.CONNECTING):
            return self.joined_at or (self.leg.tm_create if self.leg else None) or self.call.tm_create
        if phase is Phase.TALKING:
            return self.answered_at
        if phase is Phase.WRAP_UP:
            return self.talk_ended_at
        return None

    @property
    def ringing_since(self) -> datetime | None:
        """While an agent's phone rings: since when (the leg's creation)."""
        leg = self.leg
        return leg.tm_create if self.phase is Phase.CONNECTING and leg is not None else None

    @property
    def flow_action(self) -> Action | None:
        """The flow's current action in words, while the flow runs."""
        flow = self.activeflow
        if flow is None or flow.status in Activeflow.ENDED:
            return None
        return describe(flow.current_action_type)

    @property
    def label(self) -> str:
        """The phase in words, with the queue and the agent: "Waiting in Sales", "Talking with Sam"."""
        phase, agent = self.phase, self.agent_name or "an agent"
        if phase is Phase.FLOW and self.flow_action is not None:
            return self.flow_action.label
        if phase is Phase.WAITING:
            return f"Waiting in {self.queue_name}" if self.queue_name else "Waiting in a queue"
        if phase is Phase.CONNECTING:
            return "Dialing" if self.direct and self.direction == "outgoing" else f"Ringing {agent}"
        if phase is Phase.TALKING:
            return f"Talking with {agent}"
        if phase is Phase.WRAP_UP:
            return f"{agent} wrapping up"
        if phase is Phase.ENDED:
            return OUTCOME_LABELS[self.outcome or Outcome.UNKNOWN]
        return PHASE_LABELS[phase]

    @property
    def icon(self) -> str:
        return PHASE_ICONS[self.phase]

    @property
    def calls(self) -> list[Call]:
        """Its legs for the page: the customer's call first."""
        return [self.call, *self.legs]

    @property
    def caller(self) -> str:
        """The other party, as the agent knows them: who called, or whom the agent called."""
        call = self.call
        if self.direct and self.direction == "outgoing":
            return call.destination_name or call.destination or "unknown"
        return call.source_name or call.source or "unknown"

    @property
    def leg_labels(self) -> list[tuple[Call, str]]:
        """Each leg with what it is: the caller's call, or an agent leg and whose."""
        labels = [(self.call, "Caller's call")]
        for leg in self.legs:
            who = self.names.get(leg.owner_agent_id, "") or leg.destination_name or leg.destination
            labels.append((leg, f"Agent leg to {who}" if who else "Agent leg"))
        return labels

    def topics(self) -> list[str]:
        """Where its row goes: the customer's supervisors, and every agent on it."""
        return [
            format_topic("customer_id", self.customer_id, "call", self.pk),
            *(format_topic("agent_id", agent_id, "call", self.pk) for agent_id in sorted(self.agent_ids)),
        ]


def agent_names(customer_id: str, agent_ids: Iterable[str]) -> dict[str, str]:
    """Agents' names as VoIPBIN lists them (every agent of the account, signed in here or not);
    for an agent VoIPBIN has not listed to us yet, the name they signed in here with."""
    wanted = set(agent_ids) - {""}
    if not wanted:
        return {}
    names = {
        pk: name or username
        for pk, name, username in Agent.objects.filter(customer_id=customer_id, pk__in=wanted).values_list(
            "pk", "name", "username"
        )
        if name or username
    }
    missing = wanted - set(names)
    if missing:
        for user in User.objects.filter(customer_id=customer_id, agent_id__in=missing):
            names[user.agent_id] = user.get_full_name() or user.username
    return names


def gather(calls: Sequence[Call]) -> list[Conversation]:
    """The conversations of these customer calls (or legs whose customer call we do not know), in
    their order, with legs, queue stay, flow and names: five queries whatever the number."""
    if not calls:
        return []
    ids = [call.pk for call in calls]
    customer_ids = {call.customer_id for call in calls}
    legs: dict[str, list[Call]] = {}
    for leg in Call.objects.filter(customer_id__in=customer_ids, master_call_id__in=ids).order_by(
        "tm_create", "pk"
    ):
        legs.setdefault(leg.master_call_id, []).append(leg)
    queuecalls = {
        qc.reference_id: qc
        for qc in Queuecall.objects.filter(customer_id__in=customer_ids, reference_id__in=ids).order_by(
            "tm_create", "pk"
        )
    }  # the newest stay in a queue wins
    flows = current_actions(calls)
    queue_ids = {qc.queue_id for qc in queuecalls.values()} - {""}
    queue_names = dict(Queue.objects.filter(pk__in=queue_ids).values_list("pk", "name")) if queue_ids else {}
    conversations = [
        Conversation(
            call=call,
            legs=legs.get(call.pk, []),
            queuecall=queuecalls.get(call.pk),
            activeflow=flows.get(call.pk),
        )
        for call in calls
    ]
    for conversation in conversations:
        if conversation.queuecall is not None:
            conversation.queue_name = queue_names.get(conversation.queuecall.queue_id, "")
    by_customer: dict[str, set[str]] = {}
    for conversation in conversations:
        by_customer.setdefault(conversation.customer_id, set()).update(conversation.agent_ids)
    names: dict[str, str] = {}
    for customer_id, agent_ids in by_customer.items():
        names.update(agent_names(customer_id, agent_ids))
    busy = agents_wrapping_up(
        {agent_id for c in conversations if not c.is_active for agent_id in c.agent_ids}
    )
    for conversation in conversations:
        conversation.names = names
        conversation.busy_agents = busy
    return conversations


def agents_wrapping_up(agent_ids: set[str]) -> dict[str, datetime]:
    """Agents busy with no active call of their own, and when their last call ended: the conversation
    that ended then is the one they are wrapping up (for at most ``WRAP_UP_LIMIT``)."""
    if not agent_ids:
        return {}
    busy = list(Agent.objects.filter(pk__in=agent_ids, status="busy").values_list("pk", flat=True))
    if not busy:
        return {}
    theirs = Call.objects.filter(owner_agent_id__in=busy)
    on_a_call = set(theirs.exclude(status__in=Call.ENDED).values_list("owner_agent_id", flat=True))
    last = theirs.filter(status__in=Call.ENDED, tm_hangup__isnull=False).values("owner_agent_id")
    cutoff = timezone.now() - WRAP_UP_LIMIT
    return {
        row["owner_agent_id"]: row["last"]
        for row in last.annotate(last=Max("tm_hangup"))
        if row["owner_agent_id"] not in on_a_call and row["last"] >= cutoff
    }


def conversation_of(call_id: str, *, known: Call | None = None) -> Conversation | None:
    """The conversation the call (customer's call or agent leg) belongs to; ``known``: that call's
    row as just stored, saving a query for the change that stored it."""
    call = known if known is not None and known.pk == call_id else Call.objects.filter(pk=call_id).first()
    if call is None:
        return None
    if call.master_call_id:
        call = Call.objects.filter(pk=call.master_call_id).first() or call
    (conversation,) = gather([call])
    return conversation


def wrapped_up(agent: Agent) -> Conversation | None:
    """The conversation an agent was wrapping up, when their status moves on from busy: its row moves
    from the active list to the ended one."""
    if agent.status == "busy":
        return None
    last = (
        Call.objects.filter(customer_id=agent.customer_id, owner_agent_id=agent.pk, status__in=Call.ENDED)
        .order_by("-tm_hangup")
        .first()
    )
    if last is None or last.tm_hangup is None or timezone.now() - last.tm_hangup > WRAP_UP_LIMIT:
        return None
    return conversation_of(last.pk)


def queued_in(queue: Queue) -> list[Conversation]:
    """The conversations of the callers a queue lists as waiting or in service."""
    listed = list(queue.wait_queuecall_ids or ()) + list(queue.service_queuecall_ids or ())
    if not listed:
        return []
    call_ids = Queuecall.objects.filter(customer_id=queue.customer_id, pk__in=listed).values("reference_id")
    return gather(
        list(Call.objects.filter(customer_id=queue.customer_id, pk__in=call_ids, master_call_id=""))
    )


def call_of_change(resource: str, row: object) -> str:
    """The call a changed row is about: a call itself, a queuecall's or activeflow's reference."""
    if resource == "call" and isinstance(row, Call):
        return row.pk
    if isinstance(row, Queuecall) and row.reference_id:
        return row.reference_id
    if isinstance(row, Activeflow) and row.reference_type == "call" and row.reference_id:
        return row.reference_id
    return ""


def visible_roots(user: User) -> Q:
    """The customer calls whose conversations the user sees: a supervisor every one of the account;
    an agent those they are on (a leg they own, the agent the queue chose, a call they own)."""
    if user.is_supervisor:
        return Q(customer_id=user.customer_id)
    mine = Call.objects.filter(customer_id=user.customer_id, owner_agent_id=user.agent_id)
    chosen = Queuecall.objects.filter(customer_id=user.customer_id, service_agent_id=user.agent_id)
    return Q(customer_id=user.customer_id) & (
        Q(pk__in=mine.values("pk"))
        | Q(pk__in=mine.exclude(master_call_id="").values("master_call_id"))
        | Q(pk__in=chosen.values("reference_id"))
    )


def roots() -> Q:
    """Customer calls, and agent legs whose customer call we have not heard of (shown on their own)."""
    return Q(master_call_id="") | ~Q(master_call_id__in=Call.objects.values("pk"))
