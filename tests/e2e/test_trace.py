"""Provenance end to end: real Claude Code through a real proxy, then `headroom trace --json`
lists every unit of its context window with its source and fate, what was retrieved later,
and what the window holds twice."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_claude_code import worker_log_project
from tests.support.mock_provider import Received, Reply, anthropic_reply

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "claude"
ANSWER = "Job 1250 failed."

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="Claude Code CLI not installed (scripts/setup --test installs it)")


def _headroom(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"HEADROOM_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "scripts.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_trace_of_a_claude_code_session_lists_every_source_and_fate(make_proxy, mock, tmp_path):
    proxy = make_proxy()
    workdir, log_file = worker_log_project(tmp_path)

    def respond(request: Received) -> Reply | None:
        if not request.path.split("?")[0].endswith("/v1/messages") or "Read" not in {t.get("name") for t in request.json.get("tools", [])}:
            return None
        body, stream = request.json, bool(request.json.get("stream"))
        answered = {b.get("tool_use_id") for m in body["messages"] if isinstance(m.get("content"), list) for b in m["content"]}
        if "toolu_retrieve" in answered:
            return anthropic_reply([{"type": "text", "text": ANSWER}], "end_turn", stream)
        if "toolu_read_2" in answered:  # the same file read twice: now ask for a folded part
            marker = re.findall(r"retrieve id=([0-9a-f]{24})", json.dumps(body))[0]
            return anthropic_reply([{"type": "tool_use", "id": "toolu_retrieve", "name": "headroom_retrieve", "input": {"id": marker}}], "tool_use", stream)
        n = 2 if "toolu_read_1" in answered else 1
        call = {"type": "tool_use", "id": f"toolu_read_{n}", "name": "Read", "input": {"file_path": str(log_file)}}
        return anthropic_reply([call], "tool_use", stream)

    mock.responder = respond
    env = proxy.cli_env(tmp_path / "claude-home", ANTHROPIC_API_KEY="sk-ant-test-key", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
    command = [str(ROOT / "scripts" / "wrap"), str(CLAUDE), "-p", "Which job failed?", "--allowedTools", "Read", "--max-turns", "5"]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and ANSWER in result.stdout, f"claude failed:\n{result.stdout}\n{result.stderr}"

    deadline, data = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # the ledger writes each row once its response is in
        sessions = json.loads(_headroom(proxy.home, "trace", "--sessions", "--json").stdout or "[]")
        traced = max(sessions, key=lambda s: s["requests"], default=None)
        if traced and traced["requests"] >= 3:
            data = json.loads(_headroom(proxy.home, "trace", traced["session"], "--json").stdout)
            if data["retrieved"]:
                break
        time.sleep(0.5)
    assert data is not None and data["retrieved"], f"no trace with a retrieval: {data}"

    segments = data["segments"]
    assert all({"pos", "at", "role", "type", "tokens", "sent", "fate"} <= set(s) for s in segments)
    assert [s["pos"] for s in segments] == list(range(len(segments)))
    assert {s["role"] for s in segments} >= {"tools", "system", "user", "assistant", "tool"}
    assert any(s["role"] == "tools" and s.get("source") == "Read" for s in segments)  # each tool a unit, with its tokens
    reads = [s for s in segments if s["type"] == "tool_result"]
    assert len(reads) == 2 and all(s["source"] == f"Read {log_file}" for s in reads)
    folded = [s for s in reads if s.get("ids")]
    assert folded and folded[0]["fate"] in ("compressed", "replayed") and folded[0]["sent"] < folded[0]["tokens"]
    assert folded[0]["retrieved"] == folded[0]["ids"][:1] or set(folded[0]["retrieved"]) <= set(folded[0]["ids"])
    assert all(s.get("fate") for s in segments) and all(s.get("source") for s in segments if s["type"] in ("tool_call", "tool_result"))
    assert data["tokens"]["forwarded"] < data["tokens"]["client"]
    assert any(g["what"] == "same source" and g["count"] == 2 for g in data["repeats"]), json.dumps(data, indent=1)[:6000]
    assert {g["name"] for g in data["by_tool"]} == {"Read"}

    table = _headroom(proxy.home, "trace", data["session"])
    assert table.returncode == 0 and "retrieved later by the model" in table.stdout, table.stdout + table.stderr
