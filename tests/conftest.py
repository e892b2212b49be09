"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dashboard.simulator.server import SimServer

# --- VoIPBIN simulator fixtures (dashboard/simulator owns this block) ---------------------------


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[SimServer]:
    """The VoIPBIN simulator on a free port: test controls on, scenario engine off.

    Nothing happens unless the test makes it happen (``/_sim/…`` or the
    SimServer methods). The dialect can be chosen indirectly:
    ``@pytest.mark.parametrize("sim", ["legacy"], indirect=True)``.
    """
    server = SimServer(controls=True, scenario=False, dialect=getattr(request, "param", "tutorial"))
    await server.start()
    yield server
    await server.stop()


# --- end of the VoIPBIN simulator block ---------------------------------------------------------
