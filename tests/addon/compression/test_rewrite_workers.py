"""Whole rewrites in a worker process: the same bytes as in the proxy's threads, its state shared."""

from __future__ import annotations

import json

import pytest

from addon.cache.cache_aligner import AlignRequest, CacheAligner
from addon.compression.decision_memo import DecisionMemo
from addon.compression.pipeline import rewrite_body
from addon.compression.rewrite_workers import RetrievalFacts, RewriteJob, RewriteWorkers, WorkerSetup, route_key
from addon.providers import provider_named
from addon.proxy.home import store_dir
from addon.retrieval.original_store import open_store
from addon.retrieval.retrieval_path import RetrievalPath
from tests.support.bodies import anthropic_tool_turn

ANTHROPIC = provider_named("anthropic")
SALT = b"the proxy's salt: given to its workers".ljust(32, b".")


@pytest.fixture(scope="module")
def workers(tmp_path_factory) -> RewriteWorkers:
    home = tmp_path_factory.mktemp("home")
    running = RewriteWorkers(2, WorkerSetup(str(home), salt=SALT))
    try:
        assert running._ready.wait(180), "the rewrite workers never became ready"
        running.home = home  # type: ignore[attr-defined]
        yield running
    finally:
        running.shutdown()


def job_log(n: int, failed: int) -> str:
    lines = [f"2026-11-25 10:{i // 60 % 60:02d}:{i % 60:02d} INFO job {1000 + i} finished in {20 + i % 7} ms" for i in range(n)]
    lines[failed] = f"2026-11-25 10:04:10 ERROR job {1000 + failed} failed: checksum mismatch"
    return "\n".join(lines) + "\n"


def body(turn_output: str) -> bytes:
    return json.dumps({"model": "claude-test", "max_tokens": 64, "messages": anthropic_tool_turn(turn_output)}).encode()


def job(raw: bytes, owner: str = "owner") -> RewriteJob:
    facts = RetrievalFacts(owner, False, {}, "/v1/messages", {})
    return RewriteJob(raw, "anthropic", facts, None, AlignRequest({}, True, 1000.0))


def test_a_worker_rewrites_like_the_proxy_and_counts_and_composes(workers, tmp_path):
    raw = body(job_log(400, 250))
    done = workers.submit(job(raw), route_key({}, raw)).result(timeout=120)
    assert workers.ready and not done.passed and done.body is not None
    report = done.report
    assert report["rewritten"] and all(e["tokens_before"] is not None for e in report["rewritten"]) and not report["composing"]
    assert report["composition"][-1]["fate"] == "compressed" and report["retrieve_tool"] == "headroom_retrieve"
    # the same body rewritten in this process, with a fresh memo and a store of the proxy's salt
    # (not the salt file of the home the worker opened), gives the same bytes
    home = tmp_path / "local"
    originals = open_store(home, None, salt=SALT)
    memo = DecisionMemo(store_dir(home) / "decisions")
    retrieval = RetrievalPath(originals, "owner", ANTHROPIC, request_path="/v1/messages")
    here, _ = rewrite_body(raw, ANTHROPIC, memo, retrieval=retrieval, alignment=(CacheAligner(memo), AlignRequest({}, True, 1000.0)))
    assert done.body == here


def test_the_state_is_shared_between_workers_and_with_the_proxy(workers):
    raw = body(job_log(380, 120))
    first = workers.submit(job(raw), "conversation a").result(timeout=120)
    other = [route for route in ("b", "c", "d", "e", "f") if workers._pools.index(_pool(workers, route)) != workers._pools.index(_pool(workers, "conversation a"))][0]
    again = workers.submit(job(raw), other).result(timeout=120)  # the other worker: replayed from the shared memo
    assert again.body == first.body and again.report["rewritten"][0]["memo"]
    # the original a worker stored is in the proxy's store (the same files)
    marker = json.loads(first.body)["messages"][2]["content"][0]["content"]
    original_id = marker.split("retrieve id=")[1][:24]
    assert open_store(workers.home, None, salt=SALT).fetch(original_id, "owner").status == "ok"


def test_bodies_it_cannot_read_pass_through(workers):
    done = workers.submit(job(b"\xff not json"), "x").result(timeout=60)
    assert (done.passed, done.body) == ("not_json", None)
    done = workers.submit(job(b'{"messages": 3}'), "x").result(timeout=60)
    assert done.passed == "unknown_shape"


def test_a_conversation_is_routed_by_its_session_header_else_its_opening():
    assert route_key({"x-claude-code-session-id": "s1"}, b"a") == route_key({"x-claude-code-session-id": "s1"}, b"b")
    head = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}' + b" " * 4000
    assert route_key({}, head + b"turn 1") == route_key({}, head + b"turn 2") != route_key({}, b"{}")


def _pool(workers: RewriteWorkers, route: str):
    import hashlib

    return workers._pools[int(hashlib.sha256(route.encode()).hexdigest()[:8], 16) % len(workers._pools)]
