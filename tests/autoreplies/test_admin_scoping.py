"""The Django admin: operators (superusers) see every customer; a staff user only their own customer.

Rule and reply-mode changes made in the admin are recorded like those of the rules page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission as DjangoPermission
from django.test import Client
from django.utils import timezone

from dashboard.autoreplies import audit
from dashboard.models import (
    Account,
    AutoReply,
    Rule,
    RuleChange,
    RuleChangeAction,
    RuleDecisionLog,
    User,
)
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
from dashboard.voipbin.topics import Permission
from tests.autoreplies.conftest import CUSTOMER, client_for, inbound, make_user, rule

pytestmark = pytest.mark.django_db

ADMIN_PERMISSIONS = [
    f"{action}_{model}" for model in ("account", "rule") for action in ("view", "add", "change", "delete")
] + ["view_autoreply", "view_ruledecisionlog", "view_rulechange"]


def staff(username: str, customer_id: str) -> User:
    """A staff user who is not a superuser, with every model permission the admin needs."""
    user = make_user(username, customer_id=customer_id, agent_id="", permission=Permission.ADMIN)
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        DjangoPermission.objects.filter(content_type__app_label="dashboard", codename__in=ADMIN_PERMISSIONS)
    )
    return user


@pytest.fixture
def acme_staff(acme) -> Client:
    return client_for(staff("acme-staff", DEMO_CUSTOMER_ID))


@pytest.fixture
def both(acme: Account, globex: Account, globex_rule: Rule) -> dict[str, Any]:
    """One of everything for Acme and for Globex."""
    acme_rule = rule(acme, "Acme help", 10)
    rows: dict[str, Any] = {"acme": {}, "globex": {}}
    for key, account, account_rule in (("acme", acme, acme_rule), ("globex", globex, globex_rule)):
        message = inbound(account, f"{key}-m1", at=timezone.now(), text="help", to=account.numbers[0])
        rows[key] = {
            "account": account,
            "rule": account_rule,
            "autoreply": AutoReply.objects.create(
                inbound_message_id=message.pk,
                rule=account_rule,
                account=account,
                sender=CUSTOMER,
                our_number=account.numbers[0],
                reply_text="hi",
            ),
            "ruledecisionlog": RuleDecisionLog.objects.create(
                message_id=message.pk, rule=account_rule, rule_name=account_rule.name, reason="fired"
            ),
            "rulechange": audit.record_change(
                account=account,
                rule=account_rule,
                rule_name=account_rule.name,
                before=None,
                after={},
                by=None,
            ),
        }
    # A decision of a rule since deleted is still Acme's, through its message.
    rows["acme"]["orphan_log"] = RuleDecisionLog.objects.create(
        message_id="acme-m1", rule=None, rule_name="Deleted rule", reason="no_match"
    )
    return rows


def listed(client: Client, model: str) -> set[int]:
    response = client.get(f"/admin/dashboard/{model}/")
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize("model", ["account", "rule", "autoreply", "ruledecisionlog", "rulechange"])
def test_staff_sees_only_their_customers_rows(both, acme_staff, model):
    expected = {both["acme"][model].pk}
    if model == "ruledecisionlog":
        expected.add(both["acme"]["orphan_log"].pk)

    assert listed(acme_staff, model) == expected


@pytest.mark.parametrize("model", ["account", "rule", "autoreply", "ruledecisionlog", "rulechange"])
def test_superuser_sees_every_customer(both, admin_client, model):
    assert {both["acme"][model].pk, both["globex"][model].pk} <= listed(admin_client, model)


def test_staff_without_a_customer_id_sees_nothing(both):
    client = client_for(staff("nobody", ""))

    assert listed(client, "rule") == set()
    assert listed(client, "account") == set()


@pytest.mark.parametrize("model", ["account", "rule", "autoreply", "ruledecisionlog", "rulechange"])
def test_staff_cannot_open_another_customers_row(both, acme_staff, model):
    response = acme_staff.get(f"/admin/dashboard/{model}/{both['globex'][model].pk}/change/", follow=True)

    html = response.content.decode()
    assert "doesn\u2019t exist" in html  # Django's message, with its typographic apostrophe
    assert "Globex secret rule" not in html


def test_staff_cannot_change_another_customers_rule(both, acme_staff):
    globex_rule = both["globex"]["rule"]

    acme_staff.post(f"/admin/dashboard/rule/{globex_rule.pk}/change/", rule_post(both["acme"]["account"]))

    globex_rule.refresh_from_db()
    assert globex_rule.name == "Globex secret rule"


def test_rule_form_offers_only_the_staff_users_accounts(both, acme_staff):
    form = acme_staff.get("/admin/dashboard/rule/add/").context["adminform"].form

    assert list(form.fields["account"].queryset) == [both["acme"]["account"]]
    assert "Globex" not in str(list(form.fields["account"].choices))


def test_staff_cannot_put_a_rule_into_another_customers_account(both, acme_staff):
    sneaky = rule_post(both["globex"]["account"], name="Sneaky")

    response = acme_staff.post("/admin/dashboard/rule/add/", sneaky)

    assert response.status_code == 200
    assert "account" in response.context["adminform"].form.errors
    assert not Rule.objects.filter(name="Sneaky").exists()


def test_staff_cannot_add_accounts_or_move_theirs_to_another_customer(both, acme_staff):
    assert acme_staff.get("/admin/dashboard/account/add/").status_code == 403
    page = acme_staff.get(f"/admin/dashboard/account/{both['acme']['account'].pk}/change/")
    assert "customer_id" not in page.context["adminform"].form.fields


def test_rule_changes_in_the_admin_are_recorded(acme, admin_client, admin_user):
    admin_client.post("/admin/dashboard/rule/add/", rule_post(acme, name="From admin", order="5"))
    created = Rule.objects.get(name="From admin")
    url = f"/admin/dashboard/rule/{created.pk}/change/"
    admin_client.post(url, rule_post(acme, name="From admin", order="7"))
    admin_client.post(f"/admin/dashboard/rule/{created.pk}/delete/", {"post": "yes"})

    changes = list(RuleChange.objects.order_by("pk"))
    assert [change.action for change in changes] == [
        RuleChangeAction.CREATE,
        RuleChangeAction.UPDATE,
        RuleChangeAction.DELETE,
    ]
    assert changes[0].changes["order"] == 5
    assert changes[1].changes == {"order": [5, 7]}
    assert changes[2].rule_name == "From admin"
    assert {change.changed_by for change in changes} == {admin_user}
    assert not Rule.objects.filter(name="From admin").exists()


def test_order_column_of_the_rule_list_is_recorded(acme, admin_client):
    first, second = rule(acme, "A", 10), rule(acme, "B", 20)

    response = admin_client.post(
        "/admin/dashboard/rule/",
        {
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "2",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(first.pk),
            "form-0-order": "30",
            "form-1-id": str(second.pk),
            "form-1-order": "20",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    [change] = RuleChange.objects.all()
    assert (change.rule, change.changes) == (first, {"order": [10, 30]})


def test_bulk_delete_action_records_each_rule(acme, admin_client):
    a, b = rule(acme, "A", 10), rule(acme, "B", 20)

    selected = {"action": "delete_selected", "_selected_action": [a.pk, b.pk], "post": "yes"}
    admin_client.post("/admin/dashboard/rule/", selected)

    assert not Rule.objects.exists()
    assert sorted(RuleChange.objects.values_list("rule_name", "action")) == [("A", "delete"), ("B", "delete")]


def test_reply_mode_changed_in_the_admin_is_recorded(acme, admin_client):
    form = admin_client.get(f"/admin/dashboard/account/{acme.pk}/change/").context["adminform"].form
    data = {name: form[name].value() for name in form.fields if name != "access_key"}
    data.update(numbers='["+15555550102"]', automated_senders="[]", automated_markers='["noreply"]')
    data.update(mode="all", access_key="")
    data = {key: value for key, value in data.items() if value not in (None, False)}

    response = admin_client.post(f"/admin/dashboard/account/{acme.pk}/change/", data)

    assert response.status_code == 302
    [change] = RuleChange.objects.all()
    assert (change.rule_name, change.changes) == (audit.ACCOUNT_MODE, {"mode": ["first", "all"]})


def test_rule_change_admin_is_read_only_and_says_what_changed(both, admin_client):
    assert admin_client.get("/admin/dashboard/rulechange/add/").status_code == 403
    change = both["acme"]["rulechange"]
    change.changes = {"reply": ["a", "b"]}
    change.action = RuleChangeAction.UPDATE
    change.save()

    html = admin_client.get("/admin/dashboard/rulechange/").content.decode()

    assert "Reply text: “a” → “b”" in html
    deleting = admin_client.post(f"/admin/dashboard/rulechange/{change.pk}/delete/", {"post": "yes"})
    assert deleting.status_code == 403


def rule_post(account: Account, **overrides: str) -> dict[str, str]:
    data = {
        "account": str(account.pk),
        "name": "Posted",
        "enabled": "on",
        "order": "0",
        "reply": "Hi {sender}",
        "keywords": "[]",
        "exact_text": "",
        "regex": "",
        "senders_in": "[]",
        "senders_not_in": "[]",
        "receiving_numbers": "[]",
        "windows": "[]",
        "cooldown_minutes": "60",
    }
    data.update(overrides)
    return data
