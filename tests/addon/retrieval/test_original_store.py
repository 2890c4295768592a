"""The store of originals: ids, ownership, sliding life, serialization, over both backends."""

from __future__ import annotations

import json
import os
import pickle
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import redis

from addon.retrieval.original_store import (
    ANONYMOUS,
    EXPIRED,
    FORBIDDEN,
    OK,
    Originals,
    StoredOriginal,
    StoreUnavailable,
    decode_original,
    encode_original,
    is_valid_id,
    load_salt,
    make_id,
    open_store,
    owner_of,
)
from addon.retrieval.store_backends import DiskBackend, Merge, RedisBackend, StoreBackend
from tests.support.redis_server import RedisServer, free_port, running_redis_server

ALICE = owner_of("sk-alice")
BOB = owner_of("sk-bob")
SALT = bytes(range(32))
LOG = "\n".join(f"line {i}: something happened" for i in range(200))


class CountingBackend:
    """A real backend, with a count of the calls that reached it."""

    def __init__(self, inner: StoreBackend) -> None:
        self.inner = inner
        self.calls = 0

    def get(self, key: str) -> bytes | None:
        self.calls += 1
        return self.inner.get(key)

    def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self.calls += 1
        self.inner.set(key, value, ttl_s)

    def update(self, key: str, merge: Merge, ttl_s: int) -> None:
        self.calls += 1
        self.inner.update(key, merge, ttl_s)

    def touch(self, keys: Iterable[str], ttl_s: int) -> None:
        self.calls += 1
        self.inner.touch(keys, ttl_s)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["disk", "redis"])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """Backends of the parametrized kind; every one made shares one (empty) store."""
    made: list[StoreBackend] = []
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        with redis.Redis.from_url(server.url) as client:
            client.flushdb()

    def make() -> CountingBackend:
        backend: StoreBackend = DiskBackend(tmp_path / "originals") if request.param == "disk" else RedisBackend(server.url)
        made.append(backend)
        return CountingBackend(backend)

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend) -> CountingBackend:
    return make_backend()


@pytest.fixture
def originals(backend: CountingBackend) -> Originals:
    return Originals(backend, SALT)


# --- behaviour, on both backends -------------------------------------------------------------


def test_round_trip(originals: Originals) -> None:
    before = time.time()
    original_id = originals.store(LOG, ALICE, "log")
    fetched = originals.fetch(original_id, ALICE)
    assert fetched.status == OK
    assert fetched.original == StoredOriginal(LOG, (ALICE,), "log", fetched.original.created)
    assert before <= fetched.original.created <= time.time()


def test_same_text_same_id_and_different_text_different_id(originals: Originals) -> None:
    first = originals.store(LOG, ALICE, "log")
    assert originals.store(LOG, ALICE, "log") == first
    assert originals.store(LOG + "\n", ALICE, "log") != first
    assert first == make_id(SALT, LOG)  # the id is the content's, under this installation's salt


def test_owners_cannot_read_each_others_originals(originals: Originals) -> None:
    alices = originals.store("alice's secret tool output", ALICE, "text")
    bobs = originals.store("bob's secret tool output", BOB, "text")
    assert originals.fetch(alices, ALICE).original.text == "alice's secret tool output"
    assert originals.fetch(bobs, BOB).original.text == "bob's secret tool output"
    for original_id, stranger in ((alices, BOB), (bobs, ALICE), (alices, ANONYMOUS)):
        fetched = originals.fetch(original_id, stranger)
        assert fetched.status == FORBIDDEN
        assert fetched.original is None


def test_same_text_from_two_owners_is_one_original_both_can_read(originals: Originals, backend: CountingBackend) -> None:
    original_id = originals.store(LOG, ALICE, "log")
    first_record = backend.inner.get(original_id)
    assert originals.store(LOG, BOB, "other kind") == original_id
    for owner in (ALICE, BOB):
        fetched = originals.fetch(original_id, owner)
        assert fetched.status == OK and fetched.original.text == LOG
    original = originals.fetch(original_id, ALICE).original
    assert original.owners == (ALICE, BOB)
    assert (original.kind, original.created) == ("log", decode_original(first_record).created)  # the first store's
    assert originals.fetch(original_id, owner_of("sk-carol")).status == FORBIDDEN


def test_storing_again_rewrites_nothing(originals: Originals, backend: CountingBackend) -> None:
    original_id = originals.store(LOG, ALICE, "log")
    record = backend.inner.get(original_id)
    time.sleep(0.01)
    originals.store(LOG, ALICE, "log")
    assert backend.inner.get(original_id) == record  # same created time: not written again


def test_concurrent_stores_by_many_owners_keep_every_owner(originals: Originals) -> None:
    owners = [owner_of(f"sk-{i}") for i in range(8)]
    start = threading.Barrier(len(owners))
    ids: list[str] = []

    def store(owner: str) -> None:
        start.wait()
        ids.append(originals.store(LOG, owner, "log"))

    threads = [threading.Thread(target=store, args=(owner,)) for owner in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(ids) == len(owners)
    assert all(originals.fetch(ids[0], owner).status == OK for owner in owners)


def test_unknown_and_malformed_ids_are_expired_without_a_lookup(originals: Originals, backend: CountingBackend) -> None:
    assert originals.fetch("0" * 24, ALICE).status == EXPIRED  # well formed, never stored
    calls = backend.calls
    original_id = make_id(SALT, LOG)
    malformed = [
        original_id.upper(), original_id[:-1], original_id + "0", "g" * 24, "", " " + original_id[1:],
        original_id[:-1] + "\n", original_id + "\n", None, 12, ["0" * 24],
    ]  # fmt: skip
    for bad in malformed:
        fetched = originals.fetch(bad, ALICE)  # type: ignore[arg-type]
        assert (fetched.status, fetched.original) == (EXPIRED, None), bad
    originals.touch(malformed)  # type: ignore[arg-type]
    assert backend.calls == calls


def test_sliding_life(make_backend) -> None:
    """Stores, fetches and touches extend an original's life; reads refused to others do not."""
    originals = Originals(make_backend(), SALT, ttl_s=1)
    fetched_id = originals.store("fetched", ALICE, "text")
    touched_id = originals.store("touched", ALICE, "text")
    idle_id = originals.store("idle", ALICE, "text")
    refused_id = originals.store("refused", ALICE, "text")
    restored_id = originals.store("restored", ALICE, "text")
    time.sleep(0.6)
    assert originals.fetch(fetched_id, ALICE).status == OK
    originals.touch([touched_id, touched_id, "not an id"], ALICE)
    assert originals.fetch(refused_id, BOB).status == FORBIDDEN
    assert originals.store("restored", ALICE, "text") == restored_id
    time.sleep(0.6)  # past the first second: only what was used since is left
    assert originals.fetch(idle_id, ALICE).status == EXPIRED
    assert originals.fetch(refused_id, ALICE).status == EXPIRED
    for original_id in (fetched_id, touched_id, restored_id):
        assert originals.fetch(original_id, ALICE).status == OK
    time.sleep(1.1)
    assert originals.fetch(fetched_id, ALICE).status == EXPIRED
    # Storing the text again brings the original back under the same id: markers that a
    # replayed decision still carries work again.
    assert originals.store("fetched", BOB, "text") == fetched_id
    assert originals.fetch(fetched_id, BOB).status == OK
    assert originals.fetch(fetched_id, ALICE).status == FORBIDDEN  # a new life, a new owner set


def test_lone_surrogates_and_non_ascii_round_trip(originals: Originals, backend: CountingBackend) -> None:
    texts = ["broken \ud800 text", "broken \udc00 text", "trailing \udfff", "日本語のログ 🚀 é"]
    ids = [originals.store(text, ALICE, "text") for text in texts]
    assert len(set(ids)) == len(texts)
    for original_id, text in zip(ids, texts, strict=True):
        assert originals.fetch(original_id, ALICE).original.text == text
    assert "日本語のログ 🚀 é".encode() in backend.inner.get(ids[-1])  # UTF-8, not \\u escapes


def test_records_are_json_not_pickle(originals: Originals, backend: CountingBackend) -> None:
    original_id = originals.store(LOG, ALICE, "log")
    raw = backend.inner.get(original_id)
    assert raw[:1] == b"{"
    record = json.loads(raw)
    assert record == {"v": 1, "text": LOG, "owners": [ALICE], "kind": "log", "created": record["created"]}


def test_a_pickle_in_the_store_is_never_unpickled(originals: Originals, backend: CountingBackend, tmp_path: Path) -> None:
    """Someone with write access to a shared Redis plants a pickle: it is unreadable, not run."""

    class Exploit:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    original_id = make_id(SALT, LOG)
    backend.inner.set(original_id, pickle.dumps(Exploit()), 60)
    assert originals.fetch(original_id, ALICE).status == EXPIRED
    assert not (tmp_path / "pwned").exists()
    assert originals.store(LOG, ALICE, "log") == original_id  # and storing replaces it
    assert originals.fetch(original_id, ALICE).original.text == LOG


def test_foreign_or_malformed_records_read_as_expired(originals: Originals, backend: CountingBackend) -> None:
    original_id = make_id(SALT, LOG)
    for raw in (b"", b"\xff\xfe", b"[]", b'{"v": 2, "text": "x"}', b'{"v": 1, "text": 3, "owners": [], "kind": "k", "created": 0}'):
        backend.inner.set(original_id, raw, 60)
        assert originals.fetch(original_id, ALICE).status == EXPIRED, raw


# --- ids, owners, salt, serialization ----------------------------------------------------


def test_id_shape_and_stability() -> None:
    original_id = make_id(SALT, "hello")
    assert re.fullmatch(r"[0-9a-f]{24}", original_id) and is_valid_id(original_id)
    assert make_id(bytes(32), "hello") == "4352b26e33fe0d769a8922a6"  # HMAC-SHA256, first 96 bits
    assert make_id(bytes(32), "hello") != make_id(bytes(31) + b"\1", "hello")  # the salt matters
    ids = {make_id(SALT, f"text {i}") for i in range(2000)}
    assert len(ids) == 2000
    digits = "".join(ids)
    assert all(abs(digits.count(c) / len(digits) - 1 / 16) < 0.01 for c in "0123456789abcdef")


def test_owner_of() -> None:
    assert owner_of(None) == ANONYMOUS
    assert owner_of("sk-test") == "fb2d0300116f0b72f335b68a788fadfd58ffbbc8d59be428c89974f4068baed0"
    assert owner_of("sk-test") != owner_of("sk-test ") != owner_of("")
    assert "sk-alice" not in ALICE and re.fullmatch(r"[0-9a-f]{64}", ALICE)
    assert owner_of("key \ud800") != owner_of("key \udc00")


def test_encode_decode_round_trip() -> None:
    original = StoredOriginal("a \ud800 b \"quoted\"\n", (ALICE, BOB), "json", 1700000000.25)
    assert decode_original(encode_original(original)) == original
    with pytest.raises(ValueError):
        decode_original(b"not json")


def test_salt_is_created_once_private_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    salt = load_salt(home)
    path = home / "store" / "salt"
    assert len(salt) == 32 and path.read_bytes() == salt
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (home / "store", home):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert load_salt(home) == salt
    assert load_salt(tmp_path / "other home") != salt
    assert sorted(p.name for p in path.parent.iterdir()) == ["salt"]  # no temporary file left


def test_salt_created_concurrently_is_one_salt(tmp_path: Path) -> None:
    start = threading.Barrier(8)
    salts: list[bytes] = []

    def load() -> None:
        start.wait()
        salts.append(load_salt(tmp_path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(salts) == 8 and len(set(salts)) == 1


def test_salt_file_too_open_is_made_private_and_a_damaged_one_refused(tmp_path: Path) -> None:
    salt = load_salt(tmp_path)
    path = tmp_path / "store" / "salt"
    path.chmod(0o644)
    assert load_salt(tmp_path) == salt
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(salt[:16])
    with pytest.raises(ValueError, match="remove it"):
        load_salt(tmp_path)


def test_ttl_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Originals(DiskBackend(tmp_path / "originals"), SALT, ttl_s=0)


# --- open_store ----------------------------------------------------------------------------


def test_local_store_survives_restart_with_the_same_ids(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = open_store(home, None, ttl_s=60, size_limit=1 << 20)
    original_id = first.store(LOG, ALICE, "log")
    first.close()
    second = open_store(home, None, ttl_s=60, size_limit=1 << 20)
    try:
        assert second.fetch(original_id, ALICE).original.text == LOG
        assert second.store(LOG, ALICE, "log") == original_id
    finally:
        second.close()
    assert stat.S_IMODE((home / "store" / "originals").stat().st_mode) == 0o700


def test_proxies_sharing_redis_read_each_others_originals(tmp_path: Path, redis_server: RedisServer) -> None:
    """Two proxies (own homes, so own salts) behind one Redis: an id from either works on both."""
    one = open_store(tmp_path / "one", redis_server.url)
    two = open_store(tmp_path / "two", redis_server.url)
    try:
        original_id = one.store(LOG, ALICE, "log")
        assert two.fetch(original_id, ALICE).original.text == LOG
        assert two.fetch(original_id, BOB).status == FORBIDDEN
        assert not (tmp_path / "one" / "store" / "originals").exists()  # nothing kept locally
    finally:
        one.close()
        two.close()


def test_redis_down_fails_open_quickly(tmp_path: Path) -> None:
    originals = open_store(tmp_path, f"redis://127.0.0.1:{free_port()}/0")  # opening does not connect
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            originals.store(LOG, ALICE, "log")
        with pytest.raises(StoreUnavailable):
            originals.fetch(make_id(load_salt(tmp_path), LOG), ALICE)
        with pytest.raises(StoreUnavailable):
            originals.touch([make_id(load_salt(tmp_path), LOG)])
        assert time.monotonic() - started < 1
    finally:
        originals.close()


def test_disk_records_hold_no_pickles(tmp_path: Path) -> None:
    """diskcache pickles values it does not know; ours are bytes, stored as they are."""
    originals = open_store(tmp_path, None)
    originals.store(LOG, ALICE, "log")
    originals.store("x" * 100_000, ALICE, "log")  # a large one, in a file of its own
    originals.close()
    with sqlite3.connect(tmp_path / "store" / "originals" / "cache.db") as db:
        modes = {mode for (mode,) in db.execute("SELECT mode FROM Cache")}
    assert modes <= {1, 2}  # diskcache's MODE_RAW and MODE_BINARY; MODE_PICKLE is 4
