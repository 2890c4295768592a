"""Prometheus metrics (headroom_metrics_port): scraped during a run, they agree with the ledger."""

from __future__ import annotations

import time

import anthropic
import httpx

from addon.ledger.ledger_table import ledger_path, read_rows
from tests.e2e.test_retrieval import anthropic_messages, verbose_pytest
from tests.support.mock_provider import anthropic_reply
from tests.support.processes import free_port


def scrape(port: int) -> dict[str, float]:
    """Every sample of /metrics as `name{labels}` → value."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_agree_with_the_ledger(make_proxy, mock, monkeypatch):
    port = free_port()
    proxy = make_proxy(f"headroom_metrics_port={port}")
    mock.responder = lambda request: anthropic_reply([{"type": "text", "text": "ok"}], "end_turn", False, model="claude-sonnet-4-5")
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-metrics", max_retries=0)
        for k in range(3):
            client.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=anthropic_messages(verbose_pytest().replace("3.21s", f"{k}.21s")))
    deadline = time.monotonic() + 15
    rows = []
    while time.monotonic() < deadline:  # rows are written once their exact counts are in
        rows = read_rows(ledger_path(proxy.home))
        if len(rows) == 3:
            break
        time.sleep(0.2)
    assert len(rows) == 3
    samples = scrape(port)
    assert samples['headroom_requests_total{provider="anthropic",role="client"}'] == 3
    assert samples['headroom_compressed_tokens_before_total{provider="anthropic"}'] == sum(r.tokens_before for r in rows)
    assert samples['headroom_compressed_tokens_after_total{provider="anthropic"}'] == sum(r.tokens_after for r in rows)
    assert samples['headroom_output_tokens_total{provider="anthropic"}'] == sum(r.usage.output_tokens for r in rows)
    assert samples['headroom_input_tokens_total{class="input",provider="anthropic"}'] == sum(r.usage.input_tokens for r in rows)
    assert all(r.saved_usd is not None for r in rows)  # priced: the model is in the table
    assert abs(samples['headroom_saved_usd_total{provider="anthropic"}'] - sum(r.saved_usd for r in rows)) < 1e-9
    assert abs(samples['headroom_cost_usd_total{provider="anthropic"}'] - sum(r.cost_usd for r in rows)) < 1e-9
    assert samples['headroom_events_total{event="rewritten"}'] == 3
    assert samples["headroom_request_latency_ms_count"] == 3
    # loopback only
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
