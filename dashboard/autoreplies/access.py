"""Who may see and change a customer's auto-reply rules.

VoIPBIN admins edit their own customer's rules; supervisors (managers) may look, dry-run, replay
and read the decision log; agents see nothing. The account is always the one whose customer id is
the user's, so another customer's rows are simply not there to find (404, never 403).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from dashboard.models import Account, Role, User


def account_of(user: User) -> Account | None:
    """The user's customer's account, or None when no operator has configured one yet."""
    if not user.customer_id:
        return None
    return Account.objects.filter(customer_id=user.customer_id).first()


def can_edit(user: User) -> bool:
    return user.role == Role.ADMIN


def viewable_account(user: User) -> Account | None:
    """The account a supervisor or admin may look at; agents are refused outright."""
    if not user.is_supervisor:
        raise PermissionDenied("Only supervisors and admins see the auto-reply rules.")
    return account_of(user)


def editable_account(user: User) -> Account:
    """The account an admin may change; supervisors are refused, a missing account is a 404."""
    if not can_edit(user):
        raise PermissionDenied("Only VoIPBIN admins change auto-reply rules.")
    account = account_of(user)
    if account is None:
        raise Http404("No auto-reply account is configured for your VoIPBIN customer.")
    return account
