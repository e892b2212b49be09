"""One flow's timeline: the actions it went through, in VoIPBIN's time order, the current one marked.

Two sources: the steps recorded from events (each at its VoIPBIN time) and the
activeflow's ``executed_actions`` (in execution order, without times). An executed
action that never arrived as an event of its own — events get lost, or the flow
moved on faster than it published — is still shown, "time unknown", where the
execution order puts it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.flows.labels import Action, describe
from dashboard.models import Activeflow, ActiveflowStep


@dataclass(frozen=True, slots=True)
class Entry:
    action: Action
    action_id: str
    started_at: datetime | None  # None: VoIPBIN reports it executed, no event said when
    current: bool = False


@dataclass(frozen=True, slots=True)
class _Executed:
    action_id: str
    action_type: str
    current: bool


def timeline(activeflow: Activeflow) -> list[Entry]:
    steps = ActiveflowStep.objects.filter(activeflow_id=activeflow.pk).order_by("started_at", "pk")
    return merge(
        steps=list(steps),
        executed=executed_actions(activeflow.data),
        current_id=activeflow.current_action_id,
        current_type=activeflow.current_action_type,
        running=activeflow.status not in Activeflow.ENDED,
    )


def executed_actions(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(id, type)`` of each action VoIPBIN lists as executed, in execution order."""
    actions = data.get("executed_actions")
    if not isinstance(actions, list):
        return []
    return [
        (str(action.get("id") or ""), str(action.get("type") or ""))
        for action in actions
        if isinstance(action, dict) and (action.get("id") or action.get("type"))
    ]


def merge(
    *,
    steps: Sequence[ActiveflowStep],
    executed: Sequence[tuple[str, str]],
    current_id: str,
    current_type: str,
    running: bool,
) -> list[Entry]:
    """Steps in time order, with the executed actions that have no step placed among them.

    Each executed action (and the current one, last) takes the earliest step of its
    action not yet taken; one without a step goes just before the step of the next
    executed action that has one. ``steps`` must be in time order. Only a running
    flow has a current entry.
    """
    sequence = [_Executed(action_id, action_type, current=False) for action_id, action_type in executed]
    if current_id and (not executed or executed[-1][0] != current_id):
        sequence.append(_Executed(current_id, current_type, current=True))
    elif sequence and current_id:
        sequence[-1] = _Executed(current_id, current_type or sequence[-1].action_type, current=True)

    unused: dict[str, deque[int]] = defaultdict(deque)
    for index, step in enumerate(steps):
        unused[step.action_id].append(index)
    placed_before: dict[int, list[_Executed]] = defaultdict(list)
    waiting: list[_Executed] = []
    current_step: int | None = None
    for item in sequence:
        if unused[item.action_id]:
            index = unused[item.action_id].popleft()
            placed_before[index] += waiting
            waiting = []
            if item.current:
                current_step = index
        else:
            waiting.append(item)

    def unknown(item: _Executed) -> Entry:
        return Entry(describe(item.action_type), item.action_id, None, current=running and item.current)

    entries: list[Entry] = []
    for index, step in enumerate(steps):
        entries += [unknown(item) for item in placed_before[index]]
        entries.append(
            Entry(
                describe(step.action_type),
                step.action_id,
                step.started_at,
                current=running and index == current_step,
            )
        )
    return entries + [unknown(item) for item in waiting]
