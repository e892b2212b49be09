"""Template filters for flows: an action type's label and icon, and whether a flow still runs."""

from __future__ import annotations

from django import template

from dashboard.flows.labels import Action, describe
from dashboard.models import Activeflow

register = template.Library()


@register.filter
def flow_action(action_type: str | None) -> Action:
    return describe(action_type or "")


@register.filter
def flow_running(activeflow: Activeflow | None) -> bool:
    return activeflow is not None and activeflow.status not in Activeflow.ENDED
