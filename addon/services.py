"""The state Headroom's addons share, built once by addon/headroom.py and handed to each addon
that uses it. No addon looks another up: what one needs from another is passed in here or in
its constructor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from addon.cache.cache_aligner import CacheAligner
from addon.compression.decision_memo import DecisionMemo
from addon.retrieval.original_store import Originals


@dataclass
class Services:
    """Each service is (re)opened by the one addon that declares its options: the memo and the
    originals by `Storage` (addon/proxy/storage.py), the aligner's options by `CacheAlignment`."""

    memo: DecisionMemo = field(default_factory=DecisionMemo)
    aligner: CacheAligner | None = None
    originals: Originals | None = None  # None until opened (and if it cannot be)
    # what the request path did since start: rewritten, unchanged, pass-through reasons, errors,
    # retrieve outcomes (the `headroom.counters` command)
    counters: Counter[str] = field(default_factory=Counter)
    # told of every retrieve the proxy answers: (original id, status); the ledger records them
    retrieve_observers: list[Callable[[str, str], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.aligner is None:
            self.aligner = CacheAligner(self.memo)
