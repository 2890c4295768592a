"""Load: many concurrent streaming agent conversations through mitmdump, with and without Headroom.

Starts the TLS mock provider (tests/support) and two mitmdump processes (both with the test
reroute addon, which also measures event-loop stalls; one with addon/headroom.py). Each of
`--clients` clients runs a conversation of `--turns` streamed Anthropic requests, every turn
adding a fresh 50-200 KB tool output (build logs, a few distinct per turn) to the history, as an
agent loop does, with a session header as Claude Code sends one. Per arm: requests completed, errors, streams that lost, duplicated or reordered
events, bodies the mock could not parse, time to first byte p50/p99, wall time, the proxy's peak
RSS, and event-loop stalls (a 10 ms tick firing over 100 ms late).

Usage: scripts/bench_load.py [--clients 50] [--turns 10] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from addon.compression.compression import DEFAULT_PROCESSES  # noqa: E402
from scripts.bench_latency import tool_output  # noqa: E402
from tests.conftest import INTERCEPTED, Proxy  # noqa: E402
from tests.support.mock_provider import MockProvider  # noqa: E402
from tests.support.tls import make_server_tls  # noqa: E402

URL = "https://api.anthropic.com/v1/messages"
HEADERS = {"content-type": "application/json", "x-api-key": "sk-ant-load", "anthropic-version": "2023-06-01"}
EXPECTED = re.compile(r"^mock received (\d+) bytes$")
STALL_MS = 100


def conversation_turn(client: int, turn: int, history: list[dict], rng: random.Random) -> bytes:
    output = tool_output(rng.randrange(50_000, 200_000), f"c{client}t{turn}")
    history += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{client}_{turn}", "name": "Bash", "input": {"command": f"make step{turn}"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{client}_{turn}", "content": output}]},
    ]
    return json.dumps({"model": "claude-load", "max_tokens": 64, "stream": True, "messages": history}).encode()


async def one_client(http: httpx.AsyncClient, client: int, turns: int, figures: dict) -> None:
    rng = random.Random(client)
    history: list[dict] = [{"role": "user", "content": f"client {client}: why does the build fail?"}]
    for turn in range(turns):
        body = conversation_turn(client, turn, history, rng)
        started = time.perf_counter()
        first: float | None = None
        events: list[dict] = []
        try:
            # Each client names its session as Claude Code does (x-claude-code-session-id).
            headers = {**HEADERS, "x-claude-code-session-id": f"load-session-{client}"}
            async with http.stream("POST", URL, content=body, headers=headers) as response:
                if response.status_code != 200:
                    figures["errors"] += 1
                    await response.aread()
                    continue
                buffer = ""
                async for chunk in response.aiter_text():
                    if first is None:
                        first = (time.perf_counter() - started) * 1000
                    buffer += chunk
                for block in buffer.split("\n\n"):
                    data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
                    if data:
                        events.append(json.loads("\n".join(data)))
        except Exception:  # noqa: BLE001 - counted, the run goes on
            figures["errors"] += 1
            continue
        figures["completed"] += 1
        figures["ttfb"].append(first or 0.0)
        if not _stream_ok(events):
            figures["bad_streams"] += 1
        history.append({"role": "assistant", "content": [{"type": "text", "text": "next step"}]})
        history.append({"role": "user", "content": "go on"})


def _stream_ok(events: list[dict]) -> bool:
    """One message: start, text deltas in order making the mock's sentence, stop, nothing twice."""
    kinds = [e.get("type") for e in events]
    if not kinds or kinds[0] != "message_start" or kinds[-1] != "message_stop" or kinds.count("message_start") != 1:
        return False
    text = "".join(e["delta"].get("text", "") for e in events if e.get("type") == "content_block_delta")
    return EXPECTED.match(text) is not None


def peak_rss_mb(pid: int, samples: list[float], stop: threading.Event) -> None:
    """The proxy's resident memory with its worker processes' (headroom_processes), sampled."""
    while not stop.is_set():
        try:
            samples.append(sum(_rss_kb(p) for p in [pid, *_children(pid)]) / 1024)
        except OSError:
            return
        stop.wait(0.2)


def _rss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0  # a worker that just exited
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


def _children(pid: int) -> list[int]:
    """Every descendant (workers are spawned through multiprocessing's resource tracker too)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out += [int(child), *_children(int(child))]
    return out


def run_arm(proxy: Proxy, mock: MockProvider, clients: int, turns: int, lag_file: Path) -> dict:
    figures: dict = {"completed": 0, "errors": 0, "bad_streams": 0, "ttfb": []}
    mock.received.clear()
    rss: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=peak_rss_mb, args=(proxy.process.pid, rss, stop), daemon=True)
    watcher.start()
    verify = ssl.create_default_context(cafile=str(proxy.ca.bundle))
    started = time.perf_counter()

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(proxy=proxy.url, verify=verify, timeout=300, limits=limits) as http:
            await asyncio.gather(*(one_client(http, c, turns, figures) for c in range(clients)))

    asyncio.run(main())
    figures["wall_s"] = time.perf_counter() - started
    stop.set()
    time.sleep(0.6)  # the lag probe writes every 0.5 s
    stalls = json.loads(lag_file.read_text()) if lag_file.exists() else []
    figures["stalls"] = sum(1 for s in stalls if s > STALL_MS)
    figures["max_stall_ms"] = max(stalls, default=0.0)
    figures["invalid_bodies"] = sum(1 for r in mock.received if not _parses(r.body))
    figures["peak_rss_mb"] = max(rss, default=0.0)
    stacks = Path(str(lag_file) + ".stacks")
    figures["stall_stacks"] = json.loads(stacks.read_text()) if stacks.exists() else []
    return figures


def _parses(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--processes", type=int, default=None, help="headroom_processes for the Headroom arm (default: the addon's)")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", help="an extra option for the Headroom arm")
    parser.add_argument("--stacks", action="store_true", help="print where the event loop was during stalls")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="headroom-load-"))
    tls = make_server_tls(work / "tls")
    mock = MockProvider(tls).start()
    routes = {host: mock.port for host in INTERCEPTED}
    results = {}
    processes = DEFAULT_PROCESSES if args.processes is None else args.processes
    headroom_arm = "with Headroom, " + (f"{processes} worker process{'es' if processes > 1 else ''}" if processes else "threads")
    for arm, options in (("mitmdump alone", ["headroom_enabled=false"]), (headroom_arm, [f"headroom_processes={processes}", *args.set])):
        lag = work / f"lag-{len(results)}.json"
        proxy = Proxy(work / f"home{len(results)}", tls, routes, options=[*options, f"reroute_loop_lag_file={lag}"]).start()
        try:
            results[arm] = run_arm(proxy, mock, args.clients, args.turns, lag)
        finally:
            proxy.stop()
    mock.stop()
    rows = {
        arm: {
            "requests": args.clients * args.turns,
            "completed": f["completed"],
            "errors": f["errors"],
            "bad streams": f["bad_streams"],
            "invalid bodies": f["invalid_bodies"],
            "TTFB p50 ms": round(percentile(f["ttfb"], 0.5)),
            "TTFB p99 ms": round(percentile(f["ttfb"], 0.99)),
            "wall s": round(f["wall_s"], 1),
            "peak RSS MB": round(f["peak_rss_mb"]),
            f"loop stalls > {STALL_MS} ms": f["stalls"],
            "max stall ms": round(f["max_stall_ms"]),
        }
        for arm, f in results.items()
    }
    if args.stacks:
        for arm, f in results.items():
            print(f"== where the event loop was while a tick was overdue ({arm}): samples, stack (innermost first)")
            for stack, count in f["stall_stacks"][:15]:
                print(f"{count:5d}  {stack}")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.clients} concurrent streaming clients × {args.turns} turns (50-200 KB tool output per turn)")
    table.add_column("arm")
    columns = list(next(iter(rows.values())))
    for column in columns:
        table.add_column(column, justify="right")
    for arm, row in rows.items():
        table.add_row(arm, *(str(row[c]) for c in columns))
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
