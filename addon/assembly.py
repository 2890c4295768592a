"""Headroom's addons, built once with the services they share and put in hook order."""

from __future__ import annotations

from dataclasses import dataclass, field

from addon.cache.cache_alignment import CacheAlignment
from addon.compression.compression import Compression
from addon.ledger.ledger import Ledger
from addon.ledger.metrics import Metrics
from addon.proxy.host_filter import HostFilter
from addon.proxy.local_defaults import LocalDefaults
from addon.proxy.response_streaming import ResponseStreaming
from addon.proxy.storage import Storage
from addon.proxy.upstream_client import UpstreamClient
from addon.retrieval.answer_retrieval import AnswerRetrieval
from addon.retrieval.stream_responder import StreamResponder
from addon.retrieval.websocket_retrieval import WebSocketRetrieval
from addon.services import Services
from addon.view.flow_view import FlowView


@dataclass
class HeadroomAddons:
    """Every addon, each holding what it uses; tests build the same set."""

    services: Services = field(default_factory=Services)
    upstream: UpstreamClient = field(default_factory=UpstreamClient)

    def __post_init__(self) -> None:
        s = self.services
        self.local_defaults = LocalDefaults()
        self.hosts = HostFilter()
        self.storage = Storage(s)
        self.cache = CacheAlignment(s)
        self.answer_retrieval = AnswerRetrieval(s, self.upstream)
        self.responder = StreamResponder(s, self.upstream)
        self.compression = Compression(s, self.hosts, self.cache, self.responder)
        self.websocket_retrieval = WebSocketRetrieval(s)
        self.streaming = ResponseStreaming()
        self.metrics = Metrics(s)
        self.ledger = Ledger(self.hosts, self.metrics)
        s.retrieve_observers.append(self.ledger.retrieved)
        self.view = FlowView()

    def in_order(self) -> list:
        """The order mitmproxy calls their hooks in. It matters in two places: AnswerRetrieval's
        `requestheaders` marks the proxy's own follow-ups before Compression's `request` skips
        them, Compression's report is on the flow before the Ledger's hooks and WebSocketRetrieval
        read it, and WebSocketRetrieval decides what the client gets before the Ledger sees it."""
        return [
            self.local_defaults,
            self.hosts,
            self.storage,
            self.cache,
            self.answer_retrieval,
            self.responder,
            self.compression,
            self.websocket_retrieval,
            self.streaming,
            self.ledger,
            self.metrics,
            self.view,
        ]


def build_addons() -> HeadroomAddons:
    return HeadroomAddons()
