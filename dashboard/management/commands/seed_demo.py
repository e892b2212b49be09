"""``manage.py seed_demo``: the simulator's demo account, a first auto-reply rule and an operator.

For the embedded demo only (``make demo`` runs it every time): it creates what is missing and
changes nothing else, so rules edited in the admin survive the next demo. The operator is a local
Django superuser for the admin panel; VoIPBIN users sign in to the dashboard itself.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard.models import Account, Rule, User
from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER, DEMO_NUMBERS, DEMO_PASSWORD

OPERATOR = "operator"


class Command(BaseCommand):
    help = "Create the demo account (simulator), a 'help' auto-reply rule and the admin operator if missing."

    def handle(self, *args: object, **options: object) -> None:
        account, created = Account.objects.get_or_create(
            customer_id=DEMO_CUSTOMER.id,
            defaults={
                "name": DEMO_CUSTOMER.name,
                "access_key": DEMO_ACCESS_KEY,
                "numbers": list(DEMO_NUMBERS),
                "time_zone": "UTC",
            },
        )
        if created:
            Rule.objects.create(
                account=account,
                name="Help keyword",
                order=10,
                keywords=["help", "support"],
                whole_word=True,
                reply="Thanks for reaching out, {sender}! An agent will text you back shortly. (auto-reply)",
            )
        if not User.objects.filter(username=OPERATOR).exists():
            User.objects.create_superuser(OPERATOR, password=DEMO_PASSWORD)
        state = "created" if created else "already there"
        self.stdout.write(f"Demo account {account.name} {state}; {account.rules.count()} auto-reply rule(s).")
