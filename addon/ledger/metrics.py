"""Prometheus metrics on a loopback port (opt-in: `headroom_metrics_port`).

Two sources, read at every scrape: the proxy's counters (`Services.counters`: what
`headroom.counters` shows: rewritten, unchanged, passed through by reason, failed open,
retrievals, compressions over budget) and the ledger's rows as the writer builds them
(requests by provider and role, billed input tokens by price class, output tokens, tokens
before and after compression, dollars billed and saved, retrieval rounds, latency). So the
figures agree with `headroom stats` over the same flows.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator

from mitmproxy import ctx

from addon.ledger.ledger_table import LedgerRow
from addon.services import Services

log = logging.getLogger(__name__)

LATENCY_BUCKETS_MS = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0)


class Metrics:
    """Serves /metrics on 127.0.0.1:`headroom_metrics_port` when the port is set."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._sums: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self._latency: list[float] = [0.0] * (len(LATENCY_BUCKETS_MS) + 1)
        self._latency_sum = 0.0
        self._server = None

    def load(self, loader) -> None:
        loader.add_option("headroom_metrics_port", int, 0, "Serve Prometheus metrics on 127.0.0.1 at this port (0: off).")

    def running(self) -> None:
        port = ctx.options.headroom_metrics_port
        if not port:
            return
        from prometheus_client import start_http_server
        from prometheus_client.registry import CollectorRegistry

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        self._server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
        log.info("headroom: metrics on http://127.0.0.1:%d/metrics", port)

    def observe(self, row: LedgerRow) -> None:
        """A ledger row, as the writer thread built it."""
        labels = (("provider", row.provider), ("role", row.role))
        with self._lock:
            self._sums[("requests", labels)] += 1
            if row.usage is not None and row.billed:
                provider = (("provider", row.provider),)
                for price_class, tokens in (
                    ("input", row.usage.input_tokens),
                    ("cache_read", row.usage.cache_read_tokens),
                    ("cache_write", row.usage.cache_write_tokens),
                ):
                    self._sums[("input_tokens", provider + (("class", price_class),))] += tokens
                self._sums[("output_tokens", provider)] += row.usage.output_tokens
            if row.segments:
                self._sums[("compressed_tokens_before", (("provider", row.provider),))] += row.tokens_before
                self._sums[("compressed_tokens_after", (("provider", row.provider),))] += row.tokens_after
            if row.cost_usd is not None:
                self._sums[("cost_usd", (("provider", row.provider),))] += row.cost_usd
            if row.saved_usd is not None:
                self._sums[("saved_usd", (("provider", row.provider),))] += row.saved_usd
            self._sums[("retrieval_rounds", (("provider", row.provider),))] += row.retrieval_rounds
            if row.latency_ms is not None:
                self._latency_sum += row.latency_ms
                index = next((i for i, bound in enumerate(LATENCY_BUCKETS_MS) if row.latency_ms <= bound), len(LATENCY_BUCKETS_MS))
                self._latency[index] += 1

    def done(self) -> None:
        if self._server is not None:
            self._server.shutdown()


class _Collector:
    """Builds the families at scrape time from the counters and the ledger sums."""

    HELP = {
        "requests": "LLM requests recorded by the ledger, by provider and role (client, follow_up)",
        "input_tokens": "Billed prompt tokens by price class (input, cache_read, cache_write)",
        "output_tokens": "Billed output tokens",
        "compressed_tokens_before": "Tokens of the segments Headroom compressed, as the client sent them",
        "compressed_tokens_after": "The same segments as forwarded",
        "cost_usd": "Dollars the provider billed (list prices; rows with a known price)",
        "saved_usd": "Dollars saved against sending the client's bodies unchanged",
        "retrieval_rounds": "Retrieve calls the proxy answered itself",
    }

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        events = CounterMetricFamily("headroom_events", "What the proxy did, by event (as `headroom.counters` shows)", labels=["event"])
        for event, count in sorted(self.metrics.services.counters.items()):
            events.add_metric([event], count)
        yield events
        with self.metrics._lock:
            sums = dict(self.metrics._sums)
            buckets, total = list(self.metrics._latency), self.metrics._latency_sum
        for name, help_text in self.HELP.items():
            rows = [(dict(labels), value) for (metric, labels), value in sums.items() if metric == name]
            label_names = sorted({k for labels, _ in rows for k in labels}) or ["provider"]
            family = CounterMetricFamily(f"headroom_{name}", help_text, labels=label_names)
            for labels, value in rows:
                family.add_metric([labels.get(k, "") for k in label_names], value)
            yield family
        cumulative, running = [], 0.0
        for bound, count in zip((*LATENCY_BUCKETS_MS, float("inf")), buckets):
            running += count
            cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
        yield HistogramMetricFamily("headroom_request_latency_ms", "Request latency through the proxy (ms)", buckets=cumulative, sum_value=total)
