"""`headroom eval` end to end: flows recorded through a real mitmdump running Headroom (`-w`),
then the eval run as a subprocess against the mock provider, whose answers depend on the body
(tests/support/needle_responder.py): a needle the compression kept keeps the answer, a needle it
folded flips it, and a request that asks for it makes the compressed side call the retrieve tool.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import openai
import pytest

from tests.conftest import ROOT, Proxy, routes_for
from tests.e2e.test_retrieval import verbose_pytest
from tests.support.mock_provider import MockProvider
from tests.support.needle_responder import NO_NEEDLE, RETRIEVE_IF_FOLDED, TOOL, needle_responder

PRICES = {"name": "eval-test-prices", "as_of": "2026-01-01", "models": [
    {"match": ["claude-test*", "gpt-test*"], "input": 3, "output": 15, "cache_write_5m": 3.75, "cache_write_1h": 6, "cache_read": 0.3},
]}  # fmt: skip
KEPT = verbose_pytest().replace("test_refund_rounding", "test_refund_NEEDLE-kept")  # the failure: kept
LOST = verbose_pytest().replace("test_invoice_total_0137", "test_NEEDLE-lost")  # a passing line: folded
ANTHROPIC_TOOLS = [{"name": TOOL, "description": "report the needle", "input_schema": {"type": "object", "properties": {"needle": {"type": "string"}}}}]
OPENAI_TOOLS = [{"type": "function", "function": {"name": TOOL, "parameters": {"type": "object", "properties": {"needle": {"type": "string"}}}}}]


@dataclass
class Recording:
    flows: Path
    pricing: Path
    upstream_ca: Path


def anthropic_turn(output: str, ask: str = "find the needle") -> list[dict]:
    return [
        {"role": "user", "content": ask},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pytest -v"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": output}]},
    ]


def openai_turn(output: str) -> list[dict]:
    call = {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": json.dumps({"command": "pytest -v"})}}
    return [{"role": "user", "content": "find the needle"}, {"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "tool_call_id": "c1", "content": output}]


@pytest.fixture(scope="module")
def recording(tmp_path_factory, upstream_tls, mock_server, other_server) -> Iterator[Recording]:
    """Four rewritten requests recorded with `mitmdump -w` (save_stream_file) through Headroom:
    needle kept, needle folded, needle folded with retrieval asked for (streamed), and an OpenAI
    Chat request with the needle kept (streamed)."""
    home = tmp_path_factory.mktemp("eval-home")
    flows = home / "flows"
    proxy = Proxy(home, upstream_tls, routes_for(mock_server, other_server), [f"save_stream_file={flows}"]).start()
    mock_server.responder = needle_responder()
    env = {"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(proxy.ca.bundle)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = anthropic.Anthropic(api_key="sk-ant-eval", max_retries=0)
        first = client.messages.create(model="claude-test", max_tokens=64, messages=anthropic_turn(KEPT), tools=ANTHROPIC_TOOLS)
        assert first.stop_reason == "tool_use"  # the proxy kept the needle
        second = client.messages.create(model="claude-test", max_tokens=64, messages=anthropic_turn(LOST), tools=ANTHROPIC_TOOLS)
        assert second.content[0].text == NO_NEEDLE  # the proxy folded it away
        ask = f"find the needle ({RETRIEVE_IF_FOLDED})"
        with client.messages.stream(model="claude-test", max_tokens=64, messages=anthropic_turn(LOST, ask), tools=ANTHROPIC_TOOLS) as stream:
            stream.get_final_message()
        chat = openai.OpenAI(api_key="sk-eval", max_retries=0)
        for _ in chat.chat.completions.create(model="gpt-test", messages=openai_turn(KEPT), tools=OPENAI_TOOLS, stream=True):
            pass
    finally:
        mock_server.responder = None
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        proxy.stop()  # mitmdump closes the flow file on exit
    pricing = home / "prices.json"
    pricing.write_text(json.dumps(PRICES))
    yield Recording(flows, pricing, upstream_tls.ca_cert)


def run_eval(recording: Recording, mock: MockProvider, *args: str, out: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scripts.cli", "eval", str(recording.flows), "--pricing", str(recording.pricing),
               "--base-url", f"https://127.0.0.1:{mock.port}", "--ca-bundle", str(recording.upstream_ca), *args]  # fmt: skip
    if out is not None:
        command += ["--json", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and "PROXY" not in k.upper()}
    return subprocess.run(command, cwd=ROOT, env={**env, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}, capture_output=True, text=True, timeout=120)


def billed(received) -> float:
    """What the mock billed for these requests at the test prices (input = bytes / 4, output 20)."""
    return sum((len(r.body) // 4 * 3 + 20 * 15) / 1e6 for r in received)


def test_eval_agrees_where_the_needle_was_kept_and_differs_where_it_was_folded(recording, mock, tmp_path):
    mock.responder = needle_responder()
    out = tmp_path / "report.json"
    done = run_eval(recording, mock, "--budget", "5", out=out)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert [r["provider"] for r in results] == ["anthropic", "anthropic", "anthropic", "openai_chat"]
    assert [r["comparison"]["verdict"] for r in results] == ["agree", "differ", "retrieve", "agree"]
    kept, lost, retrieved, chat = results
    assert kept["original"]["answer"]["tool_calls"] == kept["forwarded"]["answer"]["tool_calls"] == [{"name": TOOL, "arguments": {"needle": "NEEDLE-kept"}}]
    assert lost["original"]["answer"]["tool_calls"] == [{"name": TOOL, "arguments": {"needle": "NEEDLE-lost"}}]
    assert lost["forwarded"]["answer"]["text"] == NO_NEEDLE and not lost["comparison"]["same_stop"]
    assert retrieved["forwarded"]["answer"]["tool_calls"][0]["name"] == "headroom_retrieve" and retrieved["comparison"]["retrieved"]
    # routed to the loopback responder when recorded: the flow kept its provider URL (FlowState.upstream_url)
    assert not retrieved["url_guessed"] and retrieved["streamed"] and re.match(r"https://api.anthropic.com(:\d+)?/v1/messages$", retrieved["url"])
    assert chat["comparison"]["arguments_equal"] and chat["comparison"]["argument_share"] == 1.0
    # every request went out whole-answer, capped, at temperature 0, with the recorded key
    sent = mock.llm_requests()
    assert len(sent) == 8
    for request in sent:
        body = request.json
        assert "stream" not in body and body["max_tokens"] <= 512 and body["temperature"] == 0
        assert request.headers.get("x-api-key") == "sk-ant-eval" or request.headers.get("authorization") == "Bearer sk-eval"
    # the eval's own cost is what the mock billed, priced with the given table
    assert report["spent_usd"] == pytest.approx(billed(sent), abs=1e-6)
    assert report["states"] == {"done": 4}
    groups = {g["name"]: g for g in report["groups"]}
    assert groups["all"]["n"] == 4 and groups["all"]["agree"] == 0.5 and groups["all"]["retrieve"] == 0.25
    assert groups["kind: test"]["n"] == 4 and {"tool: Bash", "tool: shell"} <= set(groups)
    assert "headroom eval" in done.stdout and "agree" in done.stdout and "eval cost $" in done.stdout


def test_eval_stops_before_the_budget_is_exceeded(recording, mock, tmp_path):
    mock.responder = needle_responder()
    plan = tmp_path / "plan.json"
    assert run_eval(recording, mock, "--dry-run", out=plan).returncode == 0
    first_pair = json.loads(plan.read_text())["results"][0]["estimate_usd"]
    budget = first_pair * 1.5  # one pair fits, two do not
    out = tmp_path / "report.json"
    done = run_eval(recording, mock, "--budget", f"{budget:.6f}", out=out)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["states"] == {"done": 1, "over_budget": 3}
    assert len(mock.llm_requests()) == 2
    assert 0 < report["spent_usd"] <= budget


def test_dry_run_sends_nothing_and_a_budget_is_required(recording, mock):
    mock.responder = needle_responder()
    dry = run_eval(recording, mock, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert mock.received == []
    assert "nothing is sent" in dry.stdout and "claude-test" in dry.stdout and "estimated cost at most $" in dry.stdout
    refused = run_eval(recording, mock)
    assert refused.returncode != 0 and "--budget" in refused.stderr
    assert mock.received == []
