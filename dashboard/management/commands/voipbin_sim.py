"""``manage.py voipbin_sim``: run the bundled VoIPBIN simulator (REST + event WebSocket)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from dashboard.simulator.cli import add_arguments, config_from_options
from dashboard.simulator.server import run


class Command(BaseCommand):
    help = "Run the bundled VoIPBIN simulator until SIGINT or SIGTERM."

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run(options["host"], options["port"], config_from_options(options))
