"""Live state: VoIPBIN events applied to DB rows, idempotently and in VoIPBIN's order.

A row changes only when the event is newer than what the row holds (by
``tm_update``, then by how far along its life the resource is), so duplicates
and late, out-of-order deliveries cannot regress it. Tutorial events may carry
only part of a resource; what they carry is merged over what we know. Each
resource's rules live with it, found through ``dashboard.resources`` (``calls.state``,
``flows.state``, ``inbox.state``, ``queues.state``); every change is then routed to its
caller's conversation (``dashboard.calls.state.routed``).

An event exactly as new as the row is still reported as a change (nothing is written): with
several processes sharing the database, the first to apply an event is not the only one whose
pages must show it.
"""

from __future__ import annotations

from dashboard import resources
from dashboard.calls import state as calls_state
from dashboard.changes import Change
from dashboard.voipbin.events import Event

_version = 0


def state_version() -> int:
    """Goes up whenever live state changes here, or another process says it changed there
    (``note_state_changed``): a render made at one version shows at least that version's state."""
    return _version


def note_state_changed() -> None:
    global _version
    _version += 1


def apply_event(event: Event) -> Change | None:
    """Apply one event to live state; None when it changes nothing (duplicate, stale, not ours)."""
    change = resources.apply(event)
    if change is None:
        return None
    note_state_changed()
    return calls_state.routed(change)
