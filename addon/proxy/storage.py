"""Where Headroom keeps its state: HEADROOM_HOME, the decision memo, the store of originals."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import ctx

from addon.proxy.home import headroom_home, store_dir
from addon.retrieval.original_store import open_store
from addon.retrieval.store_backends import RedisBackend
from addon.services import Services


class Storage:
    """Declares where state lives and opens the memo and the store of originals there."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_home",
            str,
            str(headroom_home()),
            "Directory for all Headroom state (CA, store, logs). Defaults to $HEADROOM_HOME or the "
            "per-user data directory.",
        )
        loader.add_option(
            "headroom_store_ttl_s",
            int,
            3600,
            "Keep each original this long after its last use (every request that re-sends its marker "
            "counts as a use).",
        )
        loader.add_option("headroom_store_max_mb", int, 1024, "Size limit of the local store of originals.")
        loader.add_option(
            "headroom_redis_url",
            str,
            "",
            "Keep originals in Redis instead of the local store (redis://host:6379/0), so several "
            "proxies of a team share them, with their id salt and compression decisions.",
        )

    def configure(self, updated: set[str]) -> None:
        home = Path(ctx.options.headroom_home).expanduser()
        if "headroom_home" in updated:
            self.services.memo.open(store_dir(home) / "decisions")
        if updated & {"headroom_home", "headroom_redis_url", "headroom_store_ttl_s", "headroom_store_max_mb"}:
            if self.services.originals:
                self.services.originals.close()
            self.services.originals = open_store(
                home,
                ctx.options.headroom_redis_url or None,
                ctx.options.headroom_store_ttl_s,
                ctx.options.headroom_store_max_mb * 1024 * 1024,
            )
            # A team's proxies on one Redis share their decisions too (addon/compression/decision_memo.py).
            url = ctx.options.headroom_redis_url
            self.services.memo.share(RedisBackend(url) if url else None)

    def done(self) -> None:
        self.services.memo.close()
        if self.services.originals:
            self.services.originals.close()
