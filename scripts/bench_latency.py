"""Added proxy latency: the same requests through mitmdump with and without Headroom.

Starts the TLS mock provider from tests/support on 127.0.0.1 and two mitmdump processes (both
with the test reroute addon; one also with addon/headroom.py), then times Anthropic requests
with bodies of 10 KB, 200 KB and 2 MB in two shapes:

- fresh:   the body is one new tool output (Headroom must compress all of it);
- history: the body is a conversation whose earlier tool outputs were already seen (decisions
           are replayed from the memo) plus one new 4 KB tool output: the steady state of an
           agent loop.

Prints a table of p50/p99 per arm and the difference, then time to first byte of streamed
answers per API (Anthropic, OpenAI Chat, OpenAI Responses, Gemini alt=sse) when the retrieve
tool goes out and the loopback responder serves the stream. Usage: scripts/bench_latency.py [-n N]
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.conftest import INTERCEPTED, Proxy  # noqa: E402
from tests.support.mock_provider import MockProvider  # noqa: E402
from tests.support.tls import make_server_tls  # noqa: E402

SIZES = {"10 KB": 10_000, "200 KB": 200_000, "2 MB": 2_000_000}
HEADERS = {"content-type": "application/json", "x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01"}


def tool_output(size: int, salt: str) -> str:
    """Build-log-like text of about `size` characters: runs of repeats, varied lines, errors."""
    lines: list[str] = []
    i = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"[{salt}] compiling module_{i % 97}.py ({i} of many) ok")
        if i % 7 == 0:
            lines += ["WARN cache miss for dependency graph, rebuilding shard"] * 12
        if i % 53 == 0:
            lines.append(f"ERROR module_{i}.py:{i % 400}: undefined name 'frobnicate_{salt}'")
        i += 1
    return "\n".join(lines)[:size]


def turn(k: int, output: str) -> list[dict]:
    return [
        {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{k}", "name": "Bash", "input": {"command": f"make step{k}"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{k}", "content": output}]},
    ]


def body_for(shape: str, size: int, request_no: int, history_turns: int | None = None) -> bytes:
    """One request. `history_turns` cuts a history body short, to replay how it grew."""
    messages: list[dict] = [{"role": "user", "content": "why does the build fail?"}]
    if shape == "fresh":
        messages += turn(1, tool_output(size, f"r{request_no}"))
    else:
        turns = max(1, size // 20_000)
        per_turn = max(1_000, (size - 4_000) // turns)
        for k in range(turns if history_turns is None else history_turns):
            messages += turn(k, tool_output(per_turn, f"h{k}"))  # same every request: memo hits
        if history_turns is None:
            messages += turn(turns, tool_output(4_000, f"r{request_no}"))
    return json.dumps({"model": "claude-bench", "max_tokens": 16, "messages": messages}).encode()


def warm_history(proxy: Proxy, size: int, verify: ssl.SSLContext) -> None:
    """Send the history turn by turn, as the agent loop did, so each output was once fresh."""
    turns = max(1, size // 20_000)
    time_requests(proxy, [body_for("history", size, -1, k) for k in range(1, turns + 1)], verify)


def time_requests(proxy: Proxy, bodies: list[bytes], verify: ssl.SSLContext) -> list[float]:
    timings = []
    with httpx.Client(proxy=proxy.url, verify=verify, timeout=120) as client:
        client.post("https://api.anthropic.com/v1/messages", content=b"{}", headers=HEADERS)  # connect + TLS once
        for body in bodies:
            started = time.perf_counter()
            response = client.post("https://api.anthropic.com/v1/messages", content=body, headers=HEADERS)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return timings


def repeated_log(size: int, salt: str) -> str:
    """A log of runs of identical lines: compressed losslessly (no marker, so no retrieve tool and
    the stream passes through mitmproxy as it is)."""
    lines: list[str] = []
    i = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines += [f"[{salt}] INFO worker {i % 4}: heartbeat, queue empty, 8 of 8 connections idle"] * 40
        lines.append(f"[{salt}] WARN worker {i % 4}: slow tick {i} took {100 + i} ms")
        i += 1
    return "\n".join(lines)


def pytest_output(salt: str, tests: int = 300) -> str:
    """Verbose pytest output: passing lines (a lossy fold, so a marker and the retrieve tool go out)."""
    lines = ["collected %d items" % (tests + 1)]
    lines += [f"tests/test_{salt}.py::test_case_{i:04d} PASSED" for i in range(tests)]
    lines += ["=================================== FAILURES ===================================",
              f"E       AssertionError: {salt}", f"FAILED tests/test_{salt}.py::test_edge - AssertionError",
              f"======================== 1 failed, {tests} passed in 3.21s ========================="]  # fmt: skip
    return "\n".join(lines)


def streamed_body(request_no: int, retrieval: bool, api: str = "anthropic") -> bytes:
    """A streamed request whose fresh tool output is a lossy fold (retrieval: the tool goes out
    and the loopback responder serves the stream) or a lossless one, in the API's own shape."""
    output = pytest_output(f"r{request_no}") if retrieval else repeated_log(20_000, f"s{request_no}")
    command = json.dumps({"command": "pytest -v" if retrieval else "make"})
    question = "why does the build fail?"
    if api == "openai_chat":
        call = {"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": command}}
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": None, "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": "call_1", "content": output}]  # fmt: skip
        return json.dumps({"model": "gpt-bench", "stream": True, "messages": messages}).encode()
    if api == "openai_responses":
        items = [{"role": "user", "content": question}, {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": command},
                 {"type": "function_call_output", "call_id": "call_1", "output": output}]  # fmt: skip
        return json.dumps({"model": "gpt-bench", "stream": True, "store": False, "input": items}).encode()
    if api == "gemini":
        contents = [{"role": "user", "parts": [{"text": question}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "run_shell_command", "args": json.loads(command)}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command", "response": {"output": output}}}]}]  # fmt: skip
        return json.dumps({"contents": contents}).encode()
    messages = [{"role": "user", "content": question}, *turn(1, output)]
    turn_call = messages[1]["content"][0]
    turn_call["input"] = json.loads(command)
    return json.dumps({"model": "claude-bench", "max_tokens": 16, "stream": True, "messages": messages}).encode()


# Where each API's streamed requests go, and how they authenticate.
STREAM_APIS = {
    "anthropic": ("https://api.anthropic.com/v1/messages", HEADERS),
    "openai_chat": ("https://api.openai.com/v1/chat/completions", {"content-type": "application/json", "authorization": "Bearer sk-bench"}),
    "openai_responses": ("https://api.openai.com/v1/responses", {"content-type": "application/json", "authorization": "Bearer sk-bench"}),
    "gemini": (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-bench:streamGenerateContent?alt=sse",
        {"content-type": "application/json", "x-goog-api-key": "bench-key"},
    ),
}


def time_first_byte(proxy: Proxy, bodies: list[bytes], verify: ssl.SSLContext, api: str = "anthropic", gap_s: float = 0.0) -> list[float]:
    """Milliseconds from sending a streamed request to its first byte of response body; `gap_s`
    between requests (an agent's requests are seconds apart, its model generating in between)."""
    url, headers = STREAM_APIS[api]
    timings = []
    with httpx.Client(proxy=proxy.url, verify=verify, timeout=120) as client:
        client.post(url, content=b"{}", headers=headers)  # connect + TLS once
        for body in bodies:
            time.sleep(gap_s)
            started = time.perf_counter()
            with client.stream("POST", url, content=body, headers=headers) as response:
                for _ in response.iter_raw():
                    if len(timings) < len(bodies) and not response.extensions.get("timed"):
                        timings.append((time.perf_counter() - started) * 1000)
                        response.extensions["timed"] = True
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="requests per cell (2 MB cells use n/4)")
    parser.add_argument("--ttfb-only", action="store_true", help="only the time-to-first-byte table")
    parser.add_argument(
        "--gap-ms", type=int, default=250,
        help="pause before each streamed request (0: back to back, the proxy's after-send token counting then competes)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="headroom-bench-"))
    tls = make_server_tls(work / "tls")
    mock = MockProvider(tls).start()
    routes = {host: mock.port for host in INTERCEPTED}
    bare = Proxy(work / "bare", tls, routes, options=["headroom_enabled=false"]).start()
    headroom = Proxy(work / "headroom", tls, routes).start()
    verify = ssl.create_default_context(cafile=str(headroom.ca.bundle))
    verify_bare = ssl.create_default_context(cafile=str(bare.ca.bundle))
    table = Table(title="Added proxy latency (ms): mitmdump with Headroom vs mitmdump alone")
    for column in ("body", "shape", "n", "alone p50", "alone p99", "headroom p50", "headroom p99", "added p50", "added p99", "sent/original"):
        table.add_column(column, justify="right")
    try:
        for label, size in {} if args.ttfb_only else SIZES.items():
            n = max(5, args.n // 4) if size >= 1_000_000 else args.n
            for shape in ("fresh", "history"):
                bodies = [body_for(shape, size, i) for i in range(n)]
                if shape == "history":
                    warm_history(headroom, size, verify)
                alone = time_requests(bare, bodies, verify_bare)
                mock.received.clear()
                with_headroom = time_requests(headroom, bodies, verify)
                sent = sum(len(r.body) for r in mock.received if r.body != b"{}")
                ratio = sent / sum(len(b) for b in bodies)
                a50, a99 = percentile(alone, 0.5), percentile(alone, 0.99)
                h50, h99 = percentile(with_headroom, 0.5), percentile(with_headroom, 0.99)
                table.add_row(label, shape, str(n), f"{a50:.1f}", f"{a99:.1f}", f"{h50:.1f}", f"{h99:.1f}", f"{h50 - a50:+.1f}", f"{h99 - a99:+.1f}", f"{ratio:.2f}")
        ttfb = Table(title=f"Time to first byte of a streamed answer (ms), {args.gap_ms} ms between requests: with Headroom vs mitmdump alone")
        for column in ("request", "n", "alone p50", "alone p99", "headroom p50", "headroom p99", "added p50", "added p99"):
            ttfb.add_column(column, justify="right")
        for api in STREAM_APIS:  # warm both proxies (tokenizer, text model, connections) before timing
            warm = [streamed_body(1000 + i, True, api) for i in range(5)]
            time_first_byte(bare, warm, verify_bare, api)
            time_first_byte(headroom, warm, verify, api)
        cells = [("anthropic", "20 KB log, lossless", False)] + [(api, "pytest -v, retrieve tool added", True) for api in STREAM_APIS]
        for api, label, retrieval in cells:
            bodies = [streamed_body(i, retrieval, api) for i in range(args.n)]
            alone = time_first_byte(bare, bodies, verify_bare, api, args.gap_ms / 1000)
            mock.received.clear()
            with_headroom = time_first_byte(headroom, bodies, verify, api, args.gap_ms / 1000)
            carried = sum(1 for r in mock.received if b"headroom_retrieve" in r.body)
            label = f"{api}: {label}" + (f" ({carried}/{len(bodies)} carried it)" if retrieval else "")
            a50, a99 = percentile(alone, 0.5), percentile(alone, 0.99)
            h50, h99 = percentile(with_headroom, 0.5), percentile(with_headroom, 0.99)
            ttfb.add_row(label, str(args.n), f"{a50:.1f}", f"{a99:.1f}", f"{h50:.1f}", f"{h99:.1f}", f"{h50 - a50:+.1f}", f"{h99 - a99:+.1f}")
    finally:
        bare.stop()
        headroom.stop()
        mock.stop()
    if not args.ttfb_only:
        Console(width=160).print(table)
    Console(width=160).print(ttfb)
    print("p50/p99 of per-request wall times; the mock answers at once, so the figures are the proxy alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
