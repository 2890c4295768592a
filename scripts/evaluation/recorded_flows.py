"""Read a flow file (`mitmdump -w`, mitmweb's save) and keep the requests Headroom rewrote.

A rewritten flow carries what the client sent in `flow.metadata["headroom_original"]`, what went
to the provider in `flow.request.content` (decoded) and the rewrite report in
`flow.metadata["headroom"]` (addon/flow_state.py); mitmproxy saves all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import http
from mitmproxy.exceptions import FlowReadException
from mitmproxy.io import FlowReader

from addon.flow_state import FlowState
from addon.providers import provider_for

# A streamed request that carries the retrieve tool is routed to the proxy's loopback responder
# (addon/retrieval/stream_responder.py): the saved flow's URL is then the responder's. The
# proxy may record the provider's URL under this key; without it the URL is rebuilt from the
# TLS server name and the API's usual path.
UPSTREAM_URL_KEY = "headroom_upstream_url"
USUAL_PATHS = {
    "anthropic": "/v1/messages",
    "openai_chat": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
}
CODEX_PATH = "/backend-api/codex/responses"  # chatgpt.com (Codex with a ChatGPT login)
CODE_ASSIST = ("cloudcode-pa.googleapis.com", "/v1internal:streamGenerateContent?alt=sse")  # Gemini CLI, Google login


class FlowFileError(ValueError):
    """A flow file that cannot be read; the message says what to do."""


@dataclass(frozen=True)
class RecordedRequest:
    """One rewritten LLM request, as the flow file holds it."""

    flow_id: str
    provider: str  # the provider's name (addon/providers)
    url: str  # where the client sent it
    url_guessed: bool  # rebuilt from the server name: the flow kept only the responder's URL
    headers: tuple[tuple[str, str], ...]
    original: bytes  # the client's body (decoded)
    forwarded: bytes  # the body Headroom sent on (decoded)
    kinds: tuple[str, ...]  # compressor kinds of the rewritten segments (distinct, in order)
    tools: tuple[str, ...]  # tools whose output was rewritten (distinct, in order)
    retrieve_tool: str | None  # the retrieve tool the forwarded body carries
    streamed: bool  # the client asked for a streamed answer


@dataclass(frozen=True)
class Skipped:
    """A flow that is not evaluated, and why."""

    flow_id: str
    url: str
    reason: str


def read_flows(path: Path) -> Iterator[http.HTTPFlow]:
    """The HTTP flows in a flow file."""
    try:
        with path.open("rb") as f:
            for flow in FlowReader(f).stream():
                if isinstance(flow, http.HTTPFlow):
                    yield flow
    except FileNotFoundError:
        raise FlowFileError(f"no flow file at {path}; record one with `mitmdump -w {path} -s addon/headroom.py`") from None
    except FlowReadException as e:
        raise FlowFileError(f"{path} is not a mitmproxy flow file ({e}); save flows with `mitmdump -w` or mitmweb's File → Save") from None


def recorded_requests(path: Path, limit: int | None = None) -> tuple[list[RecordedRequest], list[Skipped]]:
    """The rewritten LLM requests of a flow file (at most `limit`), and the LLM flows left out."""
    kept: list[RecordedRequest] = []
    skipped: list[Skipped] = []
    for flow in read_flows(path):
        if limit is not None and len(kept) >= limit:
            break
        result = recorded_request(flow)
        if isinstance(result, RecordedRequest):
            kept.append(result)
        elif result is not None:
            skipped.append(result)
    return kept, skipped


def recorded_request(flow: http.HTTPFlow) -> RecordedRequest | Skipped | None:
    """The flow as a request to evaluate, a reason to skip it, or None when it is no LLM call."""
    state = FlowState(flow)
    report = state.report
    if state.follow_up or not isinstance(report, dict):
        return None  # the proxy's own retrieval rounds, or traffic Headroom did not look at
    url = flow.request.pretty_url
    provider = report.get("provider") or getattr(provider_for(flow.request.path), "name", None)
    if flow.websocket is not None:
        return Skipped(flow.id, url, "WebSocket messages are not re-sent")
    if "error" in report or not provider:
        return Skipped(flow.id, url, f"the rewrite failed: {report.get('error', 'unknown provider')}")
    original = state.original
    rewritten = [r for r in report.get("rewritten", []) if isinstance(r, dict)]
    if not isinstance(original, bytes) or not rewritten:
        return Skipped(flow.id, url, "no segment was compressed")
    url, guessed = request_url(flow, provider)
    if url is None:
        return Skipped(flow.id, flow.request.pretty_url, "the provider URL was not recorded (streamed retrieval flow)")
    return RecordedRequest(
        flow_id=flow.id,
        provider=provider,
        url=url,
        url_guessed=guessed,
        headers=tuple((k, v) for k, v in flow.request.headers.items(multi=True)),
        original=original,
        forwarded=flow.request.get_content(strict=False) or b"",
        kinds=_distinct(r.get("kind") for r in rewritten),
        tools=_distinct(r.get("tool_name") for r in rewritten),
        retrieve_tool=report.get("retrieve_tool"),
        streamed=bool(report.get("streaming")),
    )


def request_url(flow: http.HTTPFlow, provider: str) -> tuple[str | None, bool]:
    """Where the client sent the request, and whether it had to be rebuilt."""
    recorded = flow.metadata.get(UPSTREAM_URL_KEY)
    if isinstance(recorded, str) and recorded:
        return recorded, False
    if not FlowState(flow).streamed_retrieval:
        return flow.request.pretty_url, False
    host = flow.client_conn.sni
    path = USUAL_PATHS.get(provider)
    if host == "chatgpt.com" and provider == "openai_responses":
        path = CODEX_PATH
    elif host == CODE_ASSIST[0] and provider == "gemini":
        path = CODE_ASSIST[1]
    if not host or path is None:  # Gemini names the model in the path: nothing to rebuild it from
        return None, False
    return f"https://{host}{path}", True


def _distinct(values: Iterator[object]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return tuple(out)
