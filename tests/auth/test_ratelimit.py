"""Rate limits in memory and in the machine's Redis (127.0.0.1:6379, or BATONFLOW_TEST_REDIS).

Redis tests give every id a random token, and the global limit a random window length (the
global key has no id), so parallel runs never share a key; each test deletes its keys.
"""

from __future__ import annotations

import math
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import redis.asyncio
from dirty_equals import IsStr

from batonflow.auth.ratelimit import RateLimiter
from batonflow.auth.scopes import Principal
from batonflow.errors import ConfigError, RateLimited
from batonflow.settings import Settings

REDIS_URL = os.environ.get("BATONFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")
DAY = 86_400


def principal(id: str, tenant_id: str, kind: Literal["user", "api_key"] = "user") -> Principal:
    return Principal(
        kind=kind, id=id, tenant_id=tenant_id, name=id, roles=frozenset(), scopes=frozenset()
    )


def settings(**values: Any) -> Settings:
    defaults = {
        "rate_limit_user": "1000/day",
        "rate_limit_tenant": "1000/day",
        "rate_limit_global": "1000/day",
        "rate_limit_login": "1000/day",
    }
    return Settings(**{**defaults, **values})


@contextmanager
def window_reset(period: int) -> Iterator[list[int]]:
    """The whole seconds the memory storage's counter window (aligned to the epoch) has left,
    measured before and after the block: the counter's Retry-After lies between them."""
    before = time.time()
    bounds: list[int] = []
    yield bounds
    after = time.time()
    bounds += [math.ceil(period - after % period), math.ceil(period - before % period)]


async def refused(check: Any) -> RateLimited:
    with pytest.raises(RateLimited) as caught:
        await check
    return caught.value


def rejection(error: RateLimited) -> dict[str, Any]:
    return {"message": error.message, "retry_after": error.retry_after, "details": error.details}


@pytest.fixture
async def memory_limiter() -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter(
        settings(rate_limit_user="3/day", rate_limit_tenant="5/day", rate_limit_global="8/day")
    )
    yield limiter
    await limiter.close()


# -- memory storage ------------------------------------------------------------------------------


async def test_a_user_over_their_limit_is_told_when_to_come_back(
    memory_limiter: RateLimiter,
) -> None:
    ada = principal("ada", "acme")
    for _ in range(3):
        await memory_limiter.check_request(ada)
    with window_reset(DAY) as bounds:
        error = await refused(memory_limiter.check_request(ada))
    assert bounds[0] <= error.retry_after <= bounds[1]
    assert rejection(error) == {
        "message": f"rate limited by the per-user limit (3 per 1 day); retry after {error.retry_after} s",
        "retry_after": error.retry_after,
        "details": {"retry_after": error.retry_after, "limit": "user"},
    }
    # An API key with the same id as the user has its own budget.
    for _ in range(2):
        await memory_limiter.check_request(principal("ada", "acme", kind="api_key"))
    assert memory_limiter.rejections == Counter({"user": 1})


async def test_other_users_of_the_tenant_go_on_until_the_tenant_limit(
    memory_limiter: RateLimiter,
) -> None:
    ada, bob = principal("ada", "acme"), principal("bob", "acme")
    for _ in range(3):
        await memory_limiter.check_request(ada)
    # Refused requests take nothing from the tenant's budget (5): Bob still gets the last two.
    for _ in range(3):
        await refused(memory_limiter.check_request(ada))
    await memory_limiter.check_request(bob)
    await memory_limiter.check_request(bob)
    with window_reset(DAY) as bounds:
        error = await refused(memory_limiter.check_request(bob))
    assert bounds[0] <= error.retry_after <= bounds[1]
    assert rejection(error) == {
        "message": f"rate limited by the tenant's limit (5 per 1 day); retry after {error.retry_after} s",
        "retry_after": error.retry_after,
        "details": {"retry_after": error.retry_after, "limit": "tenant"},
    }
    await memory_limiter.check_request(principal("cy", "globex"))
    assert memory_limiter.rejections == Counter({"user": 3, "tenant": 1})


async def test_the_global_limit_spans_tenants(memory_limiter: RateLimiter) -> None:
    for tenant in ("acme", "globex", "initech"):
        await memory_limiter.check_request(principal("ada", tenant))
        await memory_limiter.check_request(principal("bob", tenant))
    await memory_limiter.check_global()
    await memory_limiter.check_global()  # 8 of 8: unauthenticated routes draw from it too
    with window_reset(DAY) as bounds:
        by_request = await refused(memory_limiter.check_request(principal("eve", "umbrella")))
        by_route = await refused(memory_limiter.check_global())
    assert bounds[0] <= by_request.retry_after <= bounds[1]
    assert by_route.retry_after == by_request.retry_after
    assert rejection(by_route) == {
        "message": f"rate limited by the global limit (8 per 1 day); retry after {by_route.retry_after} s",
        "retry_after": by_route.retry_after,
        "details": {"retry_after": by_route.retry_after, "limit": "global"},
    }
    assert memory_limiter.rejections == Counter({"global": 2})


async def test_login_is_limited_per_account_and_per_address_apart() -> None:
    limiter = RateLimiter(settings(rate_limit_login="3/minute"))
    # One account from many addresses: the account's limit (the spelling does not matter).
    for account, ip in (
        ("ada@acme.test", "10.0.0.1"),
        ("Ada@Acme.test", "10.0.0.2"),
        (" ada@acme.test", "10.0.0.3"),
    ):
        await limiter.check_login(account, ip)
    account_error = await refused(limiter.check_login("ada@acme.test", "10.0.0.9"))
    await refused(limiter.check_login("ada@acme.test", "10.0.0.9"))
    # Many accounts from one address: the address's limit. 10.0.0.9 lost nothing above.
    for account in ("bob@acme.test", "cy@acme.test", "dee@acme.test"):
        await limiter.check_login(account, "10.0.0.9")
    ip_error = await refused(limiter.check_login("eve@acme.test", "10.0.0.9"))
    await limiter.check_login("eve@acme.test", "10.0.0.10")

    # The moving window: the oldest attempt leaves a minute after it was made.
    assert [rejection(account_error), rejection(ip_error)] == [
        {
            "message": "rate limited by the login limit for this account (3 per 1 minute); retry after 60 s",
            "retry_after": 60,
            "details": {"retry_after": 60, "limit": "login_account"},
        },
        {
            "message": "rate limited by the login limit for this client address (3 per 1 minute); retry after 60 s",
            "retry_after": 60,
            "details": {"retry_after": 60, "limit": "login_ip"},
        },
    ]
    assert limiter.rejections == Counter({"login_account": 2, "login_ip": 1})
    await limiter.close()


async def test_memory_storage_is_always_ready() -> None:
    limiter = RateLimiter(settings())
    await limiter.check()
    await limiter.close()


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "rate_limit_user",
            "lots",
            "BATONFLOW_RATE_LIMIT_USER='lots' is not a rate limit; write it like '600/minute' "
            "or '10 per 5 minutes' (couldn't parse rate limit string 'lots')",
        ),
        (
            "rate_limit_tenant",
            "5/fortnight",
            "BATONFLOW_RATE_LIMIT_TENANT='5/fortnight' is not a rate limit; write it like "
            "'600/minute' or '10 per 5 minutes' (no granularity matched for fortnight)",
        ),
        (
            "rate_limit_global",
            "5/minute;100/hour",
            "BATONFLOW_RATE_LIMIT_GLOBAL='5/minute;100/hour' must be one rate limit, such as '600/minute'",
        ),
        (
            "rate_limit_login",
            "0/minute",
            "BATONFLOW_RATE_LIMIT_LOGIN='0/minute' must allow at least one request",
        ),
        (
            "redis_url",
            "memcached://127.0.0.1:11211",
            "BATONFLOW_REDIS_URL must be a redis://, rediss:// or unix:// URL, not memcached://",
        ),
    ],
)
def test_settings_that_cannot_work_name_their_variable(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        RateLimiter(settings(**{field: value}))
    assert str(caught.value) == message


async def test_an_unreachable_redis_fails_fast_and_says_so() -> None:
    # Port 1 on loopback refuses connections at once.
    limiter = RateLimiter(settings(redis_url="redis://user:secret@127.0.0.1:1/0"))
    started = time.monotonic()
    with pytest.raises(ConfigError) as at_startup:
        await limiter.check()
    with pytest.raises(ConfigError) as on_request:
        await limiter.check_request(principal("ada", "acme"))
    assert time.monotonic() - started < 2
    where = "Redis at redis://127.0.0.1:1/0 (BATONFLOW_REDIS_URL, where rate limits are kept)"
    assert [str(at_startup.value), str(on_request.value)] == [
        f"{where} does not answer",
        IsStr(regex=re.escape(f"{where} failed: Error 111 connecting to 127.0.0.1:1.") + ".*"),
    ]
    await limiter.close()


# -- Redis: two API replicas, one budget -----------------------------------------------------


@dataclass
class Namespace:
    token: str  # in every id, so in every key but the global one
    minutes: int  # the global limit's window length, which is in the global key

    def global_limit(self, amount: int) -> str:
        return f"{amount} per {self.minutes} minutes"


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except redis.RedisError as error:
        pytest.fail(
            f"these tests need Redis at {REDIS_URL} ({error}); start it with: redis-server "
            '--daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
        )
    yield client
    await client.aclose()


@pytest.fixture
async def namespace(redis_client: redis.asyncio.Redis) -> AsyncIterator[Namespace]:
    ns = Namespace(token=uuid.uuid4().hex, minutes=random.randrange(100_000, 1_000_000))
    yield ns
    for pattern in (
        f"batonflow:*{ns.token}*",
        f"batonflow:{{LIMITER/global/all/*/{ns.minutes}/minute}}*",
    ):
        keys = [key async for key in redis_client.scan_iter(match=pattern)]
        if keys:
            await redis_client.delete(*keys)


@pytest.fixture
async def replicas(namespace: Namespace) -> AsyncIterator[tuple[RateLimiter, RateLimiter]]:
    config = settings(
        redis_url=REDIS_URL,
        rate_limit_user="5/minute",
        rate_limit_tenant="7/minute",
        rate_limit_global=namespace.global_limit(9),
        rate_limit_login="3/minute",
    )
    a, b = RateLimiter(config), RateLimiter(config)
    await a.check()
    await b.check()
    yield a, b
    await a.close()
    await b.close()


async def test_two_replicas_share_one_user_budget(
    replicas: tuple[RateLimiter, RateLimiter],
    namespace: Namespace,
    redis_client: redis.asyncio.Redis,
) -> None:
    a, b = replicas
    ada = principal(f"ada-{namespace.token}", f"acme-{namespace.token}")
    for limiter in (a, a, a, b, b):
        await limiter.check_request(ada)
    on_a = await refused(a.check_request(ada))
    on_b = await refused(b.check_request(ada))
    # Redis's counter window starts at the window's first request: a whole minute to wait.
    assert [rejection(on_a), rejection(on_b)] == [
        {
            "message": "rate limited by the per-user limit (5 per 1 minute); retry after 60 s",
            "retry_after": 60,
            "details": {"retry_after": 60, "limit": "user"},
        }
    ] * 2
    assert (a.rejections, b.rejections) == (Counter({"user": 1}), Counter({"user": 1}))
    keys = sorted(
        [
            key.decode()
            async for key in redis_client.scan_iter(match=f"batonflow:*{namespace.token}*")
        ]
    )
    assert keys == [
        f"batonflow:{{LIMITER/tenant/acme-{namespace.token}/7/1/minute}}",
        f"batonflow:{{LIMITER/user/user:ada-{namespace.token}/5/1/minute}}",
    ]


async def test_two_replicas_share_tenant_and_global_budgets(
    replicas: tuple[RateLimiter, RateLimiter], namespace: Namespace
) -> None:
    a, b = replicas
    acme = [principal(f"{name}-{namespace.token}", f"acme-{namespace.token}") for name in "pqrs"]
    for limiter, caller in zip((a, b, a, b, a, b, a), acme * 2, strict=False):
        await limiter.check_request(caller)  # 7 of acme's 7, spread over 4 users
    tenant_error = await refused(b.check_request(acme[3]))
    globex = principal(f"gus-{namespace.token}", f"globex-{namespace.token}")
    await a.check_request(globex)
    await b.check_global()  # 9 of the global 9
    global_error = await refused(a.check_request(globex))
    window = namespace.minutes * 60
    assert [rejection(tenant_error), rejection(global_error)] == [
        {
            "message": "rate limited by the tenant's limit (7 per 1 minute); retry after 60 s",
            "retry_after": 60,
            "details": {"retry_after": 60, "limit": "tenant"},
        },
        {
            "message": f"rate limited by the global limit (9 per {namespace.minutes} minute); retry after {window} s",
            "retry_after": window,
            "details": {"retry_after": window, "limit": "global"},
        },
    ]
    assert (a.rejections, b.rejections) == (Counter({"global": 1}), Counter({"tenant": 1}))


async def test_two_replicas_share_login_budgets(
    replicas: tuple[RateLimiter, RateLimiter], namespace: Namespace
) -> None:
    a, b = replicas
    account = f"ada-{namespace.token}@acme.test"
    await a.check_login(account, f"ip1-{namespace.token}")
    await b.check_login(account.upper(), f"ip2-{namespace.token}")
    await a.check_login(account, f"ip3-{namespace.token}")
    error = await refused(b.check_login(account, f"ip4-{namespace.token}"))
    assert rejection(error) == {
        "message": "rate limited by the login limit for this account (3 per 1 minute); retry after 60 s",
        "retry_after": 60,
        "details": {"retry_after": 60, "limit": "login_account"},
    }
    # The refused attempt took nothing from ip4's budget.
    for name in ("bob", "cy", "dee"):
        await a.check_login(f"{name}-{namespace.token}", f"ip4-{namespace.token}")
    await refused(b.check_login(f"eve-{namespace.token}", f"ip4-{namespace.token}"))
    assert (a.rejections, b.rejections) == (Counter(), Counter({"login_account": 1, "login_ip": 1}))
