"""`headroom_processes`: the whole rewrite in worker processes, through real mitmdump."""

from __future__ import annotations

import json
import sys
import subprocess
import time
from pathlib import Path

import anthropic

from tests.e2e.test_faults import HIDDEN, sent_result, turns
from tests.e2e.test_prefix_stability import messages_prefix
from tests.e2e.test_retrieval import MARKER
from tests.support.mock_provider import Received, anthropic_retrieving_model

ROOT = Path(__file__).resolve().parents[2]


def test_a_conversation_through_worker_processes_folds_replays_and_retrieves(make_proxy, mock, monkeypatch):
    proxy = make_proxy("headroom_processes=2")
    deadline = time.monotonic() + 120
    while "rewrite worker process(es) ready" not in proxy.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, proxy.log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    forwarded: list[Received] = []
    for turn in (1, 2, 3):
        with proxy.client_env(monkeypatch):
            anthropic.Anthropic(api_key="sk-ant-workers", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=turns(turn))
        forwarded.append(mock.llm_requests()[-1])
    assert MARKER.search(sent_result(forwarded[0], 2))
    for previous, current in zip(forwarded, forwarded[1:]):
        assert current.raw.startswith(messages_prefix(previous.raw))
    marker = MARKER.search(sent_result(forwarded[0], 2)).group(1)

    mock.responder = anthropic_retrieving_model("toolu_w", "done", True, marker=marker, query="0137")
    with proxy.client_env(monkeypatch):  # streamed: the loopback responder answers the retrieve call
        with anthropic.Anthropic(api_key="sk-ant-workers", max_retries=0).messages.stream(model="claude-test", max_tokens=16, messages=turns(3)) as stream:
            text = stream.get_final_message().content[0].text
    assert text == "done" and HIDDEN in json.dumps(mock.llm_requests()[-1].json["messages"][-1])
    # the ledger has each request's composition (counted and composed in the worker)
    deadline = time.monotonic() + 20
    while True:
        out = subprocess.run([sys.executable, "-m", "scripts.cli", "trace", "--json"], cwd=ROOT, env={"HEADROOM_HOME": str(proxy.home), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
        if out.returncode == 0 and json.loads(out.stdout)["of"] >= 4:
            break
        assert time.monotonic() < deadline, out.stdout + out.stderr
        time.sleep(0.3)
    data = json.loads(out.stdout)
    assert {s["source"] for s in data["segments"] if s["type"] == "tool_result"} == {f"Bash $ pytest -v -k run{k}" for k in range(3)}
    assert "rewrite workers stopped" not in proxy.log.read_text(errors="replace")  # the workers served throughout
