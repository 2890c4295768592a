"""Memoised compression decisions, keyed by content hash, surviving restarts.

Prefix stability rests on this: once a tool output has been forwarded in some form, every
later request that re-sends it must forward exactly the same bytes, even after the proxy
restarts. A small in-memory LRU sits in front of diskcache so re-sent history costs no disk
reads on the hot path.

A team's proxies sharing a Redis (`share`) also share their decisions: a decision missing here
is looked up there, and every new one is written there too (the first proxy's wins), so a
conversation whose requests land on different proxies forwards the same bytes on each. The
cache aligner's thread records live in this memo, so they are shared the same way. Redis being
unreachable costs nothing but the sharing: this proxy's own decisions keep working.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import diskcache

from addon.proxy.home import private_dir

log = logging.getLogger(__name__)
SHARED_PREFIX = "memo:"
# Records that change over a conversation (the cache aligner's thread state): shared as the
# latest version, not the first, and never replaced by the team's on a replay.
MUTABLE_KINDS = frozenset({"align"})

DEFAULT_TTL_S = 7 * 24 * 3600  # well beyond any provider cache (1 h at most)


@dataclass(frozen=True)
class Decision:
    """What was forwarded for a piece of text: `text` None means "left as it was"."""

    kind: str
    text: str | None
    tokens_before: int | None  # exact counts, filled in after forwarding
    tokens_after: int | None
    # the fresh result's folds (line ranges of the original), for their markers; never stored:
    # a replayed decision's text carries its markers already
    folds: tuple = field(default=(), compare=False, repr=False)


def content_key(text: str) -> str:
    """A stable key for a segment's text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class DecisionMemo:
    """Thread-safe memo of decisions: a bounded LRU over a diskcache directory."""

    def __init__(self, directory: Path | None = None, ttl_s: int = DEFAULT_TTL_S, lru_size: int = 4096) -> None:
        self._ttl_s = ttl_s
        self._lru: OrderedDict[str, Decision] = OrderedDict()
        self._lru_size = lru_size
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}
        self._cache: diskcache.Cache | None = None
        self._shared = None  # a RedisBackend (addon/retrieval/store_backends.py) shared by a team
        self._published: set[str] = set()  # keys whose decision Redis is known to hold (since it was last unreachable)
        if directory is not None:
            self.open(directory)

    def open(self, directory: Path) -> None:
        """Keep decisions in `directory` from now on (the proxy's HEADROOM_HOME changed): the
        memo object stays the one its users hold."""
        self.close()
        with self._lock:
            self._lru.clear()
            self._touched.clear()
        self._cache = diskcache.Cache(str(private_dir(directory)), eviction_policy="least-recently-stored")

    def share(self, backend) -> None:
        """Also keep decisions in a team's Redis (a RedisBackend), or stop (None)."""
        self._shared = backend
        self._published = set()

    def get(self, key: str) -> Decision | None:
        """The decision for `key`, extending its life when half of it has passed; with a team's
        Redis, the team's decision (see `_agreed`)."""
        with self._lock:
            decision = self._lru.get(key)
            if decision is not None:
                self._lru.move_to_end(key)
        if decision is None:
            if self._cache is None:
                return None
            value, expire_at = self._cache.get(key, default=None, expire_time=True)
            if value is None:
                value = self._shared_get(key)
                if value is None:
                    return None
                self._cache.set(key, value, expire=self._ttl_s)
                self._published.add(key)
                expire_at = None
            decision = Decision(*value)
            self._remember(key, decision)
            self._refresh(key, expire_at)
        elif time.time() - self._touched.get(key, 0) > self._ttl_s / 2:
            self._refresh(key, None)
        return self._agreed(key, decision)

    def _agreed(self, key: str, decision: Decision) -> Decision:
        """A decision this proxy holds that the team's Redis may not (made while Redis was away,
        or lost with it): offered to Redis once, first writer wins, and the winner is adopted. So
        proxies that diverged during an outage forward the same bytes again soon after it, instead
        of each replaying its own version and breaking the other's cached prefix on every turn."""
        if self._shared is None or key in self._published or decision.kind in MUTABLE_KINDS:
            return decision
        value = (decision.kind, decision.text, decision.tokens_before, decision.tokens_after)
        winner = self._shared_first_of(key, value)
        if winner is None:
            return decision  # unreachable: offered again on a later request
        self._published.add(key)
        if winner[:2] == value[:2]:
            return decision
        adopted = Decision(*winner)
        if self._cache is not None:
            self._cache.set(key, winner, expire=self._ttl_s)
        self._remember(key, adopted)
        log.info("headroom: a decision made apart from the team was replaced by the team's (%s)", key[:12])
        return adopted

    def put(self, key: str, decision: Decision) -> None:
        if self._cache is None:
            raise RuntimeError("the decision memo is not open")
        value = (decision.kind, decision.text, decision.tokens_before, decision.tokens_after)
        self._cache.set(key, value, expire=self._ttl_s)
        self._touched[key] = time.time()
        self._remember(key, decision)
        self._shared_put(key, value)

    def _shared_get(self, key: str) -> tuple | None:
        if self._shared is None:
            return None
        try:
            raw = self._shared.get(SHARED_PREFIX + key)
        except Exception as e:  # noqa: BLE001 - StoreUnavailable and the like: not shared this time
            log.debug("headroom: shared memo unavailable (%s)", e)
            self._published.clear()
            return None
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            return None
        return tuple(value) if isinstance(value, list) and len(value) == 4 else None

    def _shared_put(self, key: str, value: tuple) -> None:
        if self._shared is None:
            return
        if value[0] in MUTABLE_KINDS:
            try:
                self._shared.set(SHARED_PREFIX + key, json.dumps(value).encode("utf-8"), self._ttl_s)
            except Exception as e:  # noqa: BLE001
                log.debug("headroom: shared memo unavailable (%s)", e)
            return
        if self._shared_first_of(key, value) is not None:
            self._published.add(key)

    def _shared_first_of(self, key: str, value: tuple) -> tuple | None:
        """The team's value for `key` (this one if it had none), or None when Redis is unreachable."""
        try:
            raw = self._shared.first_of(SHARED_PREFIX + key, json.dumps(value).encode("utf-8"), ttl_s=self._ttl_s)
        except Exception as e:  # noqa: BLE001 - StoreUnavailable and the like
            log.debug("headroom: shared memo unavailable (%s)", e)
            self._published.clear()  # Redis went away, perhaps with its data: offer decisions again
            return None
        try:
            winner = json.loads(raw)
        except ValueError:
            return value
        return tuple(winner) if isinstance(winner, list) and len(winner) == 4 else value

    def _refresh(self, key: str, expire_at: float | None) -> None:
        now = time.time()
        if self._cache is not None and expire_at is None or expire_at - now < self._ttl_s / 2:
            self._cache.touch(key, expire=self._ttl_s)
        self._touched[key] = now

    def _remember(self, key: str, decision: Decision) -> None:
        with self._lock:
            self._lru[key] = decision
            self._lru.move_to_end(key)
            while len(self._lru) > self._lru_size:
                old, _ = self._lru.popitem(last=False)
                self._touched.pop(old, None)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
