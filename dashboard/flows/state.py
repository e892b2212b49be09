"""Activeflow events applied to live state, and the steps each flow was seen entering.

The row follows ``dashboard.live``'s rules for calls: changed only by a newer
event (``tm_update``, then ended over running), merged over what we know, its
insert safe against a second worker inserting it first. The steps are kept
apart from the row because VoIPBIN does not deliver in order: a late event is
too old to change the row, yet it is the only news of an action the flow went
through, so its step is recorded at its own VoIPBIN time all the same.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from dashboard.changes import Change
from dashboard.models import Activeflow, ActiveflowStep, Call, Flow, merged_data
from dashboard.rows import upsert
from dashboard.voipbin.events import RESERVED_ACTION_IDS, Event, changed_at, newer_than, parse_time

logger = logging.getLogger(__name__)


def apply_activeflow(event: Event) -> Change | None:
    """Apply one activeflow event; None when it changes neither the row nor the timeline."""
    if event.resource != "activeflow" or not event.resource_id:
        return None
    at = event_time(event)
    data = dict(event.data)
    if event.type == "activeflow.deleted":
        data["status"] = "ended"  # a deleted flow runs no more, whatever its last status said
    with transaction.atomic():
        row = Activeflow.objects.select_for_update().filter(pk=event.resource_id).first()
        created = changed = False
        if row is None:
            fields = _fields(event, data, at=at, previous=None)
            if fields is None:
                return None
            row = _insert(event.resource_id, data, fields)
            if row is None:  # another worker inserted it a moment ago: this event is an update
                row = Activeflow.objects.select_for_update().get(pk=event.resource_id)
            else:
                created = changed = True
        candidate, current = _stamped(data, at), _stamped(row.data, row.tm_update)
        if not created and newer_than(candidate, current):
            merged = merged_data(row.data, data)
            fields = _fields(event, merged, at=at, previous=row)
            if fields is not None:
                for name, value in fields.items():
                    setattr(row, name, value)
                row.data = merged
                row.save()
                changed = True
        elif not created:
            # As new as the row: another process stored it first and this one's pages have not shown
            # it yet (see dashboard.live); report it, write nothing. Stale: nothing to report.
            changed = not newer_than(current, candidate)
        stepped = record_step(activeflow_id=row.pk, action=data.get("current_action"), at=at)
    if not (changed or stepped):
        return None
    return Change("activeflow", row, created=created)


def event_time(event: Event) -> datetime:
    """VoIPBIN's time of the change: the resource's ``tm_update``, else the frame's timestamp."""
    return event.tm_update or event.timestamp


def record_step(*, activeflow_id: str, action: Any, at: datetime) -> bool:
    """Note that the flow was in ``action`` at ``at``; True when the timeline changed.

    A step is an action *entered*: another event while the flow stays in the same
    action (a duplicate, or an update of some other field) adds nothing, and one that
    arrives late, from before the step we recorded, moves that step back to when the
    action really began. Steps are written under the activeflow row's lock.
    """
    if not _executed(action):
        return False
    action_id, action_type = str(action["id"]), str(action.get("type") or "")
    steps = ActiveflowStep.objects.filter(activeflow_id=activeflow_id)
    before = steps.filter(started_at__lte=at).order_by("-started_at", "-pk").first()
    if before is not None and before.action_id == action_id:
        return False
    after = steps.filter(started_at__gt=at).order_by("started_at", "pk").first()
    if after is not None and after.action_id == action_id:
        after.started_at = at
        after.save(update_fields=["started_at"])
        return True
    try:
        with transaction.atomic():  # a savepoint: the same step may already be there
            ActiveflowStep.objects.create(
                activeflow_id=activeflow_id, action_id=action_id, action_type=action_type, started_at=at
            )
    except IntegrityError:
        return False
    return True


def _executed(action: Any) -> bool:
    """An action the flow really runs: not absent, not a zero id, not a reserved placeholder."""
    return isinstance(action, dict) and bool(action.get("id")) and action["id"] not in RESERVED_ACTION_IDS


def _insert(activeflow_id: str, data: dict[str, Any], fields: dict[str, Any]) -> Activeflow | None:
    """Insert the row, or None when it exists already (two workers racing on the same new flow)."""
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a lost race
            return Activeflow.objects.create(pk=activeflow_id, data=data, **fields)
    except IntegrityError:
        return None


def _stamped(data: dict[str, Any], at: datetime | None) -> dict[str, Any]:
    """``data`` with a ``tm_update`` to compare by: tutorial frames may carry only their timestamp."""
    if data.get("tm_update") or at is None:
        return data
    return {**data, "tm_update": at.isoformat()}


def _fields(
    event: Event, data: dict[str, Any], *, at: datetime, previous: Activeflow | None
) -> dict[str, Any] | None:
    known = previous or Activeflow()  # what an earlier event told us; blank for a new flow
    customer_id = str(data.get("customer_id") or event.customer_id or known.customer_id)
    if not customer_id:
        logger.warning("activeflow %s without a customer id skipped", event.resource_id)
        return None
    action = data.get("current_action") if _executed(data.get("current_action")) else {}
    # A flow we hear of is executing an action; the tutorial's frames may omit the status.
    status = str(data.get("status") or "running")
    reference_type = str(data.get("reference_type") or "")
    reference_id = str(data.get("reference_id") or "")
    call_id, call_owner = _call_of(
        event.resource_id or "",
        customer_id=customer_id,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    ended = status in Activeflow.ENDED
    return {
        "customer_id": customer_id,
        "owner_agent_id": event.owner_agent_id or call_owner or known.owner_agent_id,
        "status": status,
        "tm_update": at,
        "flow_id": str(data.get("flow_id") or ""),
        "reference_type": reference_type or ("call" if call_id else ""),
        "reference_id": reference_id or call_id,
        "current_action_id": str(action.get("id") or ""),
        "current_action_type": str(action.get("type") or ""),
        "tm_create": parse_time(data.get("tm_create")) or known.tm_create or at,
        "tm_end": (parse_time(data.get("tm_end")) or known.tm_end or at) if ended else None,
    }


def _call_of(
    activeflow_id: str, *, customer_id: str, reference_type: str, reference_id: str
) -> tuple[str, str]:
    """The flow's call and its agent, from the customer's live calls: an activeflow names no agent.

    The tutorial's frames may leave out ``reference_id``; the call then names its flow
    (``activeflow_id``), if we know the call yet.
    """
    if reference_id:
        if reference_type not in ("", "call"):
            return "", ""
        calls = Call.objects.filter(customer_id=customer_id, pk=reference_id)
        return reference_id, calls.values_list("owner_agent_id", flat=True).first() or ""
    found = (
        Call.objects.filter(customer_id=customer_id, data__activeflow_id=activeflow_id)
        .values_list("pk", "owner_agent_id")
        .first()
    )
    return found if found is not None else ("", "")


@transaction.atomic
def apply_flow(event: Event) -> Change | None:
    """A flow's name and detail (VoIPBIN lists flows; activeflows name only their flow's id)."""
    if not event.resource_id:
        return None

    def fields_of(data: dict[str, Any], row: Flow | None) -> dict[str, Any] | None:
        customer_id = str(data.get("customer_id") or event.customer_id or (row.customer_id if row else ""))
        if not customer_id:
            logger.warning("flow %s without a customer id skipped", event.resource_id)
            return None
        return {
            "customer_id": customer_id,
            "tm_update": changed_at(data),
            "name": str(data.get("name") or ""),
            "detail": str(data.get("detail") or ""),
        }

    done = upsert(Flow, event, fields_of)
    if done is None or not done.changed:
        return None
    return Change("flow", done.row, created=done.created)
