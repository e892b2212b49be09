"""Fixtures of the fault tests. The real deployment (PostgreSQL, Redis, the web process, signed-in users) is
tests/multiprocess's, imported rather than copied: without PostgreSQL or Redis these tests skip,
except under ``CI=true`` where they fail."""

from __future__ import annotations

from tests.multiprocess.conftest import deployment, postgres_database, redis_server  # noqa: F401
from tests.walls.conftest import account, feed  # noqa: F401
