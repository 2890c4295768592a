"""The ledger line a flow carries: each kind of row, priced by the bundled table."""

from __future__ import annotations

from addon.ledger.flow_record import FlowFacts, build_row
from addon.ledger.ledger_table import LedgerRow
from addon.ledger.ledger_line import ledger_line
from addon.ledger.pricing import load_pricing
from addon.ledger.usage import Usage

TABLE = load_pricing()


def priced(**changes) -> LedgerRow:
    facts = FlowFacts(ts=1.0, provider="anthropic", path="/v1/messages", headers={}, request_body=b'{"model": "claude-sonnet-4-5"}', **changes)
    return build_row(facts, TABLE)


def test_a_client_row_with_cache_figures_and_savings():
    row = priced(response_body=b'{"model": "claude-sonnet-4-5", "usage": {"input_tokens": 12345, "cache_read_input_tokens": 10000, '
                 b'"cache_creation_input_tokens": 2000, "output_tokens": 345}}',
                 meta={"rewritten": [{"kind": "log", "tokens_before": 9000, "tokens_after": 1000, "memo": False}]})  # fmt: skip
    assert row.cost_usd > 0 and row.saved_usd > 0
    assert ledger_line(row) == (
        f"ledger: in 12,345 · cache read 10,000 · write 2,000 (5m) · out 345 · ${row.cost_usd:.4f} · saved ${row.saved_usd:.4f} ({TABLE.title})"
    )


def test_both_cache_lifetimes_and_no_saving_shown_when_nothing_was_compressed():
    row = LedgerRow(ts=1.0, provider="anthropic", model="claude-sonnet-4-5", session="s", usage=Usage(1, 0, 100, 200, 5), cost_usd=0.25, saved_usd=0.0, pricing="t")
    assert ledger_line(row) == "ledger: in 1 · write 100 (5m) + 200 (1h) · out 5 · $0.2500 (t)"


def test_retrieval_rounds_and_rows_billed_elsewhere():
    body = b'{"model": "claude-sonnet-4-5", "usage": {"input_tokens": 100, "output_tokens": 20}}'
    messages = (b'{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": '
                b'[{"type": "tool_use", "id": "t", "name": "headroom_retrieve", "input": {}}]}, {"role": "user", "content": "a"}]}')  # fmt: skip
    facts = FlowFacts(ts=1.0, provider="anthropic", path="/v1/messages", headers={}, request_body=messages, response_body=body, follow_up=True)
    row = build_row(facts, TABLE)
    assert row.retrieve_round and not row.billed and row.saved_usd == -row.cost_usd
    assert ledger_line(row) == f"ledger: in 100 · out 20 · ${row.cost_usd:.4f} · saved −${row.cost_usd:.4f} · retrieval round · not billed here: its client row carries it ({TABLE.title})"
    client = priced(response_body=body, streamed_retrieval=True)
    assert ledger_line(client).endswith("· not billed here: its follow-up rows carry it" + f" ({TABLE.title})")


def test_unknown_usage_price_and_errors():
    row = LedgerRow(ts=1.0, provider="openai_chat", model="gpt-test", session="s", usage=Usage(10, 0, 0, 0, 2), errors=1, error="connection: reset")
    assert ledger_line(row) == "ledger: in 10 · out 2 · no price for gpt-test · error: connection: reset"
    assert ledger_line(LedgerRow(ts=1.0, provider="gemini", model=None, session="s")) == "ledger: usage unknown"
