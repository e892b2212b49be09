"""Everything a simulator run can be told, with the defaults VoIPBIN itself has."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.simulator.frames import Dialect
from dashboard.simulator.scenario import Rates

SEVEN_DAYS = 7 * 24 * 3600.0
_DEFAULT_RATES = Rates()
DEMO_RATES = Rates(sms_per_minute=3.0)
"""What ``make demo`` plays: calm queues that go warning or critical in busy spells (bench/staffing.py)."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = 1
    dialect: Dialect = Dialect.BARE
    controls: bool = False
    """Serve the ``/_sim/`` test controls (404 otherwise)."""
    scenario: bool = True
    """Run the scenario engine in real time from the start."""
    speed: float = 1.0
    """Virtual seconds per real second for the scenario driver."""
    calls_per_minute: float = _DEFAULT_RATES.calls_per_minute
    sms_per_minute: float = _DEFAULT_RATES.sms_per_minute
    breaks_per_hour: float = _DEFAULT_RATES.breaks_per_hour
    peak_factor: float = _DEFAULT_RATES.peak_factor
    ping_interval: float = 10.0
    pong_timeout: float = 60.0
    buffer_limit: int = 2000
    token_lifetime: float = SEVEN_DAYS
    """Seconds a login's JWT stays valid; tests shorten it."""
    jwt_secret: str = "voipbin-simulator-signing-key-not-a-secret"
    hangup_delay: float = 0.05
    """Seconds between the REST hangup's ``terminating`` and the final ``hangup``."""

    @property
    def rates(self) -> Rates:
        return Rates(self.calls_per_minute, self.sms_per_minute, self.breaks_per_hour, self.peak_factor)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dialect", Dialect(self.dialect))
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if min(self.calls_per_minute, self.sms_per_minute, self.breaks_per_hour) < 0:
            raise ValueError("rates cannot be negative")
        if self.peak_factor < 1:
            raise ValueError("peak_factor must be at least 1")
        if self.ping_interval <= 0 or self.pong_timeout <= 0:
            raise ValueError("ping_interval and pong_timeout must be positive")
        if self.buffer_limit < 1:
            raise ValueError("buffer_limit must be at least 1")
