"""Leases: which process owns a user's upstream session, across the whole deployment.

A lease is a key with an owner and a time to live. The owner renews it while
it holds the session and releases it on close; if the owner dies, the lease
runs out and another process serving that user's tabs takes it over. With
Redis (``REDIS_URL``) leases are shared by every process; the embedded
default keeps them in the process, where the same code decides the same way.
"""

from __future__ import annotations

import time
from typing import Protocol

from django.conf import settings


class Leases(Protocol):
    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Take the lease if free, or extend it if already ``owner``'s; False if another holds it."""

    async def release(self, key: str, owner: str) -> None: ...
    async def aclose(self) -> None: ...


class LocalLeases:
    """Leases inside one process (the embedded default)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    def _owner(self, key: str) -> str | None:
        held = self._held.get(key)
        if held is None or held[1] <= time.monotonic():
            return None
        return held[0]

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        if self._owner(key) not in (None, owner):
            return False
        self._held[key] = (owner, time.monotonic() + ttl)
        return True

    async def release(self, key: str, owner: str) -> None:
        if self._owner(key) == owner:
            del self._held[key]

    async def aclose(self) -> None:
        self._held.clear()


# Extend if ours; take it if free (also after a restarted Redis forgot everything).
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not current then
  return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') and 1 or 0
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLeases:
    """Leases in Redis, shared by every web process and relay worker."""

    def __init__(self, url: str, *, prefix: str = "dashboard:lease:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix
        self._claim = self._redis.register_script(_CLAIM)
        self._release = self._redis.register_script(_RELEASE)

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        return bool(await self._claim(keys=[self._prefix + key], args=[owner, int(ttl * 1000)]))

    async def release(self, key: str, owner: str) -> None:
        await self._release(keys=[self._prefix + key], args=[owner])

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_leases() -> Leases:
    return RedisLeases(settings.REDIS_URL) if settings.REDIS_URL else LocalLeases()
