"""A second real client: Codex, run with `scripts/wrap codex exec …` against the mock.

Codex speaks the Responses API over a WebSocket when the server accepts one; a large pasted log
in the prompt must reach the mock compressed, and Codex must print the mock's answer.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "codex"
NEEDLE = "FATAL ledger-sync: checksum mismatch on batch 7781"

pytestmark = pytest.mark.skipif(not CODEX.exists(), reason="Codex CLI not installed (scripts/setup --test installs it)")


def _input_texts(body: dict) -> list[str]:
    texts = []
    for item in body.get("input", []):
        content = item.get("content") if isinstance(item, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts


def test_codex_prompt_with_a_pasted_log_arrives_compressed(proxy, mock, tmp_path):
    log = ["INFO ledger-sync: batch accepted, waiting for next batch from queue"] * 400 + [NEEDLE]
    log += ["DEBUG ledger-sync: heartbeat, connection pool healthy, 8 of 8 idle"] * 300
    prompt = "What failed in this log?\n" + "\n".join(log)
    env = proxy.cli_env(tmp_path / "codex-home", OPENAI_API_KEY="sk-test", CODEX_API_KEY="sk-test", RUST_LOG="off")
    command = [str(ROOT / "scripts" / "wrap"), str(CODEX), "exec", "--skip-git-repo-check", prompt]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"codex failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"

    carrying = [r for r in mock.llm_requests() if any(NEEDLE in t for t in _input_texts(r.json))]
    assert carrying, "the prompt never reached the mock"
    request = carrying[-1]
    [text] = [t for t in _input_texts(request.json) if NEEDLE in t]
    assert "[previous line repeated 399 more times]" in text
    assert len(text) < len(prompt) / 20
    assert f"mock received {len(request.body)} bytes" in result.stdout


EXEC_SOURCE = """// @exec: {"max_output_tokens": 30000}
const lines = ["collected 301 items"];
for (let i = 0; i < 300; i++) lines.push(`tests/test_billing.py::test_invoice_total_${String(i).padStart(4, "0")} PASSED      [ ${Math.floor(i / 3)}%]`);
lines.push("FAILED tests/test_billing.py::test_refund_rounding - AssertionError: 10.05 != 10.5");
text(lines.join("\\n"));"""
HIDDEN_LINE = "test_invoice_total_0137 PASSED"


def _outputs(body: dict) -> list[str]:
    """Tool outputs in a Responses input, whether a string or a list of text items."""
    out = []
    for item in body.get("input", []):
        if isinstance(item, dict) and item.get("type") in ("custom_tool_call_output", "function_call_output"):
            output = item.get("output")
            out += [output] if isinstance(output, str) else [p.get("text", "") for p in output or [] if isinstance(p, dict)]
    return out


def test_codex_folded_tool_output_is_retrieved_within_the_websocket(proxy, mock, tmp_path):
    from tests.e2e.test_retrieval import FOLD_MARKER
    from tests.support.mock_provider import _response_object, responses_reply

    def respond(request):
        body = request.json
        last = body["input"][-1]
        if last.get("type") == "function_call_output" and last.get("call_id") == "call_r1":
            return responses_reply({**_response_object("the failing test is test_refund_rounding"), "id": "resp_3"}, True)
        if any(FOLD_MARKER.search(t) for t in _outputs(body)):
            marker = FOLD_MARKER.search(json.dumps(body)).group(1)
            call = {"type": "function_call", "id": "fc_r1", "call_id": "call_r1", "name": "headroom_retrieve", "arguments": json.dumps({"id": marker}), "status": "completed"}
            return responses_reply({**_response_object(""), "id": "resp_2", "output": [call]}, True)
        if not _outputs(body):
            call = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_exec", "name": "exec", "input": EXEC_SOURCE, "status": "completed"}
            return responses_reply({**_response_object(""), "id": "resp_1", "output": [call]}, True)
        return None

    mock.responder = respond
    env = proxy.cli_env(tmp_path / "codex-home", OPENAI_API_KEY="sk-test", CODEX_API_KEY="sk-test", RUST_LOG="off")
    command = [str(ROOT / "scripts" / "wrap"), str(CODEX), "exec", "--skip-git-repo-check", "which billing test fails?"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"codex failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert "the failing test is test_refund_rounding" in result.stdout
    requests = mock.llm_requests()
    assert [r.method for r in requests] == ["WS"] * len(requests)
    folded = [r for r in requests if any(FOLD_MARKER.search(t) for t in _outputs(r.json))]
    assert folded, "the exec output never arrived folded"
    sent = next(t for t in _outputs(folded[0].json) if FOLD_MARKER.search(t))
    assert "test_refund_rounding" in sent and HIDDEN_LINE not in sent
    follow_up = requests[requests.index(folded[0]) + 1]
    assert follow_up.json["input"][-1]["call_id"] == "call_r1" and HIDDEN_LINE in follow_up.json["input"][-1]["output"]
    # Codex never saw the tool: its next request (if any) has no retrieve call in its input
    for later in requests[requests.index(follow_up) + 1 :]:
        assert not any(i.get("name") == "headroom_retrieve" for i in later.json["input"] if isinstance(i, dict))
    # provenance: Codex chains its requests (previous_response_id), so the exec output's request
    # carries no call; the trace finds the call in the response that made it
    from addon.ledger.ledger_table import connect, ledger_path
    from scripts.context_trace import list_sessions, trace

    deadline, outputs = time.monotonic() + 20, []
    while not (outputs and outputs[-1].get("source")) and time.monotonic() < deadline:
        time.sleep(0.3)
        db = connect(ledger_path(proxy.home))
        try:
            sessions = list_sessions(db)
        finally:
            db.close()
        windows = [trace(ledger_path(proxy.home), s["session"], n) for s in sessions for n in range(1, s["requests"] + 1)]
        outputs = [seg for w in windows for seg in w["segments"] if seg.get("call") == "call_exec"]
    assert outputs and outputs[-1]["source"].startswith("exec $ "), outputs
