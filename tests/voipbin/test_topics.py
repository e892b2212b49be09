"""Topic grammar, both matching semantics and the permission table of VOIPBIN.md §3."""

from __future__ import annotations

import uuid

import pytest

from dashboard.voipbin.topics import (
    InvalidTopic,
    Permission,
    Principal,
    Semantics,
    TopicDenied,
    check_subscription,
    format_topic,
    matches,
    matches_any,
    may_subscribe,
    parse_topic,
    principal_topics,
)

CUSTOMER = str(uuid.UUID(int=1))
OTHER_CUSTOMER = str(uuid.UUID(int=2))
AGENT = str(uuid.UUID(int=11))
OTHER_AGENT = str(uuid.UUID(int=12))
CALL = str(uuid.UUID(int=101))

# Who may hold what: an agent only its own agent topics; admin, manager and an
# access key their own customer's topics; nobody another customer's.
AGENT_P = Principal(customer_id=CUSTOMER, agent_id=AGENT, permission=Permission.AGENT)
MANAGER_P = Principal(customer_id=CUSTOMER, agent_id=OTHER_AGENT, permission=Permission.MANAGER)
ADMIN_P = Principal(
    customer_id=CUSTOMER, agent_id=OTHER_AGENT, permission=Permission.ADMIN | Permission.AGENT
)
KEY_P = Principal(customer_id=CUSTOMER, access_key=True)
OUTSIDER_P = Principal(
    customer_id=OTHER_CUSTOMER, agent_id=str(uuid.UUID(int=99)), permission=Permission.ADMIN
)


def test_parse_four_part_topic():
    topic = parse_topic(f"customer_id:{CUSTOMER}:call:{CALL}")
    assert (topic.scope, topic.scope_id, topic.resource, topic.resource_id) == (
        "customer_id",
        CUSTOMER,
        "call",
        CALL,
    )
    assert str(topic) == f"customer_id:{CUSTOMER}:call:{CALL}"


def test_parse_wildcard_and_prefix_forms():
    assert parse_topic(f"agent_id:{AGENT}:queue:*").is_wildcard
    prefix = parse_topic(f"customer_id:{CUSTOMER}:call")
    assert prefix.resource_id is None
    assert str(prefix) == f"customer_id:{CUSTOMER}:call"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "customer_id",
        f"tenant_id:{CUSTOMER}:call:*",
        "customer_id:12345:call:*",
        f"customer_id:{CUSTOMER}::*",
        f"customer_id:{CUSTOMER}:call:not-a-uuid",
        f"customer_id:{CUSTOMER}:call:*:extra",
        f"customer_id:{CUSTOMER}:ca ll:*",
    ],
)
def test_invalid_topics_are_rejected(text):
    with pytest.raises(InvalidTopic):
        parse_topic(text)


def test_tutorial_wildcard_matches_every_resource_of_its_kind():
    sub = format_topic("customer_id", CUSTOMER, "call")
    assert matches(sub, f"customer_id:{CUSTOMER}:call:{CALL}")
    assert not matches(sub, f"customer_id:{CUSTOMER}:message:{CALL}")
    assert not matches(sub, f"customer_id:{OTHER_CUSTOMER}:call:{CALL}")


def test_tutorial_concrete_id_matches_one_resource_and_the_long_code_topic():
    sub = f"customer_id:{CUSTOMER}:call:{CALL}"
    assert matches(sub, f"customer_id:{CUSTOMER}:call:{CALL}")
    assert matches(sub, f"customer_id:{CUSTOMER}:call:call_hangup:{CALL}")
    assert not matches(sub, f"customer_id:{CUSTOMER}:call:{uuid.UUID(int=102)}")


def test_prefix_semantics_treat_star_literally_and_three_parts_as_all():
    three = f"customer_id:{CUSTOMER}:call"
    assert matches(three, f"customer_id:{CUSTOMER}:call:{CALL}", semantics=Semantics.PREFIX)
    assert matches(three, f"customer_id:{CUSTOMER}:call:call_hangup:{CALL}", semantics=Semantics.PREFIX)
    star = f"customer_id:{CUSTOMER}:call:*"
    assert not matches(star, f"customer_id:{CUSTOMER}:call:{CALL}", semantics=Semantics.PREFIX)
    # The tutorial does not know three-part topics.
    assert not matches(three, f"customer_id:{CUSTOMER}:call:{CALL}")


def test_matches_any_accepts_either_semantics():
    event_topics = [f"customer_id:{CUSTOMER}:call:{CALL}"]
    assert matches_any({f"customer_id:{CUSTOMER}:call:*"}, event_topics)
    assert matches_any({f"customer_id:{CUSTOMER}:call"}, event_topics)
    assert not matches_any({f"customer_id:{CUSTOMER}:message:*"}, event_topics)


@pytest.mark.parametrize(
    ("principal", "topic", "allowed"),
    [
        (AGENT_P, f"agent_id:{AGENT}:call:*", True),
        (AGENT_P, f"agent_id:{AGENT}:queue", True),
        (AGENT_P, f"agent_id:{OTHER_AGENT}:call:*", False),
        (AGENT_P, f"customer_id:{CUSTOMER}:call:*", False),
        (MANAGER_P, f"customer_id:{CUSTOMER}:call:*", True),
        (MANAGER_P, f"agent_id:{AGENT}:call:*", False),
        (MANAGER_P, f"agent_id:{OTHER_AGENT}:call:*", True),
        (ADMIN_P, f"customer_id:{CUSTOMER}:message:*", True),
        (KEY_P, f"customer_id:{CUSTOMER}:message:*", True),
        (KEY_P, f"agent_id:{AGENT}:call:*", False),
        (OUTSIDER_P, f"customer_id:{CUSTOMER}:call:*", False),
        (OUTSIDER_P, f"agent_id:{AGENT}:call:*", False),
        (
            Principal(customer_id=CUSTOMER, agent_id=AGENT, permission=Permission.PROJECT_SUPER_ADMIN),
            f"customer_id:{CUSTOMER}:call:*",
            False,
        ),
    ],
)
def test_permission_table(principal, topic, allowed):
    assert may_subscribe(principal, topic) is allowed


def test_denial_says_why():
    with pytest.raises(TopicDenied, match="another customer"):
        check_subscription(OUTSIDER_P, f"customer_id:{CUSTOMER}:call:*")
    with pytest.raises(TopicDenied, match="admin or manager"):
        check_subscription(AGENT_P, f"customer_id:{CUSTOMER}:call:*")
    with pytest.raises(InvalidTopic):
        check_subscription(MANAGER_P, "customer_id:nope:call:*")


def test_principal_topics_cover_both_semantics_within_permissions():
    agent_topics = principal_topics(AGENT_P, ["call"])
    assert agent_topics == [f"agent_id:{AGENT}:call:*", f"agent_id:{AGENT}:call"]
    assert all(may_subscribe(AGENT_P, t) for t in agent_topics)
    manager_topics = principal_topics(MANAGER_P, ["call", "message"])
    assert len(manager_topics) == 4
    assert all(t.startswith(f"customer_id:{CUSTOMER}:") for t in manager_topics)
    assert principal_topics(Principal(customer_id=CUSTOMER), ["call"]) == []
