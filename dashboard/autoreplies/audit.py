"""Every change to a customer's auto-reply rules, recorded with who made it.

The rules page and the Django admin change rules only through the functions here, so both leave
the same ``RuleChange`` rows: a created or deleted rule with all its fields, an update with only the
fields that changed as ``{field: [before, after]}`` (moving a rule is an update of ``order``,
switching it on or off an update of ``enabled``). The account's reply mode is not a rule's field but
changes what the rules do, so it is recorded as an update with no rule, named ``(account mode)``:
``{"mode": ["first", "all"]}``.

Each change runs in one transaction that first locks the account's row, the same lock the relay
takes to evaluate a message (``dashboard.autoreply``): a message sees the rules before or after a
change, never half of it.
"""

from __future__ import annotations

from typing import Any, Literal

from django.db import transaction

from dashboard.models import Account, Rule, RuleChange, RuleChangeAction, User

ACCOUNT_MODE = "(account mode)"
ORDER_STEP = 10
RULE_FIELDS: tuple[str, ...] = tuple(
    field.name for field in Rule._meta.concrete_fields if field.name not in ("id", "account")
)


def snapshot(rule: Rule) -> dict[str, Any]:
    """The rule's audited fields as JSON values (lists copied, so later edits do not alter it)."""
    return {name: _copy(getattr(rule, name)) for name in RULE_FIELDS}


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value


def author_name(user: User | None) -> str:
    """A name that still says who it was after the user row is gone."""
    if user is None:
        return "(system)"
    full = user.get_full_name()
    name = f"{full} ({user.get_username()})" if full else user.get_username()
    return name[:150]


def record_change(
    *,
    account: Account | None,
    rule: Rule | None,
    rule_name: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    by: User | None,
) -> RuleChange | None:
    """Record one change; the action follows from what existed (no ``before``: created, …).

    Returns None for an update that changed nothing, so saving an untouched form leaves no noise.
    """
    if before is None and after is None:
        raise ValueError("a change needs the state before, after, or both")
    if before is None:
        action, changes = RuleChangeAction.CREATE, dict(after or {})
    elif after is None:
        action, changes = RuleChangeAction.DELETE, dict(before)
    else:
        action = RuleChangeAction.UPDATE
        changes = {
            name: [before.get(name), after.get(name)]
            for name in (*before, *(key for key in after if key not in before))
            if before.get(name) != after.get(name)
        }
        if not changes:
            return None
    return RuleChange.objects.create(
        account=account,
        rule=rule,
        rule_name=rule_name[:120],
        action=action,
        changes=changes,
        changed_by=by,
        changed_by_name=author_name(by),
    )


def _lock_account(account_id: int) -> None:
    list(Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True))


def next_order(account: Account) -> int:
    last = account.rules.order_by("-order").values_list("order", flat=True).first()
    return ORDER_STEP if last is None else last + ORDER_STEP


def save_rule(*, rule: Rule, by: User | None, append: bool = False) -> RuleChange | None:
    """Save a new or edited rule and record it; ``append`` puts a new rule after the last one."""
    with transaction.atomic():
        _lock_account(rule.account_id)
        stored = Rule.objects.filter(pk=rule.pk).first() if rule.pk else None
        if stored is None and append:
            rule.order = next_order(rule.account)
        rule.save()
        return record_change(
            account=rule.account,
            rule=rule,
            rule_name=rule.name,
            before=snapshot(stored) if stored is not None else None,
            after=snapshot(rule),
            by=by,
        )


def delete_rule(*, rule: Rule, by: User | None) -> RuleChange | None:
    """Delete and record; raises ``ProtectedError`` (recording nothing) when replies point at it."""
    with transaction.atomic():
        _lock_account(rule.account_id)
        stored = Rule.objects.filter(pk=rule.pk).first()
        if stored is None:
            return None
        change = record_change(
            account=rule.account,
            rule=stored,
            rule_name=stored.name,
            before=snapshot(stored),
            after=None,
            by=by,
        )
        stored.delete()
        return change


def set_enabled(*, rule: Rule, enabled: bool, by: User | None) -> RuleChange | None:
    """Switch one rule on or off, touching nothing else of it (an admin may be editing the text)."""
    with transaction.atomic():
        _lock_account(rule.account_id)
        stored = Rule.objects.select_for_update().get(pk=rule.pk)
        before = snapshot(stored)
        stored.enabled = enabled
        stored.save(update_fields=["enabled"])
        rule.enabled = enabled
        return record_change(
            account=stored.account,
            rule=stored,
            rule_name=stored.name,
            before=before,
            after=snapshot(stored),
            by=by,
        )


def move_rule(*, rule: Rule, direction: Literal["up", "down"], by: User | None) -> list[RuleChange]:
    """Swap the rule's place with its neighbour's; returns one change per rule whose order moved.

    Orders that collide (possible through the admin's order column) are first renumbered in steps
    of ten, keeping the current order, so "up" always means one place up.
    """
    with transaction.atomic():
        _lock_account(rule.account_id)
        rows = list(
            Rule.objects.select_for_update().filter(account_id=rule.account_id).order_by("order", "pk")
        )
        before = {row.pk: snapshot(row) for row in rows}
        if len({row.order for row in rows}) < len(rows):
            for place, row in enumerate(rows, start=1):
                row.order = place * ORDER_STEP
        index = next((i for i, row in enumerate(rows) if row.pk == rule.pk), None)
        if index is not None:
            other = index - 1 if direction == "up" else index + 1
            if 0 <= other < len(rows):
                rows[index].order, rows[other].order = rows[other].order, rows[index].order
        moved = [row for row in rows if row.order != before[row.pk]["order"]]
        Rule.objects.bulk_update(moved, ["order"])
        Account.rules_changed(rule.account_id)
        changes = [
            record_change(
                account=rule.account,
                rule=row,
                rule_name=row.name,
                before=before[row.pk],
                after=snapshot(row),
                by=by,
            )
            for row in moved
        ]
        return [change for change in changes if change is not None]


def save_account(
    *, account: Account, by: User | None, update_fields: list[str] | None = None
) -> RuleChange | None:
    """Save the account; a changed reply mode is recorded (see the module's note)."""
    with transaction.atomic():
        stored = (
            Account.objects.select_for_update().filter(pk=account.pk).values_list("mode", flat=True).first()
            if account.pk
            else None
        )
        account.save(update_fields=update_fields)
        if stored is None or stored == account.mode:
            return None
        return record_change(
            account=account,
            rule=None,
            rule_name=ACCOUNT_MODE,
            before={"mode": stored},
            after={"mode": account.mode},
            by=by,
        )
