"""Light load: 10 signed-in supervisors at 100 events/s; target p99 ≤ 5 ms (issue 7).

The supervisors benchmark with other defaults (``bench/supervisors.py``), so ``make bench`` runs both.

    .venv/bin/python bench/light.py [--users 10] [--rate 100] [--seconds 20] [--quick]
"""

from __future__ import annotations

from supervisors import main

if __name__ == "__main__":
    main(users=10, rate=100, target="light")
