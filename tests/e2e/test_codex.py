"""A second real client: Codex, run with `scripts/wrap codex exec …` against the mock.

Codex speaks the Responses API over a WebSocket when the server accepts one; a large pasted log
in the prompt must reach the mock compressed, and Codex must print the mock's answer.
"""

from __future__ import annotations

import subprocess
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
