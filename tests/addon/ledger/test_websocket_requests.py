"""Pairing requests and their ends on a WebSocket: which server message ends one, which reports are one rewrite."""

from __future__ import annotations

import json

from addon.ledger.websocket_requests import same_report, websocket_end
from tests.addon.ledger.test_ledger import completed


def test_ends_of_websocket_requests():
    assert websocket_end(json.dumps(completed("m", {})).encode()) == "response.completed"
    assert websocket_end(b'{"type":"response.failed","response":{}}') == "response.failed"
    assert websocket_end(b'{"response": {"output": "' + b"x" * 5000 + b'"}, "type": "response.incomplete"}') == "response.incomplete"
    assert websocket_end(b'{"type": "response.output_text.delta", "delta": "\\"type\\": \\"response.completed\\""}') is None


def test_reports_are_the_same_rewrite_once_counted():
    uncounted = {"ms": 1.25, "tokens_before": 0, "tokens_after": 0, "rewritten": [{"kind": "log", "tokens_before": None, "tokens_after": None}]}
    counted = {"ms": 1.25, "tokens_before": 900, "tokens_after": 90, "rewritten": [{"kind": "log", "tokens_before": 900, "tokens_after": 90}]}
    assert same_report(uncounted, counted) and not same_report(uncounted, {**counted, "ms": 1.5})
    error = {"error": "ValueError: x"}
    assert same_report(error, error) and not same_report(error, dict(error))  # without `ms`: only itself
