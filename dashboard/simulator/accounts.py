"""The demo accounts the simulator starts with.

Ids are fixed (uuid5 over one namespace) because settings, the README and the
tests name them. Customer A ("Acme Support") is the live contact center;
customer B ("Globex") exists so tenant isolation can be shown and tested.
VoIPBIN routes a queue's calls to agents by tags: an agent serves a queue when
the queue's ``tag_ids`` are a subset of the agent's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from dashboard.voipbin.topics import Permission

_NAMESPACE = uuid.UUID("5d0b7a9e-3c1f-4f3e-9a57-0c1b2d3e4f50")


def _fixed_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


DEMO_PASSWORD = "demo-password"

DEMO_CUSTOMER_ID = _fixed_id("customer/acme")
DEMO_ACCESS_KEY = "demo-accesskey-acme-0001"
OTHER_CUSTOMER_ID = _fixed_id("customer/globex")
OTHER_ACCESS_KEY = "demo-accesskey-globex-0001"

DEMO_ADMIN_ID = _fixed_id("agent/admin")
DEMO_MANAGER_ID = _fixed_id("agent/manager")
DEMO_AGENT1_ID = _fixed_id("agent/agent1")
DEMO_AGENT2_ID = _fixed_id("agent/agent2")
DEMO_AGENT3_ID = _fixed_id("agent/agent3")
OTHER_ADMIN_ID = _fixed_id("agent/globex-admin")
OTHER_AGENT_ID = _fixed_id("agent/globex-agent")
OTHER_AGENT2_ID = _fixed_id("agent/globex-agent2")

SALES_QUEUE_ID = _fixed_id("queue/acme-sales")
SUPPORT_QUEUE_ID = _fixed_id("queue/acme-support")
OTHER_QUEUE_ID = _fixed_id("queue/globex-helpdesk")

SALES_TAG_ID = _fixed_id("tag/acme-sales")
SUPPORT_TAG_ID = _fixed_id("tag/acme-support")
HELPDESK_TAG_ID = _fixed_id("tag/globex-helpdesk")

DEMO_FLOW_ID = _fixed_id("flow/acme-inbound")
OTHER_FLOW_ID = _fixed_id("flow/globex-inbound")

# 555-0100..0199 numbers are reserved for fiction.
DEMO_SALES_NUMBER = "+15555550100"
DEMO_SUPPORT_NUMBER = "+15555550101"
DEMO_SMS_NUMBER = "+15555550102"
OTHER_HELPDESK_NUMBER = "+15555550150"
OTHER_SMS_NUMBER = "+15555550151"


@dataclass(frozen=True, slots=True)
class DemoAgent:
    id: str
    username: str
    name: str
    permission: Permission
    status: str
    tag_ids: tuple[str, ...] = ()
    extension: str = ""


@dataclass(frozen=True, slots=True)
class DemoQueue:
    id: str
    name: str
    tag_ids: tuple[str, ...]
    number: str
    """The number whose inbound calls the demo flow puts into this queue."""


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    id: str
    name: str
    access_key: str
    flow_id: str
    agents: tuple[DemoAgent, ...]
    queues: tuple[DemoQueue, ...]
    sms_numbers: tuple[str, ...]
    traffic_share: float = 1.0
    """Its share of the configured call and SMS rates: the scenario's load follows its staff."""

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(queue.number for queue in self.queues) + self.sms_numbers


DEMO_CUSTOMER = DemoCustomer(
    id=DEMO_CUSTOMER_ID,
    name="Acme Support",
    access_key=DEMO_ACCESS_KEY,
    flow_id=DEMO_FLOW_ID,
    agents=(
        DemoAgent(DEMO_ADMIN_ID, "admin", "Dana Brooks", Permission.ADMIN, "available"),
        DemoAgent(DEMO_MANAGER_ID, "manager", "Lee Morgan", Permission.MANAGER, "available"),
        DemoAgent(
            DEMO_AGENT1_ID,
            "agent1",
            "Jamie Rivera",
            Permission.AGENT,
            "available",
            (SALES_TAG_ID, SUPPORT_TAG_ID),
            "1001",
        ),
        DemoAgent(
            DEMO_AGENT2_ID, "agent2", "Sam Chen", Permission.AGENT, "available", (SUPPORT_TAG_ID,), "1002"
        ),
        DemoAgent(DEMO_AGENT3_ID, "agent3", "Priya Patel", Permission.AGENT, "away", (SALES_TAG_ID,), "1003"),
        *(
            DemoAgent(
                _fixed_id(f"agent/{username}"), username, name, Permission.AGENT, "available", tags, ext
            )
            for username, name, tags, ext in (
                ("agent4", "Alex Kim", (SALES_TAG_ID,), "1004"),
                ("agent5", "Maria Santos", (SALES_TAG_ID, SUPPORT_TAG_ID), "1005"),
                ("agent6", "Noah Williams", (SALES_TAG_ID,), "1006"),
                ("agent7", "Fatima Okafor", (SUPPORT_TAG_ID,), "1007"),
                ("agent8", "Ethan Novak", (SALES_TAG_ID, SUPPORT_TAG_ID), "1008"),
                ("agent9", "Sofia Rossi", (SUPPORT_TAG_ID,), "1009"),
            )
        ),
    ),
    queues=(
        DemoQueue(SALES_QUEUE_ID, "Sales", (SALES_TAG_ID,), DEMO_SALES_NUMBER),
        DemoQueue(SUPPORT_QUEUE_ID, "Support", (SUPPORT_TAG_ID,), DEMO_SUPPORT_NUMBER),
    ),
    sms_numbers=(DEMO_SMS_NUMBER,),
)

OTHER_CUSTOMER = DemoCustomer(
    id=OTHER_CUSTOMER_ID,
    name="Globex",
    access_key=OTHER_ACCESS_KEY,
    flow_id=OTHER_FLOW_ID,
    agents=(
        DemoAgent(OTHER_ADMIN_ID, "globex-admin", "Gina Lopez", Permission.ADMIN, "available"),
        DemoAgent(
            OTHER_AGENT_ID,
            "globex-agent",
            "Omar Haddad",
            Permission.AGENT,
            "available",
            (HELPDESK_TAG_ID,),
            "2001",
        ),
        DemoAgent(
            OTHER_AGENT2_ID,
            "globex-agent2",
            "Yuki Tanaka",
            Permission.AGENT,
            "available",
            (HELPDESK_TAG_ID,),
            "2002",
        ),
    ),
    queues=(DemoQueue(OTHER_QUEUE_ID, "Helpdesk", (HELPDESK_TAG_ID,), OTHER_HELPDESK_NUMBER),),
    sms_numbers=(OTHER_SMS_NUMBER,),
    traffic_share=0.1,
)

CUSTOMERS: tuple[DemoCustomer, ...] = (DEMO_CUSTOMER, OTHER_CUSTOMER)

AGENT_IDS: dict[str, str] = {agent.username: agent.id for c in CUSTOMERS for agent in c.agents}
"""Username → agent id, for every demo login (all use ``DEMO_PASSWORD``)."""

DEMO_NUMBERS = DEMO_CUSTOMER.numbers
OTHER_NUMBERS = OTHER_CUSTOMER.numbers
