"""Store backends: one behavioural suite run against a diskcache directory and a real redis-server."""

from __future__ import annotations

import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from addon.retrieval.store_backends import REDIS_PREFIX, DiskBackend, RedisBackend, StoreBackend, StoreUnavailable
from tests.support.redis_server import RedisServer, free_port, running_redis_server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(params=["disk", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    made: StoreBackend
    if request.param == "disk":
        made = DiskBackend(tmp_path / "originals")
    else:
        request.getfixturevalue("redis_client")  # an empty database
        made = RedisBackend(request.getfixturevalue("redis_server").url)
    yield made
    made.close()


def test_set_get_round_trip_is_byte_exact(backend: StoreBackend) -> None:
    small = bytes(range(256))
    large = bytes(range(256)) * 1024  # 256 KiB: diskcache keeps this in a file of its own
    backend.set("small", small, 60)
    backend.set("large", large, 60)
    backend.set("empty", b"", 60)
    assert backend.get("small") == small
    assert backend.get("large") == large
    assert backend.get("empty") == b""
    assert backend.get("absent") is None


def test_set_overwrites(backend: StoreBackend) -> None:
    backend.set("k", b"one", 60)
    backend.set("k", b"two", 60)
    assert backend.get("k") == b"two"


def test_expiry_touch_and_update_extend_life(backend: StoreBackend) -> None:
    for key in ("left", "touched", "kept"):
        backend.set(key, key.encode(), 1)
    time.sleep(0.6)
    assert backend.get("left") == b"left"  # a plain read does not extend
    backend.touch(["touched", "absent"], 1)
    backend.update("kept", lambda current: None, 1)  # unchanged, only a longer life
    time.sleep(0.6)
    assert backend.get("left") is None
    assert backend.get("touched") == b"touched"
    assert backend.get("kept") == b"kept"
    assert backend.get("absent") is None  # touching does not create


def test_update_sees_the_current_value(backend: StoreBackend) -> None:
    seen: list[bytes | None] = []

    def append_x(current: bytes | None) -> bytes:
        seen.append(current)
        return (current or b"") + b"x"

    backend.update("k", append_x, 60)
    backend.update("k", append_x, 60)
    assert seen == [None, b"x"]
    assert backend.get("k") == b"xx"
    backend.update("nothing", lambda current: None, 60)  # nothing to keep: nothing stored
    assert backend.get("nothing") is None


def test_concurrent_updates_lose_nothing(backend: StoreBackend) -> None:
    """Several threads adding to one value at once: each addition survives (atomic update)."""
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def add(token: bytes) -> None:
        try:
            start.wait()
            for _ in range(5):
                backend.update("shared", lambda current: (current or b"") + token, 60)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=add, args=(bytes([65 + i]),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    value = backend.get("shared") or b""
    assert len(value) == 40
    assert all(value.count(bytes([65 + i])) == 5 for i in range(8))


def test_touch_nothing_is_a_no_op(backend: StoreBackend) -> None:
    backend.touch([], 60)
    backend.touch(iter(()), 60)


# --- DiskBackend ---------------------------------------------------------------------------


def test_disk_directory_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "home" / "store" / "originals"
    DiskBackend(directory).close()
    for created in (directory, directory.parent, directory.parent.parent):
        assert stat.S_IMODE(created.stat().st_mode) == 0o700, created


def test_disk_existing_open_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "originals"
    directory.mkdir()
    directory.chmod(0o755)
    DiskBackend(directory).close()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_disk_survives_restart(tmp_path: Path) -> None:
    first = DiskBackend(tmp_path / "originals")
    first.set("k", b"value", 60)
    first.close()
    second = DiskBackend(tmp_path / "originals")
    try:
        assert second.get("k") == b"value"
    finally:
        second.close()


def test_disk_size_limit_evicts_least_recently_used(tmp_path: Path) -> None:
    limit = 1 << 20
    backend = DiskBackend(tmp_path / "originals", size_limit=limit)
    item = 64 * 1024
    try:
        backend.set("read", b"r" * item, 3600)
        backend.set("touched", b"t" * item, 3600)
        backend.set("idle", b"i" * item, 3600)
        for i in range(40):  # 2.5 MiB in all, well past the limit
            backend.set(f"filler{i}", bytes([i]) * item, 3600)
            assert backend.get("read") is not None  # reading keeps it young
            backend.touch(["touched"], 3600)  # so does touching (a conversation still names it)
        assert backend.get("idle") is None
        assert backend.get("filler0") is None
        assert backend.get("read") == b"r" * item
        assert backend.get("touched") == b"t" * item
        assert backend.get("filler39") == bytes([39]) * item
        assert backend.volume() < limit + 12 * item  # culling trails a set by at most a few items
    finally:
        backend.close()


def test_disk_rejects_a_size_limit_of_zero(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        DiskBackend(tmp_path / "originals", size_limit=0)


# --- RedisBackend --------------------------------------------------------------------------


def test_redis_keys_are_prefixed_and_expire(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    backend = RedisBackend(redis_server.url)
    try:
        backend.set("abc", b"value", 60)
        assert redis_client.keys("*") == [f"{REDIS_PREFIX}abc".encode()]
        assert 0 < redis_client.ttl(f"{REDIS_PREFIX}abc") <= 60
        redis_client.expire(f"{REDIS_PREFIX}abc", 5)
        backend.touch(["abc"], 600)
        assert redis_client.ttl(f"{REDIS_PREFIX}abc") > 500
        backend.update("abc", lambda current: None, 900)
        assert redis_client.ttl(f"{REDIS_PREFIX}abc") > 800
    finally:
        backend.close()


def test_redis_down_raises_store_unavailable_at_once() -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", cooldown_s=0.2)  # nothing listens
    try:
        for operation in (
            lambda: backend.get("k"),
            lambda: backend.set("k", b"v", 60),
            lambda: backend.update("k", lambda current: b"v", 60),
            lambda: backend.touch(["k"], 60),
        ):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="redis"):
                operation()
            assert time.monotonic() - started < 0.5
        time.sleep(0.25)  # after the cooldown it tries the server again
        with pytest.raises(StoreUnavailable, match="ConnectionError"):
            backend.get("k")
    finally:
        backend.close()


def test_redis_silent_server_times_out_then_fails_fast_during_cooldown() -> None:
    """A server that accepts connections but never answers (a hung Redis) costs one timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        backend = RedisBackend(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout_s=0.3, cooldown_s=30)
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="Timeout"):
                backend.get("k")
            assert 0.25 < time.monotonic() - started < 1.5
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="not retrying yet"):
                backend.touch(["k"], 60)
            assert time.monotonic() - started < 0.1
        finally:
            backend.close()


def test_redis_refusal_is_store_unavailable(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    """A server that answers with an error (here: out of memory) is unusable too, not a crash."""
    redis_client.config_set("maxmemory", "1")
    redis_client.config_set("maxmemory-policy", "noeviction")
    backend = RedisBackend(redis_server.url)
    try:
        with pytest.raises(StoreUnavailable, match="OutOfMemory|OOM"):
            backend.set("k", b"v" * 1000, 60)
    finally:
        backend.close()
        redis_client.config_set("maxmemory", "0")


def test_proxies_sharing_a_redis_share_one_salt(redis_server, redis_client, tmp_path):
    """Two installations (their own local salts) on one Redis: the first one's salt becomes the
    team's, so the same text gets the same id on both and either can serve it."""
    from addon.retrieval.original_store import load_salt, open_store

    first = open_store(tmp_path / "alice", redis_server.url)
    second = open_store(tmp_path / "bob", redis_server.url)
    assert load_salt(tmp_path / "alice") != load_salt(tmp_path / "bob")
    text = "the same tool output on two machines\n" * 20
    original_id = first.store(text, "owner-a", "log")
    assert second.store(text, "owner-b", "log") == original_id
    assert second.fetch(original_id, "owner-a").status == "ok"
    assert redis_client.get(REDIS_PREFIX + "salt") == load_salt(tmp_path / "alice")


def test_an_unreachable_redis_at_start_falls_back_to_the_local_salt(tmp_path):
    from addon.retrieval.original_store import load_salt, open_store

    store = open_store(tmp_path / "carol", "redis://127.0.0.1:1/0")  # starts; each call then fails open
    assert store._salt == load_salt(tmp_path / "carol")
