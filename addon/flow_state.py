"""Headroom's per-flow facts, one typed record for every addon that reads or writes them.

The values live in `flow.metadata` as plain values under `headroom*` keys, so mitmweb shows
them and a flow still saves (`mitmdump -w`); this class is the one place that names the keys.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from mitmproxy import http

T = TypeVar("T")


class _Key(Generic[T]):
    """A typed attribute stored in the flow's metadata under `key`."""

    def __init__(self, key: str, default: T) -> None:
        self.key, self.default = key, default

    def __get__(self, state: FlowState, owner: Any = None) -> T:
        return state.metadata.get(self.key, self.default)

    def __set__(self, state: FlowState, value: T) -> None:
        state.metadata[self.key] = value


class FlowState:
    """`FlowState(flow).owner = …`: what one addon leaves on a flow for the others."""

    report = _Key[dict | None]("headroom", None)  # the rewrite report (RewriteReport.as_dict()), or {"error": …}
    original = _Key[bytes | None]("headroom_original", None)  # the body before rewriting: the Headroom view's "before"
    owner = _Key[str | None]("headroom_owner", None)  # who may fetch the originals this request names (hashed key)
    follow_up = _Key[bool]("headroom_follow_up", False)  # a request the proxy sent itself (retrieval rounds)
    streamed_retrieval = _Key[bool]("headroom_streamed_retrieval", False)  # answered by the loopback responder
    upstream_url = _Key[str | None]("headroom_upstream_url", None)  # the provider URL of a flow routed to the responder
    retrieval_rounds = _Key[int]("headroom_retrieval_rounds", 0)  # rounds answered for a non-streamed response
    ledger_line = _Key[str | None]("headroom_ledger", None)  # the ledger's one-line summary (lines, over a WebSocket)

    def __init__(self, flow: http.HTTPFlow) -> None:
        self.metadata = flow.metadata

    @property
    def provider_name(self) -> str | None:
        """The provider the rewrite report names (a flow routed to the responder has lost its API path)."""
        report = self.report
        return report.get("provider") if isinstance(report, dict) else None
