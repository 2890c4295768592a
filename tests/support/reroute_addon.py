"""Test-only mitmproxy addon: send the real API host names to local servers.

Clients keep their default base URLs (https://api.anthropic.com ...) and HTTPS_PROXY, exactly
as a user's; this addon only changes where mitmproxy's upstream connection goes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

from mitmproxy import ctx
from mitmproxy.proxy import server_hooks


class Reroute:
    def load(self, loader) -> None:
        loader.add_option("reroute", Sequence[str], [], "host=port pairs: connect to 127.0.0.1:port for host")
        loader.add_option("reroute_fail_compress", bool, False, "make every compression raise (fail-open test)")
        loader.add_option("reroute_slow_compress_ms", int, 0, "make every compression take this long (event-loop test)")
        loader.add_option("reroute_loop_lag_file", str, "", "write the event loop's stalls (ms over a 10 ms tick) to this JSON file")

    async def running(self) -> None:
        if ctx.options.reroute_loop_lag_file:
            self._lag_task = asyncio.ensure_future(self._watch_loop(ctx.options.reroute_loop_lag_file))

    async def _watch_loop(self, path: str) -> None:
        """A 10 ms tick: how late each one fires is how long the loop was blocked. A watchdog
        thread samples the loop thread's stack while a tick is overdue (to `path`.stacks)."""
        import collections
        import sys
        import threading
        import traceback

        stalls: list[float] = []
        written = time.monotonic()
        loop_thread = threading.get_ident()
        self._tick = time.monotonic()
        seen: collections.Counter = collections.Counter()

        def watchdog() -> None:
            while True:
                time.sleep(0.02)
                if time.monotonic() - self._tick > 0.1:
                    frame = sys._current_frames().get(loop_thread)
                    if frame is not None:
                        stack = traceback.extract_stack(frame)[-12:]
                        seen[" <- ".join(f"{f.name}@{f.filename.rsplit('/', 2)[-2:][-1]}:{f.lineno}" for f in reversed(stack))] += 1

        threading.Thread(target=watchdog, daemon=True).start()
        while True:
            before = time.monotonic()
            self._tick = before
            await asyncio.sleep(0.01)
            late = (time.monotonic() - before - 0.01) * 1000
            if late > 20:
                stalls.append(round(late, 1))
            if time.monotonic() - written > 0.5:
                with open(path, "w") as f:
                    json.dump(stalls, f)
                with open(path + ".stacks", "w") as f:
                    json.dump(seen.most_common(40), f, indent=1)
                written = time.monotonic()

    def configure(self, updated: set[str]) -> None:
        if "reroute_fail_compress" in updated and ctx.options.reroute_fail_compress:
            def explode(text, context):
                raise RuntimeError("injected compressor failure")

            ctx.master.addons.get("compression").compress_fn = explode
        if "reroute_slow_compress_ms" in updated and ctx.options.reroute_slow_compress_ms:
            rewrite = ctx.master.addons.get("compression")
            real = rewrite.compress_fn
            delay = ctx.options.reroute_slow_compress_ms / 1000

            def slow(text, context):
                time.sleep(delay)  # stands in for a heavy compressor running in a worker thread
                return real(text, context)

            rewrite.compress_fn = slow

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        table = dict(entry.split("=", 1) for entry in ctx.options.reroute)
        host = data.server.address[0] if data.server.address else ""
        if host in table:
            data.server.address = ("127.0.0.1", int(table[host]))


addons = [Reroute()]
