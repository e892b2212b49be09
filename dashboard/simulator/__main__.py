"""``python -m dashboard.simulator``: the simulator without Django."""

from __future__ import annotations

import argparse

from dashboard.simulator.cli import add_arguments, config_from_options
from dashboard.simulator.server import run


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.simulator", description="Run the VoIPBIN simulator."
    )
    add_arguments(parser)
    options = vars(parser.parse_args())
    run(options["host"], options["port"], config_from_options(options))


if __name__ == "__main__":
    main()
