"""VoIPBIN event topics: grammar, matching and subscription permissions.

A topic is ``<scope>:<scope-id>:<resource>:<resource-id>`` (VOIPBIN.md §3).
Two matching semantics exist and both are honoured:

* the tutorial's: ``*`` as the resource id matches every resource of that kind;
* VoIPBIN's code: a plain string prefix, ``*`` not special, so a three-part
  ``customer_id:<cid>:call`` receives every call (and, because the code also
  publishes under ``customer_id:<cid>:call:<event_type>:<id>``, can receive an
  event twice).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

SCOPES = ("customer_id", "agent_id")
WILDCARD = "*"


class Permission(enum.IntFlag):
    """Agent permission bits as VoIPBIN stores them."""

    NONE = 0
    PROJECT_SUPER_ADMIN = 1
    AGENT = 16
    ADMIN = 32
    MANAGER = 64


CUSTOMER_SCOPE_PERMISSIONS = Permission.ADMIN | Permission.MANAGER


class Semantics(enum.StrEnum):
    TUTORIAL = "tutorial"
    PREFIX = "prefix"


class InvalidTopic(ValueError):
    """The text is not a topic VoIPBIN would accept."""


class TopicDenied(PermissionError):
    """The principal may not subscribe to this topic."""


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


@dataclass(frozen=True, slots=True)
class Topic:
    scope: str
    scope_id: str
    resource: str
    # None for a three-part (code-style prefix) topic; "*" for the wildcard.
    resource_id: str | None = WILDCARD

    def __str__(self) -> str:
        return format_topic(self.scope, self.scope_id, self.resource, self.resource_id)

    @property
    def is_wildcard(self) -> bool:
        return self.resource_id in (None, WILDCARD)


def format_topic(scope: str, scope_id: str, resource: str, resource_id: str | None = WILDCARD) -> str:
    parts = [scope, scope_id, resource]
    if resource_id is not None:
        parts.append(resource_id)
    return ":".join(parts)


def resource_topics(
    *, resource: str, resource_id: str, customer_id: str | None, owner_agent_id: str | None
) -> list[str]:
    """The concrete topics VoIPBIN publishes a resource under: its customer's and its agent's."""
    found = []
    if customer_id:
        found.append(format_topic("customer_id", customer_id, resource, resource_id))
    if owner_agent_id:
        found.append(format_topic("agent_id", owner_agent_id, resource, resource_id))
    return found


def parse_topic(text: str) -> Topic:
    """Parse and validate a subscription topic (three or four parts)."""
    if not isinstance(text, str):
        raise InvalidTopic("a topic must be a string")
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise InvalidTopic(f"expected scope:scope-id:resource[:resource-id], got {text!r}")
    scope, scope_id, resource = parts[:3]
    if scope not in SCOPES:
        raise InvalidTopic(f"unknown scope {scope!r} (expected customer_id or agent_id)")
    if not _is_uuid(scope_id):
        raise InvalidTopic(f"scope id {scope_id!r} is not a UUID")
    if not resource or not resource.isascii() or not resource.replace("_", "").isalpha():
        raise InvalidTopic(f"resource {resource!r} is not a resource name")
    resource_id: str | None = None
    if len(parts) == 4:
        resource_id = parts[3]
        if resource_id != WILDCARD and not _is_uuid(resource_id):
            raise InvalidTopic(f"resource id {resource_id!r} is neither '*' nor a UUID")
    return Topic(scope, scope_id, resource.lower(), resource_id)


def matches(subscription: str, event_topic: str, *, semantics: Semantics = Semantics.TUTORIAL) -> bool:
    """Does an event published under ``event_topic`` reach ``subscription``?

    Under tutorial semantics the event topic may also be the code's long form
    ``scope:id:resource:<event_type>:<resource-id>``: its last part is the id.
    """
    if semantics is Semantics.PREFIX:
        return event_topic.startswith(subscription)
    sub = subscription.split(":")
    event = event_topic.split(":")
    if len(sub) != 4 or len(event) < 4:
        return False
    if sub[:3] != event[:3]:
        return False
    return sub[3] == WILDCARD or sub[3] == event[-1]


def matches_any(subscriptions: frozenset[str] | set[str], event_topics: list[str] | tuple[str, ...]) -> bool:
    """Whether any event topic reaches any subscription, under either semantics."""
    for topic in event_topics:
        for subscription in subscriptions:
            if matches(subscription, topic) or matches(subscription, topic, semantics=Semantics.PREFIX):
                return True
    return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is subscribing: an agent (from its JWT) or an account access key."""

    customer_id: str
    agent_id: str | None = None
    permission: int = 0
    access_key: bool = False

    @property
    def may_see_customer(self) -> bool:
        return self.access_key or bool(Permission(self.permission) & CUSTOMER_SCOPE_PERMISSIONS)


def check_subscription(principal: Principal, topic: str | Topic) -> Topic:
    """Return the parsed topic if ``principal`` may subscribe to it, else raise.

    VOIPBIN.md §3: customer scope needs the same customer and admin/manager
    (an access key counts as admin); agent scope is for that agent only.
    """
    parsed = topic if isinstance(topic, Topic) else parse_topic(topic)
    if parsed.scope == "customer_id":
        if parsed.scope_id != principal.customer_id:
            raise TopicDenied(f"{parsed} belongs to another customer")
        if not principal.may_see_customer:
            raise TopicDenied(f"{parsed} needs the admin or manager permission")
    elif principal.agent_id is None or parsed.scope_id != principal.agent_id:
        raise TopicDenied(f"{parsed} belongs to another agent")
    return parsed


def may_subscribe(principal: Principal, topic: str | Topic) -> bool:
    try:
        check_subscription(principal, topic)
    except (InvalidTopic, TopicDenied):
        return False
    return True


def principal_topics(principal: Principal, resources: Iterable[str]) -> list[str]:
    """The widest topics a principal may hold for ``resources``.

    Each resource is asked for in both forms: the tutorial's ``…:call:*`` and
    the code's prefix ``…:call``, so every event arrives whichever way the
    server matches (a server matching both ways delivers twice: de-duplicate).
    """
    if principal.may_see_customer:
        scope, scope_id = "customer_id", principal.customer_id
    elif principal.agent_id:
        scope, scope_id = "agent_id", principal.agent_id
    else:
        return []
    topics = []
    for resource in resources:
        topics += [format_topic(scope, scope_id, resource), format_topic(scope, scope_id, resource, None)]
    return topics
