"""The thresholds supervisors set per queue; ``Queue.clean`` checks they make sense together."""

from __future__ import annotations

from django import forms

from dashboard.models import Queue

THRESHOLD_FIELDS = (
    "service_level_seconds",
    "warn_waiting",
    "critical_waiting",
    "warn_longest_wait_seconds",
    "critical_longest_wait_seconds",
    "warn_service_level",
    "critical_service_level",
)


class QueueThresholdsForm(forms.ModelForm):
    class Meta:
        model = Queue
        fields = THRESHOLD_FIELDS
        labels = {
            "service_level_seconds": "Answer within (s)",
            "warn_waiting": "Warn at waiting",
            "critical_waiting": "Critical at waiting",
            "warn_longest_wait_seconds": "Warn at longest wait (s)",
            "critical_longest_wait_seconds": "Critical at longest wait (s)",
            "warn_service_level": "Warn below service level (%)",
            "critical_service_level": "Critical below service level (%)",
        }
        help_texts = dict.fromkeys(THRESHOLD_FIELDS, "")

    def __init__(self, *args: object, **kwargs: object) -> None:
        instance = kwargs.get("instance")
        kwargs.setdefault("auto_id", f"q-{getattr(instance, 'pk', 'new')}-%s")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for field in self.fields.values():
            field.widget.attrs.update({"min": 0, "inputmode": "numeric"})


def save_thresholds(*, queue: Queue) -> None:
    """Write only the thresholds: the VoIPBIN fields belong to events, which may be arriving now."""
    queue.save(update_fields=THRESHOLD_FIELDS)
