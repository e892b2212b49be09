"""A resource's row stored idempotently and in VoIPBIN's order, for every resource's apply function.

A row changes only when the event is newer (``newer_than``: ``tm_update``, then how far along its
life the resource is), what an event carries is merged over what we know (``merged_data``), and two
workers inserting the same new row settle it in a savepoint (the loser applies its event as an
update). An event exactly as new as the row is reported as a change with nothing written: with
several processes sharing the database, the first to apply an event is not the only one whose pages
must show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from dashboard.models import LiveResource, merged_data
from dashboard.voipbin.events import Event, newer_than

Row = TypeVar("Row", bound=LiveResource)
Fields = Callable[[dict[str, Any], Any], dict[str, Any] | None]


def _locked(model: type[Row], pk: str) -> Row | None:
    return model.objects.select_for_update().filter(pk=pk).first()


def _insert(model: type[Row], pk: str, data: dict[str, Any], fields: dict[str, Any]) -> Row | None:
    """Insert the row, or None when it exists already (two workers racing on the same new row)."""
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a lost race
            return model.objects.create(pk=pk, data=data, **fields)
    except IntegrityError:
        return None


@dataclass(frozen=True)
class Upserted:
    row: Any
    created: bool
    changed: bool


def upsert(model: type[Row], event: Event, fields_of: Fields) -> Upserted | None:
    """Insert or update the event's row; ``changed`` False when the event is older than the row.

    ``fields_of(data, row_before)`` maps merged resource data to model fields (None: skip the
    event); it runs before the row changes, so it can compare with what the row held. Call it
    inside a transaction.
    """
    pk = str(event.resource_id)
    row = _locked(model, pk)
    if row is None:
        data = dict(event.data)
        fields = fields_of(data, None)
        if fields is None:
            return None
        inserted = _insert(model, pk, data, fields)
        if inserted is not None:
            return Upserted(inserted, created=True, changed=True)
        row = model.objects.select_for_update().get(pk=pk)
    if not newer_than(event.data, row.data):
        # Exactly as new as the row: another process stored it first and this one's pages have not
        # shown it yet (see dashboard.live); report it, write nothing. Stale: nothing to report.
        return Upserted(row, created=False, changed=not newer_than(row.data, event.data))
    data = merged_data(row.data, event.data)
    fields = fields_of(data, row)
    if fields is None:
        return None
    for name, value in fields.items():
        setattr(row, name, value)
    row.data = data
    # Only what events own: what people set here meanwhile (a queue's thresholds) stays.
    row.save(update_fields=[*fields, "data", "received_at"])
    return Upserted(row, created=False, changed=True)
