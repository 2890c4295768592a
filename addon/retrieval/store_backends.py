"""Where the originals live: a byte store with per-key expiry, on local disk or in Redis.

Backends hold opaque bytes under string keys; what the bytes mean (JSON, never pickle) is the
facade's business (addon.retrieval.original_store). Every backend failure surfaces as `StoreUnavailable`,
so callers have one exception to catch and fail open on, whichever backend is configured.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import diskcache
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from addon.proxy.home import private_dir

DEFAULT_SIZE_LIMIT = 1 << 30  # 1 GiB of originals on disk
REDIS_PREFIX = "headroom:orig:"

# `update` callbacks: given the stored value (None when absent), the value to store, or None
# to keep the stored one as it is and only extend its life.
Merge = Callable[[bytes | None], bytes | None]
T = TypeVar("T")


class StoreUnavailable(Exception):
    """The store could not be read or written (down, timed out, full): callers fail open."""


class StoreBackend(Protocol):
    """Bytes under string keys, each with its own time to live, safe to call from any thread."""

    def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired. Does not extend its life."""
        ...

    def set(self, key: str, value: bytes, ttl_s: int) -> None: ...

    def update(self, key: str, merge: Merge, ttl_s: int) -> None:
        """Atomically replace the value with `merge(current)` and give it `ttl_s` more seconds."""
        ...

    def touch(self, keys: Iterable[str], ttl_s: int) -> None:
        """Give each present key `ttl_s` more seconds; absent keys are ignored."""
        ...

    def close(self) -> None: ...


class DiskBackend:
    """A diskcache directory (private to the user), least-recently-used eviction past `size_limit`."""

    def __init__(self, directory: Path, size_limit: int = DEFAULT_SIZE_LIMIT, timeout_s: float = 5.0) -> None:
        if size_limit <= 0:
            raise ValueError("size_limit must be positive")
        with _disk_errors():
            # diskcache waits up to `timeout` for SQLite's lock; its default (60 s) would stall
            # a proxy worker, a few seconds then failing open is better.
            self._cache = diskcache.Cache(
                str(private_dir(directory)),
                eviction_policy="least-recently-used",
                size_limit=size_limit,
                timeout=timeout_s,
            )

    def get(self, key: str) -> bytes | None:
        with _disk_errors():
            value = self._cache.get(key, default=None)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_s: int) -> None:
        with _disk_errors():
            self._cache.set(key, value, expire=ttl_s)

    def update(self, key: str, merge: Merge, ttl_s: int) -> None:
        # One SQLite write transaction: atomic against other threads and other processes.
        with _disk_errors(), self._cache.transact():
            current = self._cache.get(key, default=None)
            value = merge(current if isinstance(current, bytes) else None)
            if value is None and current is not None:
                self._cache.touch(key, expire=ttl_s)
            elif value is not None:
                self._cache.set(key, value, expire=ttl_s)

    def touch(self, keys: Iterable[str], ttl_s: int) -> None:
        with _disk_errors(), self._cache.transact():
            for key in keys:
                if self._cache.touch(key, expire=ttl_s):
                    self._mark_used(key)

    def _mark_used(self, key: str) -> None:
        # diskcache's touch moves the expiry only; an original kept alive by a conversation is
        # in use, so it must also move to the young end of the LRU order, and only a read does
        # that. `read=True` hands large values back as an open file instead of reading them.
        value = self._cache.get(key, default=None, read=True)
        if hasattr(value, "close"):
            value.close()

    def volume(self) -> int:
        """Bytes used on disk (the figure `size_limit` bounds)."""
        with _disk_errors():
            return self._cache.volume()

    def close(self) -> None:
        self._cache.close()


@contextmanager
def _disk_errors() -> Iterator[None]:
    try:
        yield
    except (diskcache.Timeout, sqlite3.Error, OSError) as e:
        raise StoreUnavailable(f"local store: {type(e).__name__}: {e}") from e


class RedisBackend:
    """Keys under `prefix` in a Redis server, so several proxies can share one store.

    A server that does not answer costs at most `timeout_s` per call, then `cooldown_s` of
    immediate `StoreUnavailable`: a dead Redis must not add a second to every request.
    Eviction under memory pressure is the server's (maxmemory-policy); size it there.
    """

    def __init__(
        self, url: str, prefix: str = REDIS_PREFIX, timeout_s: float = 1.0, cooldown_s: float = 5.0, update_attempts: int = 20
    ) -> None:
        # No retries: redis-py's default (3, with backoff) turns a 1 s timeout into several.
        # A stale pooled connection is still replaced, since the pool checks it on checkout.
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
        )
        self._prefix = prefix
        self._cooldown_s = cooldown_s
        self._update_attempts = update_attempts
        self._down_until = 0.0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self._call(lambda: self._client.get(self._prefix + key))

    def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self._call(lambda: self._client.set(self._prefix + key, value, ex=ttl_s))

    def update(self, key: str, merge: Merge, ttl_s: int) -> None:
        self._call(lambda: self._update(self._prefix + key, merge, ttl_s))

    def first_of(self, key: str, value: bytes, ttl_s: int | None = None) -> bytes:
        """The value stored under `key` by whoever set it first (this `value` if nobody had);
        without `ttl_s`, kept without expiry (the team's shared salt)."""

        def once() -> bytes:
            self._client.set(self._prefix + key, value, nx=True, ex=ttl_s)
            return self._client.get(self._prefix + key) or value

        return self._call(once)

    def _update(self, name: str, merge: Merge, ttl_s: int) -> None:
        # Optimistic: WATCH the key, read, write in MULTI; a concurrent change aborts the EXEC.
        with self._client.pipeline() as pipe:
            for attempt in range(self._update_attempts):
                try:
                    pipe.watch(name)
                    current = pipe.get(name)
                    value = merge(current)
                    if value is None and current is None:
                        return
                    pipe.multi()
                    if value is None:
                        pipe.expire(name, ttl_s)
                    else:
                        pipe.set(name, value, ex=ttl_s)
                    if pipe.execute()[0]:
                        return
                    # EXPIRE found no key: it expired since the read; merge again from nothing
                except redis.WatchError:
                    # Another writer won; back off a random while so the losers do not keep
                    # colliding with each other.
                    time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
        raise StoreUnavailable(f"redis: {name} kept changing during {self._update_attempts} attempts to update it")

    def touch(self, keys: Iterable[str], ttl_s: int) -> None:
        names = [self._prefix + key for key in keys]
        if not names:
            return

        def expire_all() -> None:
            with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.expire(name, ttl_s)
                pipe.execute()

        self._call(expire_all)

    def _call(self, operation: Callable[[], T]) -> T:
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("redis: unreachable a moment ago; not retrying yet")
        try:
            return operation()
        except (redis.ConnectionError, redis.TimeoutError) as e:
            with self._lock:
                self._down_until = time.monotonic() + self._cooldown_s
            raise StoreUnavailable(f"redis: {type(e).__name__}: {e}") from e
        except redis.RedisError as e:  # refused (OOM, READONLY, auth): the store cannot be used
            raise StoreUnavailable(f"redis: {type(e).__name__}: {e}") from e

    def close(self) -> None:
        self._client.close()
