"""The third real client: Gemini CLI, run with `scripts/wrap gemini -p …` against the mock.

The mock asks Gemini CLI to read a large test log of the test's making; its `functionResponse`
must arrive folded (lossy, with a marker) and valid; the mock then calls `headroom_retrieve`,
the proxy answers it inside the stream, and Gemini CLI prints the final answer without ever
seeing the tool. Both logins: an API key (the Gemini API) and Google login (Code Assist's
`cloudcode-pa.googleapis.com/v1internal`, driven offline with an access token).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_retrieval import FAILING, FOLD_MARKER, HIDDEN, verbose_pytest
from tests.support.mock_provider import Received, Reply

ROOT = Path(__file__).resolve().parents[2]
GEMINI = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "gemini"
FINAL = "The failing test is test_refund_rounding."
SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "ide": {"enabled": False},
}

pytestmark = pytest.mark.skipif(not GEMINI.exists(), reason="Gemini CLI not installed (scripts/setup --test installs it)")


def _request(body: dict) -> dict:
    return body.get("request", body)  # Code Assist wraps the Gemini request


def _responses(body: dict) -> list[dict]:
    return [p["functionResponse"] for c in _request(body)["contents"] for p in c.get("parts", []) if "functionResponse" in p]


def _sse(chunk: dict, wrapped: bool) -> Reply:
    return Reply(events=[(None, {"response": chunk} if wrapped else chunk)])


def _answer(parts: list[dict]) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 10, "totalTokenCount": 110}}  # fmt: skip


def script(log_file: Path):
    def respond(request: Received) -> Reply | None:
        path = request.path.split("?")[0]
        if path.endswith(":loadCodeAssist"):
            return Reply(json={"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "mock-project-123"})
        if not path.endswith(":streamGenerateContent"):
            return None
        wrapped = "request" in request.json
        answered = _responses(request.json)
        if answered and answered[-1]["name"] == "headroom_retrieve":
            return _sse(_answer([{"text": FINAL}]), wrapped)
        if answered and answered[-1]["name"] == "read_file":
            marker = FOLD_MARKER.search(json.dumps(answered[-1])).group(1)
            return _sse(_answer([{"functionCall": {"name": "headroom_retrieve", "args": {"id": marker}}}]), wrapped)
        return _sse(_answer([{"functionCall": {"name": "read_file", "args": {"file_path": str(log_file)}}}]), wrapped)

    return respond


@pytest.mark.parametrize("login", ["api-key", "google"])
def test_gemini_cli_read_arrives_folded_and_retrieval_stays_invisible(proxy, mock, tmp_path, login):
    workdir = tmp_path / "project"
    workdir.mkdir()
    log_file = workdir / "pytest.log"
    log_file.write_text(verbose_pytest() + "\n")
    home = tmp_path / "gemini-home"
    (home / ".gemini").mkdir(parents=True)
    settings = json.loads(json.dumps(SETTINGS))
    if login == "api-key":
        variables = {"GEMINI_API_KEY": "AIza-test-key"}
    else:  # Google login without a browser: an access token for Code Assist
        settings["security"]["auth"]["selectedType"] = "oauth-personal"
        variables = {"GOOGLE_GENAI_USE_GCA": "true", "GOOGLE_CLOUD_ACCESS_TOKEN": "ya29.test-token"}
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    mock.responder = script(log_file)
    env = proxy.cli_env(home, **variables)
    command = [str(ROOT / "scripts" / "wrap"), str(GEMINI), "--approval-mode", "yolo", "-m", "gemini-2.5-flash", "-p", "Which test fails in pytest.log?"]
    result = subprocess.run(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"gemini failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert FINAL in result.stdout

    turns = [r for r in mock.llm_requests() if r.path.split("?")[0].endswith(":streamGenerateContent")]
    assert all(("cloudcode-pa" in r.headers.get("host", "")) == (login == "google") for r in turns)
    prompt, folded, follow_up = turns  # the CLI's two requests and the proxy's follow-up: nothing more
    read = _responses(folded.json)[-1]
    text = json.dumps(read["response"])
    assert FAILING in text and HIDDEN not in text and FOLD_MARKER.search(text)  # folded, the failure kept
    assert len(text) < len(verbose_pytest()) / 3
    assert _request(folded.json)["tools"][-1]["functionDeclarations"][0]["name"] == "headroom_retrieve"
    answer = _responses(follow_up.json)[-1]
    assert answer["name"] == "headroom_retrieve" and HIDDEN in answer["response"]["content"]
    assert ("request" in follow_up.json) == (login == "google")
