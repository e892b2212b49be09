"""Every change to rules leaves a RuleChange saying who changed what, from the rules page or the admin."""

from __future__ import annotations

import pytest

from dashboard.autoreplies import audit
from dashboard.models import Rule, RuleChange, RuleChangeAction
from tests.autoreplies.conftest import client_for, rule
from tests.autoreplies.test_rules_page import form_data

pytestmark = pytest.mark.django_db


def only_change() -> RuleChange:
    [change] = RuleChange.objects.all()
    return change


def test_create_records_every_field_and_who(acme, acme_admin):
    client_for(acme_admin).post("/rules/new/", form_data(keywords="hours\nopen", cooldown_minutes="30"))

    change = only_change()
    created = Rule.objects.get()
    assert change.action == RuleChangeAction.CREATE
    assert (change.rule, change.account, change.rule_name) == (created, acme, "Opening hours")
    assert (change.changed_by, change.changed_by_name) == (acme_admin, "Admin (admin)")
    assert set(change.changes) == set(audit.RULE_FIELDS)
    assert change.changes["keywords"] == ["hours", "open"]
    assert change.changes["cooldown_minutes"] == 30
    assert change.changes["order"] == 10


def test_update_records_only_the_changed_fields_before_and_after(acme, acme_admin):
    saved = rule(acme, "Hours", 10, keywords=["hours"], reply="We open at 9.")

    client_for(acme_admin).post(
        f"/rules/{saved.pk}/edit/", form_data(name="Hours", keywords="hours, open", reply="We open at 8.")
    )

    change = only_change()
    assert change.action == RuleChangeAction.UPDATE
    assert change.rule == saved
    assert change.changes == {
        "keywords": [["hours"], ["hours", "open"]],
        "reply": ["We open at 9.", "We open at 8."],
    }


def test_saving_an_unchanged_rule_records_nothing(acme, acme_admin):
    saved = rule(acme, "Hours", 10, reply="Hi {sender}, we open at 9.")

    response = client_for(acme_admin).post(f"/rules/{saved.pk}/edit/", form_data(name="Hours"))

    assert response.status_code == 302
    assert not RuleChange.objects.exists()


def test_delete_records_every_field_and_keeps_the_name(acme, acme_admin):
    saved = rule(acme, "Hours", 10, keywords=["hours"])

    client_for(acme_admin).post(f"/rules/{saved.pk}/delete/")

    change = only_change()
    assert not Rule.objects.exists()
    assert change.action == RuleChangeAction.DELETE
    assert change.rule is None
    assert change.rule_name == "Hours"
    assert change.account == acme
    assert change.changes["keywords"] == ["hours"]
    assert set(change.changes) == set(audit.RULE_FIELDS)


def test_move_up_swaps_with_the_neighbour_and_records_both(acme, acme_admin):
    rule(acme, "A", 10)
    rule(acme, "B", 20)
    third = rule(acme, "C", 30)

    client_for(acme_admin).post(f"/rules/{third.pk}/move/", {"direction": "up"})

    assert list(acme.rules.values_list("name", "order")) == [("A", 10), ("C", 20), ("B", 30)]
    changes = {change.rule_name: change.changes for change in RuleChange.objects.all()}
    assert changes == {"C": {"order": [30, 20]}, "B": {"order": [20, 30]}}
    assert {change.action for change in RuleChange.objects.all()} == {RuleChangeAction.UPDATE}


def test_moving_the_first_rule_up_changes_nothing(acme, acme_admin):
    first = rule(acme, "A", 10)
    rule(acme, "B", 20)

    response = client_for(acme_admin).post(f"/rules/{first.pk}/move/", {"direction": "up"})

    assert response.status_code == 302
    assert list(acme.rules.values_list("name", "order")) == [("A", 10), ("B", 20)]
    assert not RuleChange.objects.exists()


def test_colliding_orders_are_renumbered_before_the_swap(acme, acme_admin):
    rule(acme, "A", 5)
    b = rule(acme, "B", 5)
    rule(acme, "C", 5)

    client_for(acme_admin).post(f"/rules/{b.pk}/move/", {"direction": "down"})

    assert list(acme.rules.values_list("name", "order")) == [("A", 10), ("C", 20), ("B", 30)]
    changes = {change.rule_name: change.changes for change in RuleChange.objects.all()}
    assert changes == {"A": {"order": [5, 10]}, "B": {"order": [5, 30]}, "C": {"order": [5, 20]}}


def test_bad_direction_is_refused(acme, acme_admin):
    saved = rule(acme, "A", 10)

    assert (
        client_for(acme_admin).post(f"/rules/{saved.pk}/move/", {"direction": "sideways"}).status_code == 400
    )


def test_switching_off_and_on_is_recorded(acme, acme_admin):
    saved = rule(acme, "Help", 10)
    client = client_for(acme_admin)

    client.post(f"/rules/{saved.pk}/enabled/", {"enabled": "off"})
    saved.refresh_from_db()
    assert saved.enabled is False
    client.post(f"/rules/{saved.pk}/enabled/", {"enabled": "on"})

    changes = list(RuleChange.objects.order_by("pk").values_list("rule_name", "changes"))
    assert changes == [("Help", {"enabled": [True, False]}), ("Help", {"enabled": [False, True]})]


def test_mode_change_is_recorded_as_an_account_mode_update(acme, acme_admin):
    client_for(acme_admin).post("/rules/mode/", {"mode": "all"})

    change = only_change()
    assert change.action == RuleChangeAction.UPDATE
    assert (change.rule, change.rule_name, change.account) == (None, audit.ACCOUNT_MODE, acme)
    assert change.changes == {"mode": ["first", "all"]}


def test_history_on_the_rules_page_says_who_changed_what(acme, acme_admin, supervisor):
    saved = rule(acme, "Hours", 10, reply="We open at 9.")
    client_for(acme_admin).post(f"/rules/{saved.pk}/edit/", form_data(name="Hours", reply="We open at 8."))
    client_for(acme_admin).post("/rules/mode/", {"mode": "all"})

    html = client_for(supervisor).get("/rules/").content.decode()

    assert "<strong>Admin (admin)</strong> changed <strong>Hours</strong>" in html
    assert "Reply text: “We open at 9.” → “We open at 8.”" in html
    assert "Reply mode: First matching rule only → Every matching rule" in html


def test_record_change_refuses_a_change_without_states(acme):
    with pytest.raises(ValueError, match="needs the state"):
        audit.record_change(account=acme, rule=None, rule_name="x", before=None, after=None, by=None)
