"""The flagship real client: Claude Code, run with `scripts/wrap claude -p …` against the mock.

The mock asks Claude Code to Read a large file; Claude Code runs the tool and sends the
tool_result back through the proxy; the mock checks it arrived compressed and valid.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.mock_provider import Received, Reply, anthropic_reply

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "claude"
NEEDLE = "FATAL ledger-sync: checksum mismatch on batch 7781"
FINAL = "The log shows a checksum mismatch on batch 7781."

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="Claude Code CLI not installed (scripts/setup --test installs it)")


def worker_log_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder holding worker.log: 400 lines of finished jobs, job 1250 failed."""
    workdir = tmp_path / "project"
    workdir.mkdir()
    log_file = workdir / "worker.log"
    lines = [f"2026-11-25 10:{i // 60:02d}:{i % 60:02d} INFO job {1000 + i} finished in {20 + i % 7} ms" for i in range(400)]
    lines[250] = "2026-11-25 10:04:10 ERROR job 1250 failed: ledger checksum mismatch on batch 7781"
    log_file.write_text("\n".join(lines) + "\n")
    return workdir, log_file


def _tool_results(request: Received) -> list[dict]:
    out = []
    for message in request.json.get("messages", []):
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            out += [b for b in message["content"] if b.get("type") == "tool_result"]
    return out


def test_claude_code_read_result_arrives_compressed(proxy, mock, tmp_path):
    workdir = tmp_path / "project"
    workdir.mkdir()
    log_file = workdir / "ledger.log"
    lines = ["ledger-sync started"] + ["INFO ledger-sync: batch accepted, waiting for next batch from queue"] * 300
    lines += [NEEDLE] + ["DEBUG ledger-sync: heartbeat, connection pool healthy, 8 of 8 idle"] * 300 + ["ledger-sync stopped"]
    log_file.write_text("\n".join(lines) + "\n")

    def respond(request: Received) -> Reply | None:
        if not request.path.split("?")[0].endswith("/v1/messages"):
            return None
        body = request.json
        tools = {t.get("name") for t in body.get("tools", [])}
        if "Read" not in tools:
            return None  # side requests (titles, quota checks) get the default text
        stream = bool(body.get("stream"))
        if _tool_results(request):
            return anthropic_reply([{"type": "text", "text": FINAL}], "end_turn", stream)
        call = {"type": "tool_use", "id": "toolu_read_1", "name": "Read", "input": {"file_path": str(log_file)}}
        return anthropic_reply([call], "tool_use", stream)

    mock.responder = respond
    env = proxy.cli_env(
        tmp_path / "claude-home",
        ANTHROPIC_API_KEY="sk-ant-test-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
    )
    command = [str(ROOT / "scripts" / "wrap"), str(CLAUDE), "-p", "What went wrong in ledger.log?", "--allowedTools", "Read", "--max-turns", "3"]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"claude failed:\n{result.stdout}\n{result.stderr}"
    assert FINAL in result.stdout

    with_results = [r for r in mock.llm_requests() if _tool_results(r)]
    assert with_results, "Claude Code never sent the tool_result back"
    [tool_result] = _tool_results(with_results[0])
    content = tool_result["content"]
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    assert NEEDLE in text
    assert re.search(r"\[lines \d+-\d+ repeat line \d+\]", text), text[:500]
    original_size = sum(len(line) + 8 for line in lines)
    assert len(text) < original_size / 10
    # the needle keeps its exact line number from Claude Code's numbered Read output
    assert re.search(r"\b302\s*(→|\t)" + re.escape(NEEDLE), text)


def test_claude_code_never_sees_the_retrieve_tool(proxy, mock, tmp_path):
    """A lossy fold goes out with a marker and the retrieve tool; the mock calls the tool; the
    proxy answers it inside Claude Code's stream; Claude Code only sees the final answer."""
    workdir, log_file = worker_log_project(tmp_path)
    hidden = "job 1137 finished"
    answer_text = "Job 1250 failed; job 1137 was fine."
    seen_tools: list[list[str]] = []

    def respond(request: Received) -> Reply | None:
        if not request.path.split("?")[0].endswith("/v1/messages"):
            return None
        body = request.json
        names = [t.get("name") for t in body.get("tools", [])]
        if "Read" not in names:
            return None
        seen_tools.append(names)
        stream = bool(body.get("stream"))
        last = body["messages"][-1]
        blocks = last.get("content") if isinstance(last.get("content"), list) else []
        if any(b.get("tool_use_id") == "toolu_retrieve_1" for b in blocks):
            return anthropic_reply([{"type": "text", "text": answer_text}], "end_turn", stream)
        if any(b.get("tool_use_id") == "toolu_read_1" for b in blocks):
            [marker_id] = set(re.findall(r"retrieve id=([0-9a-f]{24})", json.dumps(body)))
            call = {"type": "tool_use", "id": "toolu_retrieve_1", "name": "headroom_retrieve", "input": {"id": marker_id, "query": "job 1137"}}
            return anthropic_reply([call], "tool_use", stream)
        call = {"type": "tool_use", "id": "toolu_read_1", "name": "Read", "input": {"file_path": str(log_file)}}
        return anthropic_reply([call], "tool_use", stream)

    mock.responder = respond
    env = proxy.cli_env(
        tmp_path / "claude-home",
        ANTHROPIC_API_KEY="sk-ant-test-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    command = [str(ROOT / "scripts" / "wrap"), str(CLAUDE), "-p", "Which job failed?", "--allowedTools", "Read", "--max-turns", "4", "--output-format", "json"]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"claude failed:\n{result.stdout}\n{result.stderr}"
    output = json.loads(result.stdout)
    assert output["result"] == answer_text and output["num_turns"] == 2  # Read, then the answer: no retrieve turn
    follow_up = [r for r in mock.llm_requests() if "toolu_retrieve_1" in r.body.decode()]
    assert follow_up and hidden in _tool_results(follow_up[-1])[-1]["content"]
    assert seen_tools[1][-1] == "headroom_retrieve"  # the tool went out with the marker


def test_claude_code_read_and_re_read_of_a_large_file_arrive_compressed_and_valid(proxy, mock, tmp_path):
    """Claude Code Reads a large log of the test's making, the log grows, and it Reads it again
    (Claude Code answers a re-read of an unchanged file itself, "file unchanged since your last
    Read"): both results reach the mock compressed, the first with the same bytes in the later
    request (its prefix stays cached), both with Claude Code's own lines and numbering."""
    workdir = tmp_path / "project"
    workdir.mkdir()
    log_file = workdir / "sync.log"
    lines = [f"2026-11-25 10:{i // 60 % 60:02d}:{i % 60:02d} INFO ledger-sync batch {5000 + i} accepted in {10 + i % 9} ms" for i in range(900)]
    lines[612] = "2026-11-25 10:10:12 ERROR " + NEEDLE
    log_file.write_text("\n".join(lines) + "\n")
    reads = ["toolu_read_1", "toolu_read_2"]

    def respond(request: Received) -> Reply | None:
        if not request.path.split("?")[0].endswith("/v1/messages"):
            return None
        body = request.json
        if "Read" not in {t.get("name") for t in body.get("tools", [])}:
            return None
        stream = bool(body.get("stream"))
        answered = {r["tool_use_id"] for r in _tool_results(request)}
        pending = [r for r in reads if r not in answered]
        if not pending:
            return anthropic_reply([{"type": "text", "text": FINAL}], "end_turn", stream)
        if pending[0] == "toolu_read_2" and len(log_file.read_text().split("\n")) <= 901:  # the log grows
            with log_file.open("a") as f:
                f.write("".join(f"2026-11-25 10:20:{i:02d} INFO ledger-sync batch {7000 + i} accepted in 12 ms\n" for i in range(60)))
        call = {"type": "tool_use", "id": pending[0], "name": "Read", "input": {"file_path": str(log_file)}}
        return anthropic_reply([call], "tool_use", stream)

    mock.responder = respond
    env = proxy.cli_env(tmp_path / "claude-home", ANTHROPIC_API_KEY="sk-ant-test-key", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
    command = [str(ROOT / "scripts" / "wrap"), str(CLAUDE), "-p", "What went wrong in sync.log?", "--allowedTools", "Read", "--max-turns", "4"]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"claude failed:\n{result.stdout}\n{result.stderr}"
    assert FINAL in result.stdout

    requests = [r for r in mock.llm_requests() if _tool_results(r)]
    assert len(requests) >= 2, "Claude Code did not send both Read results"
    first_round, last_round = requests[0], requests[-1]
    results = {r["tool_use_id"]: r for r in _tool_results(last_round)}
    assert set(results) == set(reads)
    original_size = len(log_file.read_text())
    for read_id in reads:
        content = results[read_id]["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        assert len(text) < original_size / 2, f"{read_id} arrived uncompressed ({len(text):,} of {original_size:,} chars)"
        assert re.search(r"\b613\s*(→|\t)2026-11-25 10:10:12 ERROR " + re.escape(NEEDLE), text), text[:300]
        assert "retrieve id=" in text and [t["name"] for t in last_round.json["tools"]][-1] == "headroom_retrieve"
    # the first result goes out byte for byte as it did in the request that first carried it
    first_sent = json.dumps(_tool_results(first_round)[0]["content"])
    assert first_sent == json.dumps(results["toolu_read_1"]["content"])
