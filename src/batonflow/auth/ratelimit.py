"""Rate limits (docs/api.md): per user or API key, per tenant and global for requests; per
account and client address for login and refresh; per email and client address for registration.

They live in process memory, or with `BATONFLOW_REDIS_URL` in Redis (keys prefixed `batonflow:`),
so every API replica draws from one shared budget. Request limits are large and hit by every
request, so they use the sliding-window counter (two integers per key, one Lua script per hit; an
estimate close enough for fair sharing), where a moving window would keep and walk a timestamp
per admitted request. Login and registration limits are small and guard against password
guessing, so they use the exact moving window (no burst across a window boundary).

All of a request's limits are tested first and hit only if all have room, so a user over their
own limit does not drain the tenant's or the global budget. A refusal names the limit that binds
longest. A storage call has a deadline: a Redis that does not answer is a `ConfigError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import limits
import redis.asyncio
from limits.aio import strategies
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError

from batonflow.auth.scopes import Principal
from batonflow.errors import ConfigError, RateLimited
from batonflow.settings import Settings

T = TypeVar("T")
KEY_PREFIX = "batonflow"  # Redis keys read "batonflow:LIMITER/<limit>/<who>/<amount>/..."
STORAGE_TIMEOUT = 2.0  # seconds for one check against the storage, connection included
# redis:// and rediss:// URLs as redis-py takes them, and the scheme `limits` knows them by.
REDIS_SCHEMES = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}


@dataclass(frozen=True, slots=True)
class Limit:
    """One configured limit: its name (as counted in `rejections`), item and strategy."""

    name: str
    item: limits.RateLimitItem
    strategy: strategies.RateLimiter
    label: str  # how messages name it: "the per-tenant limit"

    async def test(self, key: str) -> bool:
        return await self.strategy.test(self.item, self.name, key)

    async def hit(self, key: str) -> bool:
        return await self.strategy.hit(self.item, self.name, key)

    async def retry_after(self, key: str) -> int:
        """Whole seconds (at least 1) until the window stats say this limit has room again."""
        stats = await self.strategy.get_window_stats(self.item, self.name, key)
        seconds = stats.reset_time - time.time()
        if (
            seconds < 0.001
            and stats.remaining == 0
            and isinstance(self.strategy, strategies.SlidingWindowCounterRateLimiter)
        ):
            # A full counter whose window began within the last millisecond: Redis reports a
            # TTL of exactly two windows, which the stats fold to "now". The wait is a window.
            seconds = self.item.get_expiry()
        return max(1, math.ceil(seconds))


@dataclass(frozen=True, slots=True)
class Quota:
    """An app's own limit on something it counts: `name` (as reported in the refusal's
    `details.limit`), the limit ("100/hour"), the key it is counted under, and how the refusal
    names it ("the per-user limit on stage executions")."""

    name: str
    limit: str
    key: str
    label: str


def parse_limit(value: str, variable: str) -> limits.RateLimitItem:
    """The single `limits` item in `value`; ConfigError naming `variable` otherwise."""
    try:
        items = limits.parse_many(value)
    except ValueError as error:
        raise ConfigError(
            f"{variable}={value!r} is not a rate limit; write it like '600/minute' "
            f"or '10 per 5 minutes' ({error})"
        ) from error
    if len(items) != 1:
        raise ConfigError(f"{variable}={value!r} must be one rate limit, such as '600/minute'")
    if items[0].amount < 1:
        raise ConfigError(f"{variable}={value!r} must allow at least one request")
    return items[0]


def redis_location(url: str) -> str:
    """`url` without credentials, for messages."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class RateLimiter:
    """The API's rate limits, built from settings; one per process, closed on shutdown."""

    def __init__(self, settings: Settings) -> None:
        items = {
            name: parse_limit(getattr(settings, f"rate_limit_{name}"), variable)
            for name, variable in (
                ("user", "BATONFLOW_RATE_LIMIT_USER"),
                ("tenant", "BATONFLOW_RATE_LIMIT_TENANT"),
                ("global", "BATONFLOW_RATE_LIMIT_GLOBAL"),
                ("login", "BATONFLOW_RATE_LIMIT_LOGIN"),
                ("register", "BATONFLOW_RATE_LIMIT_REGISTER"),
            )
        }
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._storage: Storage
        self._moving: Storage  # the moving windows' storage (login and registration)
        # In-process storage answers each call at once: no tasks, no timeouts around it.
        self._local = settings.redis_url is None
        if settings.redis_url is None:
            # Two memory storages: each counter hit sweeps its storage's moving windows, a
            # thread hop per window key, so request limits keep none of them.
            self._storage, self._moving = MemoryStorage(), MemoryStorage()
            self._where = "in-memory rate limit storage"
        else:
            self._storage, self._pool = _redis_storage(settings.redis_url)
            self._moving = self._storage
            self._where = (
                f"Redis at {redis_location(settings.redis_url)} "
                "(BATONFLOW_REDIS_URL, where rate limits are kept)"
            )
        counter = strategies.SlidingWindowCounterRateLimiter(self._storage)
        moving = strategies.MovingWindowRateLimiter(self._moving)
        self._user = Limit("user", items["user"], counter, "the per-user limit")
        self._key = Limit("user", items["user"], counter, "the per-API-key limit")
        self._tenant = Limit("tenant", items["tenant"], counter, "the tenant's limit")
        self._global = Limit("global", items["global"], counter, "the global limit")
        login, register = items["login"], items["register"]
        self._account = Limit("login_account", login, moving, "the login limit for this account")
        self._ip = Limit("login_ip", login, moving, "the login limit for this client address")
        self._register_email = Limit(
            "register_email", register, moving, "the registration limit for this email address"
        )
        self._register_ip = Limit(
            "register_ip", register, moving, "the registration limit for this client address"
        )
        self._counter = counter
        self.rejections: Counter[str] = Counter()

    async def check_request(self, principal: Principal) -> None:
        """Take one request from the caller's user (or API key), tenant and global limits."""
        own = self._user if principal.kind == "user" else self._key
        await self._take(
            [
                (own, f"{principal.kind}:{principal.id}"),
                (self._tenant, principal.tenant_id),
                (self._global, "all"),
            ]
        )

    async def check_login(self, account: str, client_ip: str) -> None:
        """Take one attempt from the account's and the client address's login limits."""
        await self._take([(self._account, account.strip().casefold()), (self._ip, client_ip)])

    async def check_register(self, email: str, client_ip: str) -> None:
        """Take one attempt from the email address's and the client address's registration
        limits (and the global limit)."""
        await self._take(
            [
                (self._register_email, email.strip().casefold()),
                (self._register_ip, client_ip),
                (self._global, "all"),
            ]
        )

    async def check_global(self) -> None:
        """Take one request from the global limit alone (routes without credentials)."""
        await self._take([(self._global, "all")])

    async def check_quotas(self, quotas: Sequence[Quota]) -> None:
        """Take one unit from each of `quotas` (limits an app defines, such as executions an
        hour), in the same storage and with the same strategy as the request limits: Redis,
        shared by every replica, when `BATONFLOW_REDIS_URL` is set; taken only when all have room."""
        limits_ = [
            Limit(q.name, parse_limit(q.limit, q.name), self._counter, q.label) for q in quotas
        ]
        await self._take([(limit, q.key) for limit, q in zip(limits_, quotas, strict=True)])

    async def check(self) -> None:
        """Raise ConfigError unless the storage answers (the readiness check calls this)."""
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT):
                healthy = await self._storage.check()
        except (TimeoutError, StorageError):
            healthy = False
        if not healthy:
            raise ConfigError(f"{self._where} does not answer")

    async def close(self) -> None:
        """Release the Redis connection pool, if any."""
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        for storage in (self._storage, self._moving):
            if isinstance(storage, MemoryStorage) and storage.timer is not None:
                storage.timer.cancel()  # its sweep of expired entries

    async def _each(self, calls: Iterable[Awaitable[T]]) -> list[T]:
        """Redis answers the calls concurrently; the memory storage answers each at once, so
        there they are awaited in turn (a task each would cost more than the call)."""
        if self._local:
            return [await call for call in calls]
        return list(await asyncio.gather(*calls))

    async def _take(self, limits_: Sequence[tuple[Limit, str]]) -> None:
        async with self._deadline():
            room = await self._each(limit.test(key) for limit, key in limits_)
            if all(room):
                taken = await self._each(limit.hit(key) for limit, key in limits_)
                if all(taken):
                    return
                room = taken
            refused = [pair for pair, ok in zip(limits_, room, strict=True) if not ok]
            waits = await self._each(limit.retry_after(key) for limit, key in refused)
        # The limit that keeps the caller out longest is the one to name.
        wait, index = max((wait, -i) for i, wait in enumerate(waits))
        limit = refused[-index][0]
        self.rejections[limit.name] += 1
        error = RateLimited(
            f"rate limited by {limit.label} ({limit.item}); retry after {wait} s", retry_after=wait
        )
        error.details["limit"] = limit.name
        raise error

    @contextlib.asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        try:
            if self._local:
                yield
                return
            async with asyncio.timeout(STORAGE_TIMEOUT):
                yield
        except TimeoutError as error:
            raise ConfigError(
                f"{self._where} gave no answer within {STORAGE_TIMEOUT:g} s"
            ) from error
        except StorageError as error:
            raise ConfigError(f"{self._where} failed: {error.storage_error}") from error


def _redis_storage(url: str) -> tuple[RedisStorage, redis.asyncio.ConnectionPool]:
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"BATONFLOW_REDIS_URL must be a redis://, rediss:// or unix:// URL, not {scheme}://"
        )
    # Our own pool, so that `close` can release it; connection and reply timeouts keep a
    # Redis that is down or unreachable from holding requests.
    pool = redis.asyncio.ConnectionPool.from_url(
        url, socket_connect_timeout=STORAGE_TIMEOUT, socket_timeout=STORAGE_TIMEOUT
    )
    limits_uri = REDIS_SCHEMES[scheme] + url.removeprefix(scheme)
    storage = RedisStorage(
        limits_uri,
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix=KEY_PREFIX,
        connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py's client
    )
    return storage, pool
