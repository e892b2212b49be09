"""The simulated VoIPBIN's data: every resource, and who hears about changes.

Everything that changes a resource goes through :meth:`State.upsert`, which
stamps ``tm_update``, keeps queues' queuecall lists and counters in step, and
hands a :class:`Change` to each listener (the WebSocket hub, the scenario
engine, a test's recorder). Listeners run synchronously and must not change
state themselves: they schedule.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from dashboard.simulator.accounts import AGENT_IDS, CUSTOMERS, DEMO_PASSWORD, DemoCustomer
from dashboard.simulator.events import Change, code_event_name
from dashboard.simulator.resources import (
    CALL_STATUS_TIMES,
    QUEUE_WAITING_STATUSES,
    Record,
    address,
    agent_record,
    call_record,
    flow_record,
    message_record,
    queue_record,
)
from dashboard.simulator.timestamps import Clock, format_page_token, parse_time

Listener = Callable[[Change], None]

_CUSTOMERS_BY_ID = {customer.id: customer for customer in CUSTOMERS}
_CUSTOMERS_BY_KEY = {customer.access_key: customer for customer in CUSTOMERS}
_CUSTOMERS_BY_NUMBER = {number: customer for customer in CUSTOMERS for number in customer.numbers}


def _placed(ids: list[str], item: str, *, member: bool) -> list[str]:
    """``ids`` with ``item`` in it (kept where it was) or out of it."""
    if member:
        return ids if item in ids else [*ids, item]
    return [existing for existing in ids if existing != item]


class State:
    _records: defaultdict[str, dict[str, Record]]
    insufficient_balance: set[str]
    """Customers whose ``POST /v1.0/messages`` answers 402."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.listeners: list[Listener] = []
        self.reset()

    def reset(self) -> None:
        """Back to the demo accounts' initial resources (listeners stay)."""
        self._records = defaultdict(dict)
        self.insufficient_balance = set()
        for customer in CUSTOMERS:
            for agent in customer.agents:
                self.upsert("agent", agent_record(customer.id, agent), publish=False)
            for queue in customer.queues:
                self.upsert("queue", queue_record(customer.id, queue), publish=False)
            self.upsert("flow", flow_record(customer), publish=False)

    # Look-ups

    def get(self, resource: str, resource_id: str) -> Record | None:
        return self._records[resource].get(resource_id)

    def find(self, resource: str, customer_id: str, resource_id: str) -> Record | None:
        """The resource if it belongs to ``customer_id``: other tenants' ids look unknown."""
        record = self.get(resource, resource_id)
        if record is None or record.get("customer_id") != customer_id:
            return None
        return record

    def all(self, resource: str) -> Iterable[Record]:
        return self._records[resource].values()

    @staticmethod
    def customer(customer_id: str) -> DemoCustomer | None:
        return _CUSTOMERS_BY_ID.get(customer_id)

    @staticmethod
    def customer_for_access_key(access_key: str) -> DemoCustomer | None:
        return _CUSTOMERS_BY_KEY.get(access_key)

    @staticmethod
    def customer_for_number(number: str) -> DemoCustomer | None:
        """The customer owning this phone number, if it is one of the simulated VoIPBIN's."""
        return _CUSTOMERS_BY_NUMBER.get(number)

    def login(self, username: str, password: str) -> Record | None:
        agent_id = AGENT_IDS.get(username)
        if agent_id is None or not secrets.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
            return None
        return self.get("agent", agent_id)

    def agents_serving(self, queue_id: str) -> list[Record]:
        """Agents whose tags cover the queue's (VoIPBIN's tag routing)."""
        queue = self.get("queue", queue_id)
        if queue is None or not queue.get("tag_ids"):
            return []
        tags = set(queue["tag_ids"])
        return [
            agent
            for agent in self._records["agent"].values()
            if agent.get("customer_id") == queue["customer_id"] and tags <= set(agent.get("tag_ids", ()))
        ]

    def page(
        self, resource: str, customer_id: str, *, size: int, token: str = ""
    ) -> tuple[list[Record], str]:
        """One page, newest first; the token is the last row's ``tm_create``, as VoIPBIN's is."""
        before = parse_time(token) if token else None
        rows: list[tuple[datetime, Record]] = []
        for record in self._records[resource].values():
            if record.get("customer_id") != customer_id:
                continue
            created = parse_time(record["tm_create"])
            if before is None or created < before:
                rows.append((created, record))
        rows.sort(key=lambda row: row[0], reverse=True)
        next_token = format_page_token(rows[size - 1][0]) if len(rows) > size else ""
        return [record for _, record in rows[:size]], next_token

    # Changes

    def upsert(
        self,
        resource: str,
        data: Mapping[str, Any],
        *,
        event: str | None = None,
        stamp: str | None = None,
        publish: bool = True,
    ) -> Record:
        """Create or merge a resource and publish the change.

        ``None`` or ``""`` removes a field (the wire view shows VoIPBIN's zero value for it).
        ``tm_update`` is stamped on every change but the creation, as VoIPBIN's database leaves
        it null until the first update, unless ``data`` carries one.
        """
        records = self._records[resource]
        resource_id = str(data.get("id") or uuid.uuid4())
        before = records.get(resource_id)
        stamp = stamp or self.clock.stamp()
        record = dict(before or {})
        for key, value in data.items():
            if value is None or value == "":
                record.pop(key, None)
            else:
                record[key] = value
        record["id"] = resource_id
        record.setdefault("tm_create", stamp)
        created = before is None
        if "tm_update" not in data and not created:
            record["tm_update"] = stamp
        records[resource_id] = record

        status = record.get("status")
        entered_status = (
            status if status is not None and (created or status != before.get("status")) else None
        )
        if resource == "queuecall":
            self._sync_queue(record, created=created, entered_status=entered_status, stamp=stamp)
        if publish:
            name = event or code_event_name(
                resource, created=created, entered_status=entered_status, status=status
            )
            change = Change(resource, name, record, created=created, entered_status=entered_status)
            for listener in list(self.listeners):
                listener(change)
        return record

    def delete(self, resource: str, resource_id: str) -> Record:
        """Delete a resource as VoIPBIN does: publish ``<resource>_deleted`` (``tm_delete`` stamped),
        then no list or look-up shows it again. Raises KeyError for an unknown id."""
        record = self._records[resource].get(resource_id)
        if record is None:
            raise KeyError(resource_id)
        stamp = self.clock.stamp()
        deleted = self.upsert(
            resource, {"id": resource_id, "tm_delete": stamp}, event=f"{resource}_deleted", stamp=stamp
        )
        del self._records[resource][resource_id]
        return deleted

    def set_call_status(
        self, call_id: str, status: str, *, hangup_by: str | None = None, hangup_reason: str | None = None
    ) -> Record:
        """Move a call on, stamping the matching ``tm_*`` and hangup fields."""
        if self.get("call", call_id) is None:
            raise KeyError(call_id)
        stamp = self.clock.stamp()
        fields: dict[str, Any] = {"id": call_id, "status": status}
        if time_field := CALL_STATUS_TIMES.get(status):
            fields[time_field] = stamp
        if status == "hangup":
            fields["hangup_by"] = hangup_by or "local"
            fields["hangup_reason"] = hangup_reason or "normal"
        return self.upsert("call", fields, stamp=stamp)

    def create_call(
        self,
        *,
        customer_id: str,
        direction: str,
        source: Record,
        destination: Record,
        status: str,
        call_id: str | None = None,
        flow_id: str | None = None,
        activeflow_id: str | None = None,
        owner_agent_id: str | None = None,
        master_call_id: str | None = None,
        groupcall_id: str | None = None,
    ) -> Record:
        stamp = self.clock.stamp()
        record = call_record(
            call_id=call_id or str(uuid.uuid4()),
            customer_id=customer_id,
            direction=direction,
            source=source,
            destination=destination,
            status=status,
            stamp=stamp,
            flow_id=flow_id,
            activeflow_id=activeflow_id,
            owner_agent_id=owner_agent_id,
            master_call_id=master_call_id,
            groupcall_id=groupcall_id,
        )
        return self.upsert("call", record, stamp=stamp)

    def receive_message(
        self, *, customer_id: str, source: str, destination: str, text: str, message_id: str | None = None
    ) -> Record:
        """An inbound SMS from ``source`` to one of the customer's numbers."""
        stamp = self.clock.stamp()
        record = message_record(
            message_id=message_id or str(uuid.uuid4()),
            customer_id=customer_id,
            direction="inbound",
            source=address(source),
            destinations=[address(destination)],
            text=text,
            target_status="received",
            stamp=stamp,
        )
        return self.upsert("message", record, stamp=stamp)

    def send_message(
        self, *, customer_id: str, source: Record, destinations: list[Record], text: str
    ) -> Record:
        """An outbound SMS accepted for delivery: every target starts ``queued``."""
        stamp = self.clock.stamp()
        record = message_record(
            message_id=str(uuid.uuid4()),
            customer_id=customer_id,
            direction="outbound",
            source=source,
            destinations=destinations,
            text=text,
            target_status="queued",
            stamp=stamp,
        )
        return self.upsert("message", record, stamp=stamp)

    def _sync_queue(
        self, queuecall: Record, *, created: bool, entered_status: str | None, stamp: str
    ) -> None:
        queue = self.get("queue", str(queuecall.get("queue_id", "")))
        if queue is None or (not created and entered_status is None):
            return
        queuecall_id = queuecall["id"]
        status = queuecall.get("status")
        self._records["queue"][queue["id"]] = {
            **queue,
            "wait_queuecall_ids": _placed(
                queue["wait_queuecall_ids"], queuecall_id, member=status in QUEUE_WAITING_STATUSES
            ),
            "service_queuecall_ids": _placed(
                queue["service_queuecall_ids"], queuecall_id, member=status == "service"
            ),
            "total_incoming_count": queue["total_incoming_count"] + created,
            "total_serviced_count": queue["total_serviced_count"] + (entered_status == "done"),
            "total_abandoned_count": queue["total_abandoned_count"] + (entered_status == "abandoned"),
            "tm_update": stamp,
        }
