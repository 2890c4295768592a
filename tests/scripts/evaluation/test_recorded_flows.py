"""recorded_flows: which flows of a file are evaluated, with what URL, and why others are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.io import FlowWriter
from mitmproxy.test import tflow

from scripts.evaluation.recorded_flows import FlowFileError, recorded_request, recorded_requests

ORIGINAL = json.dumps({"model": "claude-test", "messages": [{"role": "user", "content": "long " * 100}]}).encode()
FORWARDED = json.dumps({"model": "claude-test", "messages": [{"role": "user", "content": "short"}]}).encode()
REPORT = {"provider": "anthropic", "retrieve_tool": "headroom_retrieve", "streaming": False,
          "rewritten": [{"kind": "test", "tool_name": "Bash"}, {"kind": "log", "tool_name": "Bash"}, {"kind": "test", "tool_name": None}]}  # fmt: skip


def flow(url: str = "https://api.anthropic.com/v1/messages", body: bytes = FORWARDED, **metadata) -> http.HTTPFlow:
    f = tflow.tflow(req=http.Request.make("POST", url, body, {"content-type": "application/json", "x-api-key": "sk-ant-1"}), resp=True)
    f.metadata.update(metadata)
    return f


def rewritten(**extra) -> http.HTTPFlow:
    return flow(headroom=REPORT, headroom_original=ORIGINAL, **extra)


def test_a_rewritten_flow_gives_both_bodies_kinds_and_tools():
    r = recorded_request(rewritten())
    assert r.provider == "anthropic" and r.url == "https://api.anthropic.com/v1/messages" and not r.url_guessed
    assert r.original == ORIGINAL and r.forwarded == FORWARDED
    assert r.kinds == ("test", "log") and r.tools == ("Bash",) and r.retrieve_tool == "headroom_retrieve"
    assert ("x-api-key", "sk-ant-1") in r.headers


def test_flows_without_a_compressed_segment_are_skipped_with_a_reason():
    assert recorded_request(flow()) is None  # Headroom did not look at it
    assert recorded_request(flow(headroom=REPORT, headroom_follow_up=True)) is None  # the proxy's own round
    assert recorded_request(flow(headroom={**REPORT, "rewritten": []})).reason == "no segment was compressed"
    assert "failed" in recorded_request(flow(headroom={"error": "boom"})).reason


def test_a_streamed_retrieval_flow_gets_its_url_back_from_the_server_name_or_the_recorded_key():
    f = rewritten(headroom_streamed_retrieval=True)
    f.request.url = "http://127.0.0.1:4321/headroom-stream/abc"
    f.client_conn.sni = "api.anthropic.com"
    r = recorded_request(f)
    assert r.url == "https://api.anthropic.com/v1/messages" and r.url_guessed
    f.metadata["headroom_upstream_url"] = "https://api.anthropic.com/v1/messages?beta=true"
    assert recorded_request(f).url.endswith("?beta=true") and not recorded_request(f).url_guessed
    gemini = flow(headroom={**REPORT, "provider": "gemini"}, headroom_original=ORIGINAL, headroom_streamed_retrieval=True)
    gemini.client_conn.sni = "generativelanguage.googleapis.com"
    assert "not recorded" in recorded_request(gemini).reason  # the model was in the lost path


def test_a_flow_file_round_trip_keeps_the_metadata_and_honours_limit(tmp_path: Path):
    path = tmp_path / "flows"
    with path.open("wb") as f:
        writer = FlowWriter(f)
        for item in (rewritten(), flow(headroom={**REPORT, "rewritten": []}), rewritten(), rewritten()):
            writer.add(item)
    kept, skipped = recorded_requests(path)
    assert len(kept) == 3 and len(skipped) == 1 and kept[0].original == ORIGINAL
    assert len(recorded_requests(path, limit=2)[0]) == 2


def test_unreadable_files_say_what_to_do(tmp_path: Path):
    with pytest.raises(FlowFileError, match="mitmdump -w"):
        recorded_requests(tmp_path / "missing")
    (tmp_path / "junk").write_bytes(b"not a flow file at all")
    with pytest.raises(FlowFileError, match="not a mitmproxy flow file"):
        recorded_requests(tmp_path / "junk")
