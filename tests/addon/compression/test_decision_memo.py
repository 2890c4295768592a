"""DecisionMemo: decisions come back exactly, across restarts, from a private directory."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from addon.compression.decision_memo import Decision, DecisionMemo, content_key

FOLDED = Decision("repeated_lines", "line\n[previous line repeated 99 more times]", 1200, 40)
UNCHANGED = Decision("repeated_lines", None, 800, 800)


@pytest.fixture
def memo(tmp_path: Path) -> Iterator[DecisionMemo]:
    m = DecisionMemo(tmp_path / "decisions")
    yield m
    m.close()


def test_put_get_round_trip(memo: DecisionMemo) -> None:
    memo.put("k1", FOLDED)
    memo.put("k2", UNCHANGED)
    assert memo.get("k1") == FOLDED
    assert memo.get("k2") == UNCHANGED
    assert memo.get("absent") is None


def test_put_overwrites(memo: DecisionMemo) -> None:
    memo.put("k", UNCHANGED)
    memo.put("k", FOLDED)
    assert memo.get("k") == FOLDED


def test_survives_restart(tmp_path: Path) -> None:
    first = DecisionMemo(tmp_path / "decisions")
    first.put("k1", FOLDED)
    first.put("k2", UNCHANGED)
    first.close()
    second = DecisionMemo(tmp_path / "decisions")
    try:
        assert second.get("k1") == FOLDED
        assert second.get("k2") == UNCHANGED  # "left as it was" must be remembered too
        assert second.get("k3") is None
    finally:
        second.close()


def test_directory_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "b" / "decisions"
    DecisionMemo(directory).close()
    for created in (directory, directory.parent, directory.parent.parent):
        assert stat.S_IMODE(created.stat().st_mode) == 0o700, created


def test_existing_open_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "decisions"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    DecisionMemo(directory).close()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_lru_is_bounded_and_evicted_keys_come_back_from_disk(tmp_path: Path) -> None:
    memo = DecisionMemo(tmp_path / "decisions", lru_size=2)
    try:
        decisions = {f"k{i}": Decision("repeated_lines", f"text {i}", 100 + i, i) for i in range(5)}
        for key, decision in decisions.items():
            memo.put(key, decision)
            assert len(memo._lru) <= 2
        assert list(memo._lru) == ["k3", "k4"]
        assert memo.get("k0") == decisions["k0"]  # from disk, now most recent in memory
        assert list(memo._lru) == ["k4", "k0"]
        assert all(memo.get(k) == d for k, d in decisions.items())
        assert len(memo._lru) == 2
    finally:
        memo.close()


def test_lru_keeps_recently_read_keys(tmp_path: Path) -> None:
    memo = DecisionMemo(tmp_path / "decisions", lru_size=2)
    try:
        memo.put("a", FOLDED)
        memo.put("b", UNCHANGED)
        memo.get("a")
        memo.put("c", FOLDED)
        assert set(memo._lru) == {"a", "c"}
    finally:
        memo.close()


def test_content_key_is_stable_and_distinct() -> None:
    assert content_key("hello") == content_key("hello")
    # sha256 of the UTF-8 bytes: a fixed value, so keys stay valid across processes and versions.
    assert content_key("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    keys = {content_key(t) for t in ("hello", "hello ", "Hello", "", "é", "e\u0301")}
    assert len(keys) == 6


def test_content_key_accepts_lone_surrogates() -> None:
    key = content_key("broken \ud800 text")
    assert len(key) == 64
    assert key != content_key("broken \udc00 text")
    assert key == content_key("broken \ud800 text")


class FakeRedis:
    """The part of RedisBackend the memo uses; `down` makes every call fail like an outage."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("redis is down")

    def get(self, key: str) -> bytes | None:
        self._check()
        return self.values.get(key)

    def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self._check()
        self.values[key] = value

    def first_of(self, key: str, value: bytes, ttl_s: int | None = None) -> bytes:
        self._check()
        return self.values.setdefault(key, value)


def team(tmp_path: Path) -> tuple[FakeRedis, DecisionMemo, DecisionMemo]:
    """Two proxies' memos sharing one (fake) Redis."""
    redis = FakeRedis()
    a, b = DecisionMemo(tmp_path / "a"), DecisionMemo(tmp_path / "b")
    a.share(redis)
    b.share(redis)
    return redis, a, b


def test_team_members_share_decisions_first_writer_wins(tmp_path: Path) -> None:
    redis, a, b = team(tmp_path)
    a.put("k", Decision("log", "folded by a", None, None))
    assert b.get("k") == Decision("log", "folded by a", None, None)
    b.put("k2", Decision("log", "b's", None, None))
    a.put("k2", Decision("log", "a's", None, None))  # decided apart, at the same moment
    calls = redis.calls
    assert b.get("k2").text == "b's" and redis.calls == calls  # known shared: no round trip


def test_decisions_made_during_an_outage_converge_once_redis_is_back(tmp_path: Path) -> None:
    redis, a, b = team(tmp_path)
    redis.down = True
    b.put("k", Decision("log", "b's fold", None, None))  # Redis never hears of it
    assert a.get("k") is None  # a forwards the text whole meanwhile
    redis.down = False
    redis.values.clear()  # back, and empty, as after a crash
    assert b.get("k").text == "b's fold"  # offered to Redis on its next use: the first, so it wins
    assert a.get("k").text == "b's fold"  # and a takes it from there
    a.put("k3", Decision("log", "a's", None, None))
    redis.down = True
    assert a.get("k-missing") is None  # a call fails: a knows Redis went away
    redis.down = False
    redis.values["memo:k3"] = b'["log", "someone else\'s", null, null]'
    assert a.get("k3").text == "someone else's"  # re-offered after the outage: the team's wins, adopted
    assert DecisionMemo(tmp_path / "a").get("k3").text == "someone else's"  # on disk too


def test_the_aligners_records_are_shared_as_their_latest_version(tmp_path: Path) -> None:
    redis, a, b = team(tmp_path)
    a.put("align:t", Decision("align", '{"notes": 1}', None, None))
    a.put("align:t", Decision("align", '{"notes": 2}', None, None))
    assert b.get("align:t").text == '{"notes": 2}'
    redis.down = True
    a.get("k-missing")
    redis.down = False
    b.put("align:t", Decision("align", '{"notes": 3}', None, None))
    assert a.get("align:t").text == '{"notes": 2}'  # its own, never replaced by an older or newer shared one on replay
