"""The ledger file (real SQLite in tmp_path) and how flows become rows."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading

import pytest

from addon.ledger.flow_record import FlowFacts, build_row
from addon.providers import provider_named
from addon.retrieval.retrieve_tool import TOOL_NAME
from addon.ledger.ledger_table import SCHEMA_VERSION, LedgerError, LedgerRow, LedgerWriter, SegmentFigures, connect, ledger_path, read_rows
from addon.ledger.ledger import passthrough_stream
from addon.ledger.pricing import load_pricing
from addon.ledger.usage import Usage, UsageTap

TABLE = load_pricing()


def row(i: int = 0, **changes) -> LedgerRow:
    base = LedgerRow(ts=1000.0 + i, provider="anthropic", model="claude-sonnet-4-5", session="s", usage=Usage(1, 2, 3, 4, 5, "claude-sonnet-4-5"),
                     segments=[SegmentFigures("log", 900, 100, False)], latency_ms=12.5)  # fmt: skip
    for k, v in changes.items():
        setattr(base, k, v)
    return base


def test_a_row_is_told_written_only_once_a_reader_finds_it(tmp_path):
    """The ledger line goes on the flow from this callback: whoever sees it and reads the file
    (mitmweb's user, a test) finds the row there."""
    path = ledger_path(tmp_path / "home")
    writer = LedgerWriter(path)
    seen: list[int] = []
    writer.submit(lambda: row(0, composition=[{"pos": 0, "fate": "untouched", "new": True, "tokens": 1, "sent": 1}]), lambda r: seen.append(len(read_rows(path))))
    writer.submit(lambda: None, lambda r: seen.append(-1))  # no row: nothing to tell
    assert writer.flush()
    writer.close()
    assert seen == [1]


def test_rows_round_trip_in_a_private_wal_file(tmp_path):
    home = tmp_path / "home"
    writer = LedgerWriter(ledger_path(home))
    writer.submit(lambda: row(0))
    writer.submit(lambda: row(1, usage=None, segments=[], role="follow_up", billed=False, retrieve_round=True))
    assert writer.flush()
    writer.close()
    path = ledger_path(home)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(home).st_mode) == 0o700
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal" and db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    first, second = read_rows(path)
    assert first == row(0) and first.tokens_before == 900 and first.tokens_after == 100
    assert second.usage is None and second.role == "follow_up" and second.retrieve_round and not second.billed
    assert read_rows(path, since=1000.5) == [second]


def test_a_looser_file_is_made_private(tmp_path):
    path = ledger_path(tmp_path)
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    connect(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_concurrent_writers_from_threads_and_two_writers(tmp_path):
    path = ledger_path(tmp_path)
    writers = [LedgerWriter(path), LedgerWriter(path)]  # two proxies sharing one home

    def work(n: int) -> None:
        for i in range(50):
            writers[n % 2].submit(lambda i=i: row(n * 100 + i, session=f"s{n}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        assert w.flush()
        w.close()
    rows = read_rows(path)
    assert len(rows) == 400 and sum(w.written for w in writers) == 400
    assert {r.session for r in rows} == {f"s{n}" for n in range(8)}


def test_failures_are_counted_not_raised(tmp_path):
    writer = LedgerWriter(ledger_path(tmp_path))

    def broken() -> LedgerRow:
        raise ValueError("bad body")

    writer.submit(broken)
    writer.submit(lambda: row(0))
    writer.submit(lambda: None)  # nothing to record
    assert writer.flush()
    assert (writer.failed, writer.written) == (1, 1)
    writer.close()


def test_a_newer_schema_is_refused(tmp_path):
    path = ledger_path(tmp_path)
    connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(LedgerError, match="newer Headroom"):
        LedgerWriter(path)


def test_reading_a_missing_ledger(tmp_path):
    assert read_rows(tmp_path / "none.sqlite3") == []


# How flows become rows ------------------------------------------------------------------------


def anthropic_body(first: str = "fix the bug", system: str = "You are Claude Code", **extra) -> bytes:
    return json.dumps({"model": "claude-sonnet-4-5", "system": system, "messages": [{"role": "user", "content": first}], **extra}).encode()


def test_follow_ups_answering_retrieve_calls():
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "headroom_retrieve", "input": {"id": "x"}}]}
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "original"}]}
    assert provider_named("anthropic").answers_retrieve({"messages": [{"role": "user", "content": "q"}, call, answer]}, TOOL_NAME)
    assert not provider_named("anthropic").answers_retrieve({"messages": [{"role": "user", "content": "q"}]}, TOOL_NAME)
    chat_call = {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "headroom_retrieve_2", "arguments": "{}"}}]}
    assert provider_named("openai_chat").answers_retrieve({"messages": [chat_call, {"role": "tool", "tool_call_id": "c", "content": "o"}]}, TOOL_NAME)


def facts(**changes) -> FlowFacts:
    response = json.dumps({"model": "claude-sonnet-4-5-20250929", "usage": {"input_tokens": 100, "cache_read_input_tokens": 0, "output_tokens": 10}}).encode()
    meta = {"provider": "anthropic", "rewritten": [{"kind": "log", "tokens_before": 1000, "tokens_after": 100, "memo": False}], "errors": []}
    base = FlowFacts(ts=5.0, provider="anthropic", path="/v1/messages", headers={}, request_body=anthropic_body(), status=200, response_body=response, meta=meta)
    for k, v in changes.items():
        setattr(base, k, v)
    return base


def test_a_client_row_is_priced():
    r = build_row(facts(), TABLE)
    assert (r.role, r.billed, r.model, r.usage.input_tokens) == ("client", True, "claude-sonnet-4-5-20250929", 100)
    assert r.cost_usd == pytest.approx((100 * 3 + 10 * 15) / 1e6)
    assert r.saved_usd == pytest.approx(900 * 3 / 1e6) and r.pricing == TABLE.title


def test_rows_for_retrieval_flows():
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "headroom_retrieve", "input": {}}]}
    body = json.loads(anthropic_body())
    body["messages"] += [call, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "o"}]}]
    follow_up = build_row(facts(follow_up=True, meta={}, request_body=json.dumps(body).encode()), TABLE)
    assert follow_up.role == "follow_up" and not follow_up.billed and follow_up.retrieve_round  # summed into its client's row
    assert follow_up.saved_usd == -follow_up.cost_usd < 0
    streamed_round = build_row(facts(follow_up=True, meta={}, streamed=True, streamed_usage=Usage(5, 0, 0, 0, 1, "claude-sonnet-4-5")), TABLE)
    assert streamed_round.billed and not streamed_round.retrieve_round and streamed_round.saved_usd == 0.0  # round 0 of a responder job
    client = build_row(facts(streamed_retrieval=True, streamed=True, streamed_usage=Usage(5, 0, 0, 0, 1)), TABLE)
    assert client.role == "client" and not client.billed and client.saved_usd > 0
    assert client.session == streamed_round.session  # same conversation


def test_unknown_price_or_usage_is_unknown_money():
    r = build_row(facts(response_body=json.dumps({"model": "claude-test", "usage": {"input_tokens": 1}}).encode()), TABLE)
    assert r.model == "claude-test" and r.cost_usd is None and r.saved_usd is None and r.pricing is None
    r = build_row(facts(response_body=b"<html>", meta={"error": "ValueError: x"}), TABLE)
    assert r.usage is None and r.cost_usd is None and r.errors == 1 and r.error == "ValueError: x"
    gemini = build_row(facts(provider="gemini", path="/v1beta/models/gemini-2.5-flash:generateContent", request_body=b"{}", response_body=b"{}", meta={}), TABLE)
    assert gemini.model == "gemini-2.5-flash" and gemini.saved_usd == 0.0


def test_the_stream_callable_passes_bytes_through():
    tap = UsageTap(provider_named("anthropic"))
    stream = passthrough_stream(tap, True)
    chunks = [b'event: message_start\ndata: {"type": "message_start", "message": {"usage": {"input_tokens": 7}}}\n', b"\n", b""]
    assert [stream(c) for c in chunks] == chunks  # the closing b"" too: a list would end the HTTP/1 body early
    assert tap.close().input_tokens == 7
    upper = passthrough_stream(UsageTap(provider_named("anthropic")), lambda data: [data.upper(), b"", b"!"])  # another addon's callable first
    assert upper(b"ab") == [b"AB", b"!"]


def test_a_version_1_ledger_keeps_its_rows_and_gains_the_cache_columns(tmp_path):
    import sqlite3

    path = ledger_path(tmp_path)
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE requests (id INTEGER PRIMARY KEY, ts REAL NOT NULL, provider TEXT NOT NULL, model TEXT, session TEXT NOT NULL,
        role TEXT NOT NULL, billed INTEGER NOT NULL, streamed INTEGER NOT NULL, status INTEGER, usage_known INTEGER NOT NULL,
        input_tokens INTEGER, cache_read_tokens INTEGER, cache_write_5m_tokens INTEGER, cache_write_1h_tokens INTEGER, output_tokens INTEGER,
        tokens_before INTEGER NOT NULL, tokens_after INTEGER NOT NULL, segments TEXT NOT NULL, retrieve_round INTEGER NOT NULL,
        retrieval_rounds INTEGER NOT NULL, errors INTEGER NOT NULL, error TEXT, latency_ms REAL, ttfb_ms REAL, pricing TEXT,
        cost_usd REAL, saved_usd REAL);
        INSERT INTO requests (ts, provider, session, role, billed, streamed, usage_known, tokens_before, tokens_after, segments,
        retrieve_round, retrieval_rounds, errors) VALUES (1.0, 'anthropic', 's', 'client', 1, 0, 0, 0, 0, '[]', 0, 0, 0);
        PRAGMA user_version = 1;"""
    )
    old.close()
    writer = LedgerWriter(path)
    cache = {"ttl": "1h", "prefix_break": {"at": "system", "tokens": 12, "of": 900, "cause": "date"}}
    writer.submit(lambda: LedgerRow(2.0, "anthropic", "claude-sonnet-4-5", "s", client="claude-cli", thread="t1", cache=cache))
    assert writer.flush()
    writer.close()
    first, second = read_rows(path)
    assert first.ts == 1.0 and first.cache == {} and first.client is None
    assert (second.client, second.thread, second.cache) == ("claude-cli", "t1", cache)
    db = connect(path)
    assert db.execute("SELECT cache_ttl, prefix_break_tokens FROM requests WHERE ts = 2.0").fetchone()[:] == ("1h", 12)
