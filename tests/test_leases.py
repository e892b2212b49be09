"""Leases decide which process owns a user's upstream session: locally, and in a real Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from dashboard.leases import LocalLeases, RedisLeases

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["local", "redis"])
async def leases(request):
    if request.param == "local":
        yield LocalLeases()
        return
    import redis.asyncio as redis

    probe = redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except (redis.ConnectionError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc} (CI=true: may not skip)")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    finally:
        await probe.aclose()
    store = RedisLeases(REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:")
    yield store
    await store.aclose()


async def test_one_owner_at_a_time(leases):
    assert await leases.claim("user:1", "process-a", ttl=5)
    assert not await leases.claim("user:1", "process-b", ttl=5)
    assert await leases.claim("user:1", "process-a", ttl=5)  # renewing is claiming again
    assert await leases.claim("user:2", "process-b", ttl=5)  # other users are independent


async def test_release_hands_over_and_only_the_owner_may_release(leases):
    await leases.claim("user:1", "process-a", ttl=5)
    await leases.release("user:1", "process-b")  # not theirs: no effect
    assert not await leases.claim("user:1", "process-b", ttl=5)
    await leases.release("user:1", "process-a")
    assert await leases.claim("user:1", "process-b", ttl=5)


async def test_a_dead_owners_lease_runs_out(leases):
    assert await leases.claim("user:1", "process-a", ttl=0.2)
    assert not await leases.claim("user:1", "process-b", ttl=5)
    await asyncio.sleep(0.3)
    assert await leases.claim("user:1", "process-b", ttl=5)
    assert not await leases.claim("user:1", "process-a", ttl=5)  # the old owner learns it lost
