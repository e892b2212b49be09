"""Users signed in with VoIPBIN, and the live state VoIPBIN's events keep current."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from dashboard import rules
from dashboard.autoreplies.numbers import e164_problems
from dashboard.crypto import EncryptedTextField
from dashboard.rules.engine import DEFAULT_MIN_SENDER_DIGITS
from dashboard.voipbin.events import Event, changed_at, newer_than, parse_time
from dashboard.voipbin.topics import Permission, Principal, format_topic


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

    def scope_topics(self, resources: Iterable[str]) -> list[str]:
        """The widest topics the user may see for ``resources`` (what a live page may declare): the
        customer's for supervisors, their own agent scope for agents."""
        scope, scope_id = (
            ("customer_id", self.customer_id) if self.is_supervisor else ("agent_id", self.agent_id)
        )
        return [format_topic(scope, scope_id, resource) for resource in resources]

    @property
    def principal(self) -> Principal:
        return Principal(
            customer_id=self.customer_id, agent_id=self.agent_id or None, permission=self.permission
        )

    @classmethod
    def token_refused(cls, pk: int) -> None:
        """VoIPBIN refused the user's token (401/403): every page says so until they sign in again."""
        cls.objects.filter(pk=pk).update(token_rejected_at=timezone.now())

    @property
    def voipbin_session_expired(self) -> bool:
        if not self.voipbin_token or self.token_rejected_at is not None:
            return True
        return self.token_expires_at is not None and self.token_expires_at <= timezone.now()


SETTLED = "dashboard_settled"
"""Set in a row's data when the dashboard ended it because VoIPBIN no longer listed it as active
(``dashboard.reconcile``): it ended while nobody was listening, we do not know how."""
SETTLED_REASON = "ended while disconnected"


def merged_data(stored: dict[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """What an event carries over what we knew. A row we settled that VoIPBIN speaks of again is no
    longer settled: its news replaces our guess."""
    data = {**stored, **incoming}
    if SETTLED not in incoming:
        data.pop(SETTLED, None)
    return data


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
    """One call leg. A caller's conversation is the customer's call (``master_call_id`` empty) and the
    agent legs VoIPBIN dials for it (``master_call_id`` = the customer's call): ``dashboard.calls``."""

    ENDED = ("hangup",)

    master_call_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="The customer's call this agent leg serves"
    )
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
        source, source_name = _address(data.get("source"))
        destination, destination_name = _address(data.get("destination"))
        status = str(data.get("status") or "")
        answered = parse_time(data.get("tm_progressing"))
        if answered is None and status in ("progressing", "answered"):
            answered = changed_at(data)
        return {
            "customer_id": str(data.get("customer_id") or ""),
            "owner_agent_id": str(data.get("owner_id") or "")
            if data.get("owner_type", "agent") == "agent"
            else "",
            "status": "progressing" if status == "answered" else status,
            "tm_update": changed_at(data),
            "master_call_id": str(data.get("master_call_id") or ""),
            "direction": str(data.get("direction") or ""),
            "source": source,
            "source_name": source_name,
            "destination": destination,
            "destination_name": destination_name,
            "hangup_reason": str(data.get("hangup_reason") or (SETTLED_REASON if data.get(SETTLED) else "")),
            "hangup_by": str(data.get("hangup_by") or ""),
            "tm_create": parse_time(data.get("tm_create")),
            "tm_answer": answered,
            "tm_hangup": parse_time(data.get("tm_hangup")),
        }


# --- Auto-replies: accounts, messages, rules and what the relay did -----------------------------
# The account relay (dashboard/accountrelay.py) keeps these; the decisions themselves are made by
# the plain-Python engine in dashboard/rules/, which these models feed and record.


class ReplyMode(models.TextChoices):
    FIRST = rules.Mode.FIRST.value, "First matching rule only"
    ALL = rules.Mode.ALL.value, "Every matching rule"


def _default_markers() -> list[str]:
    return list(rules.DEFAULT_AUTOMATED_TEXT_MARKERS)


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"“{value}” is not an IANA time zone such as Europe/Berlin.") from exc


def validate_string_list(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError('Give a list of non-empty texts, e.g. ["+15555550100"].')


def validate_numbers(value: Any) -> None:
    validate_string_list(value)
    if not value:
        raise ValidationError("An account needs at least one of its phone numbers.")


class Account(models.Model):
    """A VoIPBIN account whose inbound SMS the relay answers, with its safety settings."""

    name = models.CharField(max_length=120)
    customer_id = models.CharField(max_length=64, unique=True)
    access_key = EncryptedTextField(help_text="VoIPBIN access key of the account; stored encrypted")
    numbers = models.JSONField(
        default=list, validators=[validate_numbers], help_text='Our E.164 numbers, e.g. ["+15555550102"]'
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    enabled = models.BooleanField(default=True, help_text="Off: the relay neither listens nor replies")
    mode = models.CharField(max_length=8, choices=ReplyMode.choices, default=ReplyMode.FIRST)
    daily_cap = models.PositiveIntegerField(
        default=rules.DEFAULT_DAILY_CAP, help_text="Most auto-replies one sender gets per local day"
    )
    automated_min_digits = models.PositiveIntegerField(
        default=DEFAULT_MIN_SENDER_DIGITS, help_text="Senders with fewer digits are machines (short codes)"
    )
    automated_senders = models.JSONField(
        default=list, blank=True, validators=[validate_string_list], help_text="Numbers never answered"
    )
    automated_markers = models.JSONField(
        default=_default_markers,
        blank=True,
        validators=[validate_string_list],
        help_text="Texts that mark a message as machine-sent",
    )
    rules_version = models.UUIDField(
        default=uuid.uuid4,
        editable=False,
        help_text="New with every change to the account's rules: the relay compiles them again then",
    )

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """An account's own changes never write ``rules_version``: an instance read before a rule
        changed would put back the version the relay compiled the older rules under."""
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "rules_version"
            ]
        super().save(*args, **kwargs)

    @staticmethod
    def rules_changed(account_id: int) -> None:
        """Say the account's rules changed (``rules_version``); in the transaction that changed them."""
        Account.objects.filter(pk=account_id).update(rules_version=uuid.uuid4())

    def settings(self) -> rules.AccountSettings:
        return rules.AccountSettings(
            time_zone=ZoneInfo(self.time_zone),
            own_numbers=frozenset(self.numbers),
            automated=rules.AutomatedSenders(
                min_digits=self.automated_min_digits,
                senders=frozenset(self.automated_senders),
                text_markers=tuple(self.automated_markers),
            ),
            daily_cap=self.daily_cap,
        )

    def clean(self) -> None:
        try:
            rules.validate_account(self.settings())
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            return  # the field validators report these
        except rules.RuleError as exc:
            field = {"min_digits": "automated_min_digits", "daily_cap": "daily_cap"}.get(exc.field or "")
            raise ValidationError({field or NON_FIELD_ERRORS: exc.message}) from exc


def _message_fields(data: dict[str, Any]) -> dict[str, Any]:
    targets = data.get("targets") if isinstance(data.get("targets"), list) else []
    first = targets[0] if targets and isinstance(targets[0], dict) else {}
    direction = str(data.get("direction") or "")
    source = _address(data.get("source"))[0]
    destination = _address(first.get("destination"))[0]
    remote, ours = (destination, source) if direction == "outbound" else (source, destination)
    return {
        "customer_id": str(data.get("customer_id") or ""),
        "status": str(first.get("status") or ""),
        "tm_update": changed_at(data),
        "direction": direction,
        "source": source,
        "destination": destination,
        "remote": remote,
        "our_number": ours,
        "text": str(data.get("text") or ""),
        "tm_create": parse_time(data.get("tm_create")),
    }


class Message(LiveResource):
    """An SMS as its newest event left it; ``status`` is the first target's.

    A thread is the conversation between one of our numbers and one remote number:
    ``(customer_id, our_number, remote)``, whichever way each message went.
    """

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL)
    direction = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=128, blank=True)
    destination = models.CharField(max_length=128, blank=True, help_text="The first target's number")
    remote = models.CharField(max_length=128, blank=True, help_text="The other party's number")
    our_number = models.CharField(max_length=128, blank=True, help_text="Our number in the conversation")
    text = models.TextField(blank=True)
    tm_create = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the auto-reply rules ran on it (they run once per message)"
    )
    sent_by = models.ForeignKey(
        "User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who replied from the inbox (empty for received messages and auto-replies)",
    )

    class Meta:
        indexes = [
            models.Index(fields=["account", "source", "destination", "tm_create"]),
            models.Index(fields=["customer_id", "our_number", "remote", "tm_create"], name="message_thread"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} SMS {self.source} → {self.destination}"

    @classmethod
    def upsert(cls, event: Event, *, account: Account | None) -> Message:
        """Store the event's message, changing an existing row only if the event is newer."""
        with transaction.atomic():
            row = cls.objects.select_for_update().filter(pk=event.resource_id).first()
            if row is None:
                data = dict(event.data)
                fields = _message_fields(data)
                fields["customer_id"] = fields["customer_id"] or event.customer_id or ""
                try:
                    with transaction.atomic():  # a savepoint: another worker may insert it first
                        return cls.objects.create(pk=event.resource_id, account=account, data=data, **fields)
                except IntegrityError:
                    row = cls.objects.select_for_update().get(pk=event.resource_id)
            if newer_than(event.data, row.data):
                row.data = merged_data(row.data, event.data)
                for name, value in _message_fields(row.data).items():
                    if value or name != "customer_id":
                        setattr(row, name, value)
                row.account = row.account or account
                row.save()
            return row


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise rules.RuleError("Give a list of texts.", field=field)
    return tuple(value)


def _windows(value: Any) -> tuple[rules.TimeWindow, ...]:
    if not isinstance(value, list | tuple):
        raise rules.RuleError("Time windows are a list.", field="windows")
    windows = []
    for item in value:
        try:
            weekdays = item["weekdays"]
            if not isinstance(weekdays, list) or not all(isinstance(day, int) for day in weekdays):
                raise TypeError
            windows.append(
                rules.TimeWindow(
                    weekdays=frozenset(weekdays),
                    start=time.fromisoformat(item["start"]),
                    end=time.fromisoformat(item["end"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise rules.RuleError(
                'Each time window is {"weekdays": [0, …, 6], "start": "HH:MM", "end": "HH:MM"}.',
                field="windows",
            ) from exc
    return tuple(windows)


# The engine's name for a field, where the model's differs.
_RULE_FIELDS = {"cooldown": "cooldown_minutes"}
_NUMBER_LISTS = ("senders_in", "senders_not_in", "receiving_numbers")
RULE_CHECK = "rule"
"""The code of the errors ``Rule.clean`` raises (a form drops them on fields it refused itself)."""


class Rule(models.Model):
    """One auto-reply: the conditions an inbound SMS must meet, and the text sent back."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)
    order = models.IntegerField(default=0, help_text="Rules run in this order, lowest first")
    reply = models.TextField(help_text="Placeholders: {sender}, {our_number}, {time}")
    keywords = models.JSONField(default=list, blank=True)
    whole_word = models.BooleanField(default=False)
    exact_text = models.CharField(max_length=500, blank=True)
    regex = models.CharField(max_length=500, blank=True, help_text="RE2 syntax")
    senders_in = models.JSONField(default=list, blank=True)
    senders_not_in = models.JSONField(default=list, blank=True)
    receiving_numbers = models.JSONField(default=list, blank=True)
    windows = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]',
    )
    outside_windows = models.BooleanField(default=False)
    first_message_only = models.BooleanField(default=False)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    closes_conversation = models.BooleanField(
        default=False,
        help_text=(
            "An auto-reply by this rule counts as the answer: the conversation no longer awaits a person"
        ),
    )

    class Meta:
        ordering = ("order", "pk")

    def __str__(self) -> str:
        return self.name

    def to_engine(self) -> rules.Rule:
        """The engine's rule; raises ``RuleError`` for JSON fields of the wrong shape."""
        return rules.Rule(
            id=self.pk or 0,
            name=self.name,
            reply=self.reply,
            order=self.order,
            enabled=self.enabled,
            cooldown=timedelta(minutes=self.cooldown_minutes or 0),
            conditions=rules.Conditions(
                keywords=_strings(self.keywords, "keywords"),
                whole_word=self.whole_word,
                exact_text=self.exact_text or None,
                regex=self.regex or None,
                senders_in=_strings(self.senders_in, "senders_in"),
                senders_not_in=_strings(self.senders_not_in, "senders_not_in"),
                receiving_numbers=_strings(self.receiving_numbers, "receiving_numbers"),
                windows=_windows(self.windows),
                outside_windows=self.outside_windows,
                first_message_only=self.first_message_only,
            ),
        )

    def clean(self) -> None:
        """Every problem at once: the engine's checks, and numbers that are not E.164, each by name."""
        try:
            problems = rules.rule_problems(self.to_engine())
        except rules.RuleError as exc:  # stored JSON of the wrong shape
            problems = [exc]
        errors: dict[str, list[ValidationError]] = {}
        for problem in problems:
            field = _RULE_FIELDS.get(problem.field or "", problem.field) or NON_FIELD_ERRORS
            errors.setdefault(field, []).append(ValidationError(problem.message, code=RULE_CHECK))
        for name in _NUMBER_LISTS:
            value = getattr(self, name)
            if name not in errors and isinstance(value, list):
                entries = [entry for entry in value if isinstance(entry, str)]
                errors[name] = [ValidationError(text, code=RULE_CHECK) for text in e164_problems(entries)]
        errors = {field: found for field, found in errors.items() if found}
        if errors:
            raise ValidationError(errors)


@receiver([post_save, post_delete], sender=Rule, dispatch_uid="rule-changed")
def _rule_changed(sender: type[Rule], instance: Rule, **kwargs: Any) -> None:
    """Any save or delete of a rule, from any page, the admin or a shell (``bulk_update`` does not
    send these: its callers say so themselves)."""
    Account.rules_changed(instance.account_id)


class AutoReplyStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class AutoReply(models.Model):
    """A reply claimed before it is sent: the row exists first, so no message is answered twice.

    Rules and accounts are protected while replies point at them: the history of what we sent
    feeds the cooldown and the daily cap, so disable a rule rather than delete it.
    """

    inbound_message_id = models.CharField(max_length=64)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="auto_replies")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="auto_replies")
    sender = models.CharField(max_length=128, help_text="Who wrote to us, and gets the reply")
    our_number = models.CharField(max_length=128, help_text="The number that received it, and replies")
    reply_text = models.TextField()
    status = models.CharField(max_length=8, choices=AutoReplyStatus.choices, default=AutoReplyStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Indexed: the inbox looks auto-replies up by the message they went out as (dashboard/inbox/threads.py).
    reply_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    send_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the send began: replies of one message go out one by one"
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "auto-replies"
        constraints = [
            models.UniqueConstraint(fields=["inbound_message_id", "rule"], name="one_auto_reply_per_rule")
        ]
        indexes = [models.Index(fields=["account", "sender", "created_at"])]

    def __str__(self) -> str:
        return f"reply to {self.sender} ({self.status})"


class RuleDecisionLog(models.Model):
    """What one rule did with one message, and why (the engine's ``Decision``)."""

    ALREADY_ANSWERED = "already_answered"

    message_id = models.CharField(max_length=64, db_index=True)
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL)
    rule_name = models.CharField(max_length=120, blank=True, help_text="Kept when the rule is deleted")
    reason = models.CharField(max_length=32)
    # The Decision's ``check``; that name is taken by ``Model.check()``.
    check_name = models.CharField(max_length=32, blank=True, help_text="The condition or guard that decided")
    detail = models.TextField(blank=True)
    until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created", "pk")

    def __str__(self) -> str:
        return f"{self.rule_name}: {self.reason}"


class ThreadRead(models.Model):
    """How far a user has read one inbox thread: later inbound messages count as unread."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    customer_id = models.CharField(max_length=64)
    our_number = models.CharField(max_length=128)
    remote = models.CharField(max_length=128)
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "customer_id", "our_number", "remote"], name="one_read_mark_per_thread"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.our_number} ↔ {self.remote} up to {self.read_at:%Y-%m-%d %H:%M}"


class RuleChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"


class RuleChange(models.Model):
    """Who created, changed or deleted a rule, and what changed (from the admin or the rules page)."""

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes")
    rule_name = models.CharField(max_length=120, help_text="Kept when the rule is deleted")
    action = models.CharField(max_length=8, choices=RuleChangeAction.choices)
    changes = models.JSONField(
        default=dict, blank=True, help_text='{"field": [before, after]}; a created or deleted rule\'s fields'
    )
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_by_name = models.CharField(max_length=150, help_text="Kept when the user is deleted")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created", "-pk")

    def __str__(self) -> str:
        return f"{self.rule_name} {self.get_action_display().lower()} by {self.changed_by_name}"


# --- Queues, agents and the team wall display -------------------------------------------------


class Agent(LiveResource):
    """A VoIPBIN agent of the account (not necessarily signed in here); ``owner_agent_id`` is its id."""

    name = models.CharField(max_length=128, blank=True)
    username = models.CharField(max_length=128, blank=True)
    tag_ids = models.JSONField(default=list, blank=True, help_text="Queues whose tags it holds route to it")
    status_since = models.DateTimeField(null=True, blank=True, help_text="When it entered its current status")

    class Meta:
        indexes = [models.Index(fields=["customer_id", "status"])]

    def __str__(self) -> str:
        return f"{self.name or self.username or self.pk} ({self.status})"


_DAY_SECONDS = 24 * 3600  # thresholds beyond a day mean nothing (and overflow date arithmetic)


class Queue(LiveResource):
    """A VoIPBIN queue, with the thresholds supervisors set here (kept when VoIPBIN updates it)."""

    name = models.CharField(max_length=128, blank=True)
    tag_ids = models.JSONField(default=list, blank=True)
    wait_queuecall_ids = models.JSONField(default=list, blank=True)
    service_queuecall_ids = models.JSONField(default=list, blank=True)
    service_level_seconds = models.PositiveIntegerField(
        default=20,
        validators=[MaxValueValidator(_DAY_SECONDS)],
        help_text="A caller answered within this many seconds counts toward the service level",
    )
    warn_waiting = models.PositiveIntegerField(
        default=3, validators=[MaxValueValidator(10_000)], help_text="Callers waiting: warning at this many"
    )
    critical_waiting = models.PositiveIntegerField(default=6, validators=[MaxValueValidator(10_000)])
    warn_longest_wait_seconds = models.PositiveIntegerField(
        default=60, validators=[MaxValueValidator(_DAY_SECONDS)]
    )
    critical_longest_wait_seconds = models.PositiveIntegerField(
        default=120, validators=[MaxValueValidator(_DAY_SECONDS)]
    )
    warn_service_level = models.PositiveSmallIntegerField(
        default=80, help_text="Warning below this percentage"
    )
    critical_service_level = models.PositiveSmallIntegerField(default=60)

    def __str__(self) -> str:
        return self.name or self.pk

    def clean(self) -> None:
        errors = {}
        if self.critical_waiting < self.warn_waiting:
            errors["critical_waiting"] = "The critical count must be at least the warning count."
        if self.critical_longest_wait_seconds < self.warn_longest_wait_seconds:
            errors["critical_longest_wait_seconds"] = "The critical wait must be at least the warning wait."
        if self.critical_service_level > self.warn_service_level:
            errors["critical_service_level"] = "The critical level must be at most the warning level."
        if self.warn_service_level > 100:
            errors["warn_service_level"] = "A percentage is at most 100."
        if not self.service_level_seconds:
            errors["service_level_seconds"] = "Give at least one second."
        if errors:
            raise ValidationError(errors)


class Queuecall(LiveResource):
    """One caller's stay in a queue; ``queue_id`` from the event when it has one, else from queue lists."""

    queue_id = models.CharField(max_length=64, blank=True, db_index=True)
    reference_id = models.CharField(max_length=64, blank=True, help_text="The call")
    service_agent_id = models.CharField(max_length=64, blank=True)
    tm_create = models.DateTimeField(null=True, blank=True)
    tm_service = models.DateTimeField(null=True, blank=True, help_text="When an agent answered")
    tm_end = models.DateTimeField(null=True, blank=True, help_text="When it was done or abandoned")

    class Meta:
        indexes = [models.Index(fields=["customer_id", "queue_id", "tm_create"])]

    def __str__(self) -> str:
        return f"queuecall {self.pk} ({self.status})"


class WallPanel(models.TextChoices):
    QUEUES = "queues", "Queues"
    INBOX = "inbox", "Inbox"


def _default_panels() -> list[str]:
    return [WallPanel.QUEUES.value, WallPanel.INBOX.value]


def validate_panels(value: Any) -> None:
    allowed = set(WallPanel.values)
    if not isinstance(value, list) or not value or not set(value) <= allowed:
        raise ValidationError(f"Choose one or more panels of: {', '.join(sorted(allowed))}.")


class WallDisplay(models.Model):
    """A link for a TV on the wall: shows one account's queues and inbox, grants nothing else.

    Only a SHA-256 of the token is stored (the token is 256 random bits, so a slow hash adds
    nothing); the link is shown once, when it is created.
    """

    name = models.CharField(max_length=120)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="walls")
    panels = models.JSONField(default=_default_panels, validators=[validate_panels])
    rotation_seconds = models.PositiveSmallIntegerField(default=15, help_text="Seconds each panel stays")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until revoked")
    revoked_at = models.DateTimeField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def clean(self) -> None:
        if self.rotation_seconds is not None and self.rotation_seconds < 5:
            raise ValidationError({"rotation_seconds": "Give each panel at least 5 seconds."})


# --- Flow execution -----------------------------------------------------------------------------


class Activeflow(LiveResource):
    """Where one call is in its VoIPBIN flow: the current action, as its newest event left it."""

    ENDED = ("ended",)

    flow_id = models.CharField(max_length=64, blank=True, db_index=True)
    reference_type = models.CharField(max_length=32, blank=True)
    reference_id = models.CharField(max_length=64, blank=True, db_index=True, help_text="The call")
    current_action_id = models.CharField(max_length=64, blank=True)
    current_action_type = models.CharField(max_length=64, blank=True)
    tm_create = models.DateTimeField(null=True, blank=True)
    tm_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer_id", "status", "flow_id"])]

    def __str__(self) -> str:
        return f"activeflow {self.pk} at {self.current_action_type or '?'} ({self.status})"


class Flow(LiveResource):
    """A VoIPBIN flow (the script calls run), for its name: VoIPBIN lists them (``GET /flows``)."""

    name = models.CharField(max_length=255, blank=True)
    detail = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name or self.pk


class ActiveflowStep(models.Model):
    """An action a flow was seen entering, at VoIPBIN's time: the timeline is ordered by ``started_at``,
    never by arrival, and a duplicate event finds its step already there."""

    activeflow_id = models.CharField(max_length=64, db_index=True)
    action_id = models.CharField(max_length=64)
    action_type = models.CharField(max_length=64)
    started_at = models.DateTimeField()

    class Meta:
        ordering = ("started_at", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=["activeflow_id", "action_id", "started_at"], name="one_step_per_action_entry"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action_type} at {self.started_at:%H:%M:%S}"
