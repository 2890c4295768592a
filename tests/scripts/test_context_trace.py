import json
import subprocess
import sys
from pathlib import Path

import pytest

from addon.ledger.ledger_table import LedgerRow, connect, insert
from addon.ledger.provenance_table import CompositionWriter, Retrieval, write_retrievals
from scripts.context_trace import TraceError, trace

ROOT = Path(__file__).resolve().parents[2]
FOLD = "f" * 24


def _unit(pos, role, type_, tokens, sent=None, new=False, **more) -> dict:
    return {"pos": pos, "at": f"u{pos}", "role": role, "type": type_, "new": new, "tokens": tokens, "sent": tokens if sent is None else sent, **more}


def _window() -> list[dict]:
    return [
        _unit(0, "tools", "tool", 900, fate="untouched", source="Read"),
        _unit(1, "system", "system", 300, fate="untouched"),
        _unit(2, "user", "text", 20, fate="untouched"),
        _unit(3, "assistant", "tool_call", 30, fate="untouched", source="Read /w/app.log"),
        _unit(4, "tool", "tool_result", 5000, fate="whole", reason="seen by the provider before any decision", source="Read /w/app.log", content="c1"),
        _unit(5, "assistant", "tool_call", 30, fate="untouched", source="Read /w/app.log"),
        _unit(6, "tool", "tool_result", 5000, 600, new=True, fate="compressed", kind="log", mode="lossy", ids=[FOLD], source="Read /w/app.log", content="c1"),
        _unit(7, "tool", "tool_result", 400, new=True, fate="whole", reason="small", source="Bash $ ls", content="c2"),
    ]


@pytest.fixture
def ledger(tmp_path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    db = connect(path)
    writer = CompositionWriter()
    insert(db, [LedgerRow(100.0, "anthropic", "claude-x", "claude-code:abc", composition=_window()[:5])], writer)
    insert(db, [LedgerRow(200.0, "anthropic", "claude-x", "claude-code:abc", composition=_window())], writer)
    insert(db, [LedgerRow(150.0, "openai_chat", "gpt", "prompt:zzz", composition=_window()[:3])], writer)
    with db:
        write_retrievals(db, [Retrieval(210.0, FOLD, "found")])
    db.close()
    return path


def test_a_trace_sums_the_window_by_type_tool_and_fate(ledger):
    data = trace(ledger, "claude-code:a")
    assert (data["session"], data["request"], data["of"], data["provider"]) == ("claude-code:abc", 2, 2, "anthropic")
    assert data["tokens"] == {"client": 11680, "forwarded": 7280, "new": 5400}
    by_tool = {g["name"]: g for g in data["by_tool"]}
    assert by_tool["Read"] == {"name": "Read", "units": 2, "tokens": 10000, "sent": 5600}
    fates = {g["name"]: g["units"] for g in data["fates"]}
    assert fates == {"compressed": 1, "whole": 2, "untouched": 5}
    assert [g["name"] for g in data["whole_because"]] == ["seen by the provider before any decision", "small"]
    assert data["retrieved"] == [{"pos": 6, "ids": [FOLD], "source": "Read /w/app.log"}]
    assert data["segments"][6]["retrieved"] == [FOLD] and len(data["segments"]) == 8
    [same_content, same_source] = [g for g in data["repeats"] if g["source"] == "Read /w/app.log"]
    assert (same_content["what"], same_content["count"], same_content["positions"]) == ("same content", 2, [4, 6])
    assert same_source["what"] == "same source"


def test_requests_and_sessions_are_chosen_by_number_and_prefix(ledger):
    assert trace(ledger)["session"] == "prompt:zzz"  # the latest written
    first = trace(ledger, "claude-code:abc", 1)
    assert first["request"] == 1 and len(first["segments"]) == 5 and first["retrieved"] == []
    assert trace(ledger, "claude", -1)["request"] == 2
    with pytest.raises(TraceError, match="1 to 2"):
        trace(ledger, "claude-code:abc", 3)
    with pytest.raises(TraceError, match="no session"):
        trace(ledger, "nope")
    with pytest.raises(TraceError, match="no ledger"):
        trace(ledger.parent / "missing.sqlite3")


def test_an_answer_to_a_call_made_in_an_earlier_response_gets_its_source(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    db = connect(path)
    first = LedgerRow(1.0, "openai_responses", "gpt", "s", composition=[_unit(0, "user", "text", 10, fate="untouched")])
    first.calls = {"call_9": "shell $ cargo test"}  # the response asked for a shell command
    chained = _unit(0, "tool", "tool_result", 900, new=True, fate="whole", reason="small", call="call_9")
    insert(db, [first, LedgerRow(2.0, "openai_responses", "gpt", "s", composition=[chained])], CompositionWriter())
    db.close()
    [segment] = trace(path, "s")["segments"]
    assert segment["source"] == "shell $ cargo test"


def test_by_default_the_main_threads_last_request_is_traced(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    db = connect(path)
    writer = CompositionWriter()
    for ts, model, units in ((1.0, "claude-big", 5), (2.0, "claude-big", 8), (3.0, "claude-small", 2)):  # a title request last
        insert(db, [LedgerRow(ts, "anthropic", model, "claude-code:s", composition=_window()[:units])], writer)
    db.close()
    data = trace(path, "claude-code:s")
    assert (data["request"], data["of"], data["model"], len(data["segments"])) == (2, 3, "claude-big", 8)
    assert trace(path, "claude-code:s", -1)["model"] == "claude-small"


def test_the_cli_prints_json_and_tables(ledger):
    env = {"HEADROOM_HOME": str(ledger.parent), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "scripts.cli", "trace", "claude-code:abc", "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tokens"]["forwarded"] == 7280
    table = subprocess.run([sys.executable, "-m", "scripts.cli", "trace", "claude-code:abc"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert table.returncode == 0 and "Read /w/app.log" in table.stdout and "retrieved" in table.stdout
    sessions = subprocess.run([sys.executable, "-m", "scripts.cli", "trace", "--sessions"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "claude-code:abc" in sessions.stdout and "prompt:zzz" in sessions.stdout
    missing = subprocess.run([sys.executable, "-m", "scripts.cli", "trace", "nope"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "headroom trace: no session" in missing.stderr
