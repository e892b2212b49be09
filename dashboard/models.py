"""Users signed in with VoIPBIN, and the live state VoIPBIN's events keep current."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from dashboard.crypto import EncryptedTextField
from dashboard.voipbin.topics import Permission, Principal


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    """A VoIPBIN agent who signed in here; identity and permissions come from VoIPBIN's ``/me``."""

    customer_id = models.CharField(max_length=64, blank=True, db_index=True)
    agent_id = models.CharField(max_length=64, blank=True, db_index=True)
    permission = models.PositiveIntegerField(default=0, help_text="VoIPBIN permission bits")
    voipbin_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    token_rejected_at = models.DateTimeField(
        null=True, blank=True, help_text="When VoIPBIN last refused the token (401/403)"
    )

    @property
    def role(self) -> Role:
        bits = Permission(self.permission)
        if bits & Permission.ADMIN:
            return Role.ADMIN
        if bits & Permission.MANAGER:
            return Role.SUPERVISOR
        return Role.AGENT

    @property
    def is_supervisor(self) -> bool:
        """Sees the whole account (VoIPBIN admin or manager)."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def principal(self) -> Principal:
        return Principal(
            customer_id=self.customer_id, agent_id=self.agent_id or None, permission=self.permission
        )

    @property
    def voipbin_session_expired(self) -> bool:
        if not self.voipbin_token or self.token_rejected_at is not None:
            return True
        return self.token_expires_at is not None and self.token_expires_at <= timezone.now()


class LiveQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> LiveQuerySet:
        """Rows of the user's customer; an agent only those it owns."""
        rows = self.filter(customer_id=user.customer_id)
        return rows if user.is_supervisor else rows.filter(owner_agent_id=user.agent_id)


class LiveResource(models.Model):
    """A VoIPBIN resource as its newest event left it, keyed by VoIPBIN's id."""

    id = models.CharField(max_length=64, primary_key=True)
    customer_id = models.CharField(max_length=64, db_index=True)
    owner_agent_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=32, blank=True)
    tm_update = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, help_text="The resource as VoIPBIN last sent it")
    received_at = models.DateTimeField(auto_now=True)

    objects = LiveQuerySet.as_manager()

    class Meta:
        abstract = True


def _address(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict):
        return "", ""
    return str(value.get("target") or ""), str(value.get("target_name") or value.get("name") or "")


class Call(LiveResource):
    ENDED = ("hangup",)

    direction = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=128, blank=True)
    source_name = models.CharField(max_length=128, blank=True)
    destination = models.CharField(max_length=128, blank=True)
    destination_name = models.CharField(max_length=128, blank=True)
    hangup_reason = models.CharField(max_length=32, blank=True)
    hangup_by = models.CharField(max_length=32, blank=True)
    tm_create = models.DateTimeField(null=True, blank=True)
    tm_answer = models.DateTimeField(null=True, blank=True)
    tm_hangup = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer_id", "status"]), models.Index(fields=["-tm_create"])]

    def __str__(self) -> str:
        return f"{self.direction} call {self.source} → {self.destination} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status not in self.ENDED

    @property
    def display_status(self) -> str:
        """The tutorial's words: VoIPBIN's ``progressing`` is an answered call."""
        return {"progressing": "answered"}.get(self.status, self.status) or "unknown"

    @staticmethod
    def fields_from(data: dict[str, Any]) -> dict[str, Any]:
        from dashboard.voipbin.events import parse_time

        source, source_name = _address(data.get("source"))
        destination, destination_name = _address(data.get("destination"))
        status = str(data.get("status") or "")
        answered = parse_time(data.get("tm_progressing"))
        if answered is None and status in ("progressing", "answered"):
            answered = parse_time(data.get("tm_update"))
        return {
            "customer_id": str(data.get("customer_id") or ""),
            "owner_agent_id": str(data.get("owner_id") or "")
            if data.get("owner_type", "agent") == "agent"
            else "",
            "status": "progressing" if status == "answered" else status,
            "tm_update": parse_time(data.get("tm_update")),
            "direction": str(data.get("direction") or ""),
            "source": source,
            "source_name": source_name,
            "destination": destination,
            "destination_name": destination_name,
            "hangup_reason": str(data.get("hangup_reason") or ""),
            "hangup_by": str(data.get("hangup_by") or ""),
            "tm_create": parse_time(data.get("tm_create")),
            "tm_answer": answered,
            "tm_hangup": parse_time(data.get("tm_hangup")),
        }
