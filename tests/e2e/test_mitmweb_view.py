"""What a mitmweb user sees: real mitmweb with Headroom, read through mitmweb's own web API.

A rewritten request opens in the Headroom view (before/after per segment) and its comment ends
with the ledger line; the ledger line is put on the flow after the response, so a flow file
saved by mitmdump (written in the response hook) cannot show it, the live web UI does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anthropic
import httpx

from addon.ledger.ledger_table import ledger_path, read_rows
from addon.ledger.ledger_line import ledger_line
from compressors.tokens import count_tokens
from tests.conftest import Proxy, routes_for, wait_for_port
from tests.support.bodies import anthropic_tool_turn, noisy_log
from tests.support.processes import free_port
from tests.support.mock_provider import anthropic_reply


@dataclass
class WebProxy(Proxy):
    """The proxy of the other end-to-end tests, run as mitmweb (no browser) with its API on web_port."""

    web_port: int = 0
    program: str = "mitmweb"

    def extra_args(self) -> list[str]:
        self.web_port = self.web_port or free_port()
        return ["--set", "web_open_browser=false", "--set", "web_host=127.0.0.1", "--set", f"web_port={self.web_port}"]

    def wait_ready(self) -> None:
        wait_for_port(self.web_port, process=self.process)

    def api(self, path: str) -> httpx.Response:
        """GET from mitmweb's web API (what its UI shows), not through the proxy."""
        response = httpx.get(f"http://127.0.0.1:{self.web_port}{path}", trust_env=False, timeout=10)
        response.raise_for_status()
        return response


def test_a_rewritten_flow_shows_before_after_and_its_ledger_line(tmp_path, upstream_tls, mock_server, other_server, mock, monkeypatch):
    web = WebProxy(tmp_path / "home", upstream_tls, routes_for(mock_server, other_server)).start()
    try:
        answer = anthropic_reply([{"type": "text", "text": "declined"}], "end_turn", False, model="claude-sonnet-4-5-20250929")
        mock.responder = lambda request: answer if request.path.endswith("/v1/messages") else None
        log = noisy_log()
        with web.client_env(monkeypatch):
            client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
            client.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=anthropic_tool_turn(log))
            client.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        deadline = time.monotonic() + 20
        while True:
            flows = [f for f in web.api("/flows").json() if f["request"]["path"] == "/v1/messages"]
            # both rows in the file (each request's row follows its composition, in either order)
            written = len(flows) == 2 and any("ledger:" in f["comment"] for f in flows) and len(read_rows(ledger_path(web.home))) == 2
            if written or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        compressed, plain = sorted(flows, key=lambda f: f["timestamp_created"])
        rows = read_rows(ledger_path(web.home))
        assert len(rows) == 2
        # the comment: the rewrite's summary, then the ledger line of its row
        summary, line = compressed["comment"].split("\n")
        assert summary.startswith(f"headroom: {count_tokens(log):,} → ") and line == ledger_line(rows[0])
        assert line.startswith("ledger: in 100 · out 20 · $") and f"({rows[0].pricing})" in line
        assert plain["comment"] == ""  # not rewritten: the comment stays the user's
        # the request opens in the Headroom view by default ("auto"), and the response does not
        view = web.api(f"/flows/{compressed['id']}/request/content/auto.json").json()
        assert view["description"].startswith(f"Headroom: {count_tokens(log):,} → ")
        text = ["".join(part[1] for part in line) for line in view["lines"]]
        assert text[1] == "ledger:   " + line.removeprefix("ledger: ")
        before = text.index("── before: the original ({:,} chars) ──".format(len(log)))
        assert before > text.index(next(t for t in text if t.startswith("── after")))
        assert text[before + 1 : before + 1 + len(log.splitlines())] == log.splitlines()
        assert web.api(f"/flows/{compressed['id']}/response/content/auto.json").json()["description"] == "JSON"
        assert web.api(f"/flows/{plain['id']}/request/content/auto.json").json()["description"] == "JSON"
    finally:
        web.stop()
