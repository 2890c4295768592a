"""The two requests of one A/B: the client's original body and the forwarded one, made comparable.

Both sides get the same changes, so any difference in the answers comes from compression:
streaming off (whole JSON answers; a streamed request is re-sent non-streamed), output capped,
temperature 0 where the model takes it, optionally another model. Pure: no I/O.

| API | output cap | temperature 0 unless |
|---|---|---|
| Anthropic | `max_tokens` (thinking: its budget cut to 1,024, plus the cap) | thinking is on, or `top_p` is set |
| OpenAI Chat | `max_completion_tokens` or `max_tokens`, whichever the body uses | a reasoning model |
| OpenAI Responses | `max_output_tokens` | a reasoning model |
| Gemini | `generationConfig.maxOutputTokens` | – |
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:  # the parser imports this module: keep mitmproxy out of `headroom --help`
    from scripts.evaluation.recorded_flows import RecordedRequest

MAX_OUTPUT_TOKENS = 512
THINKING_BUDGET = 1024  # Anthropic's smallest thinking budget
# OpenAI reasoning models accept only the default temperature.
REASONING_MODEL = re.compile(r"^(o\d|gpt-5|codex)", re.IGNORECASE)
# Set again by the HTTP client, or meaningless on a new connection.
DROPPED_HEADERS = {
    "host", "content-length", "content-encoding", "accept-encoding", "transfer-encoding", "connection",
    "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade",
}  # fmt: skip
CREDENTIAL_HEADERS = ("x-api-key", "authorization", "x-goog-api-key", "api-key")
ENV_CREDENTIALS = {  # provider → (environment variables, header, value prefix)
    "anthropic": (("ANTHROPIC_API_KEY",), "x-api-key", ""),
    "openai_chat": (("OPENAI_API_KEY",), "authorization", "Bearer "),
    "openai_responses": (("OPENAI_API_KEY",), "authorization", "Bearer "),
    "gemini": (("GEMINI_API_KEY", "GOOGLE_API_KEY"), "x-goog-api-key", ""),
}


class CannotResend(ValueError):
    """A recorded request that cannot be sent again; the message says why."""


@dataclass(frozen=True)
class ResendSettings:
    max_output_tokens: int = MAX_OUTPUT_TOKENS
    model: str | None = None  # send both sides to this model instead
    base_url: str | None = None  # send to this origin instead (a local mock, a gateway)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResendRequest:
    """One side of an A/B, ready to send."""

    side: str  # original | forwarded
    provider: str
    url: str
    headers: dict[str, str]
    body: bytes
    model: str | None
    output_cap: int  # the most output tokens it may be billed for
    temperature_zero: bool


def build_pair(recorded: RecordedRequest, settings: ResendSettings) -> tuple[ResendRequest, ResendRequest]:
    """The original and the forwarded request, both prepared the same way."""
    headers = resend_headers(recorded, settings.env)
    model = settings.model or model_of(recorded.provider, _json(recorded.forwarded), recorded.url)
    url = resend_url(recorded.provider, recorded.url, settings.model, settings.base_url)
    return tuple(  # type: ignore[return-value]
        _side(side, recorded.provider, body, url, headers, model, settings)
        for side, body in (("original", recorded.original), ("forwarded", recorded.forwarded))
    )


def _side(side: str, provider: str, body: bytes, url: str, headers: dict[str, str], model: str | None, settings: ResendSettings) -> ResendRequest:
    document = prepared_body(provider, _json(body), settings.max_output_tokens, settings.model)
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    cap, zero = output_cap(provider, document), temperature_is_zero(provider, document)
    return ResendRequest(side, provider, url, dict(headers), data, model, cap, zero)


def _json(body: bytes) -> Any:
    try:
        document = json.loads(body)
    except ValueError as e:
        raise CannotResend(f"the recorded body is not JSON ({e})") from None
    if not isinstance(document, dict):
        raise CannotResend("the recorded body is not a JSON object")
    return document


def prepared_body(provider: str, document: dict, cap: int, model: str | None = None) -> dict:
    """The body as the eval sends it: non-streamed, output capped, temperature 0 where allowed."""
    body = copy.deepcopy(document)
    if provider == "gemini":
        return _gemini_body(body, cap, model)
    body.pop("stream", None)
    body.pop("stream_options", None)  # only valid beside `stream`
    if model:
        body["model"] = model
    name = str(body.get("model") or "")
    if provider == "anthropic":
        thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
        budget = thinking.get("budget_tokens")
        if thinking.get("type") == "enabled" and isinstance(budget, int):
            thinking["budget_tokens"] = min(budget, THINKING_BUDGET)
            body["max_tokens"] = thinking["budget_tokens"] + cap  # thinking counts against max_tokens
        else:
            body["max_tokens"] = _capped(body.get("max_tokens"), cap)
        # Thinking requires temperature 1; newer models refuse temperature beside top_p.
        if thinking.get("type") not in ("enabled", "adaptive") and "top_p" not in body:
            body["temperature"] = 0
    elif provider == "openai_chat":
        reasoning = bool(REASONING_MODEL.match(name)) or "reasoning_effort" in body
        if "max_completion_tokens" in body or ("max_tokens" not in body and reasoning):
            body["max_completion_tokens"] = _capped(body.get("max_completion_tokens"), cap)
        else:
            body["max_tokens"] = _capped(body.get("max_tokens"), cap)
        if "n" in body:
            body["n"] = 1
        if not reasoning:
            body["temperature"] = 0
    elif provider == "openai_responses":
        body["max_output_tokens"] = _capped(body.get("max_output_tokens"), cap)
        body.pop("background", None)
        if not (REASONING_MODEL.match(name) or "reasoning" in body):
            body["temperature"] = 0
    return body


def _gemini_body(body: dict, cap: int, model: str | None) -> dict:
    # Gemini CLI's Google-login endpoint wraps the request: {"model", "project", "request": {…}}.
    wrapped = "contents" not in body and isinstance(body.get("request"), dict)
    request = body["request"] if wrapped else body
    if wrapped and model:
        body["model"] = model
    config = request.setdefault("generationConfig", {})
    config["maxOutputTokens"] = _capped(config.get("maxOutputTokens"), cap)
    config["temperature"] = 0
    if "candidateCount" in config:
        config["candidateCount"] = 1
    return body


def _capped(value: Any, cap: int) -> int:
    return min(value, cap) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else cap


def output_cap(provider: str, body: dict) -> int:
    """The most output tokens a prepared body may be billed for."""
    if provider == "gemini":
        request = body["request"] if "contents" not in body and isinstance(body.get("request"), dict) else body
        return int(request.get("generationConfig", {}).get("maxOutputTokens") or 0)
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if isinstance(body.get(name), int):
            return body[name]
    return 0


def temperature_is_zero(provider: str, body: dict) -> bool:
    """Whether the prepared body asks for temperature 0."""
    if provider == "gemini":
        request = body["request"] if "contents" not in body and isinstance(body.get("request"), dict) else body
        return request.get("generationConfig", {}).get("temperature") == 0
    return body.get("temperature") == 0


def model_of(provider: str, body: dict, url: str) -> str | None:
    """The model a request asks for (Gemini's API names it in the path)."""
    if provider == "gemini":
        found = re.search(r"/models/([^/:]+):", urlsplit(url).path)
        if found:
            return found.group(1)
        return body.get("model") if isinstance(body.get("model"), str) else None
    return body.get("model") if isinstance(body.get("model"), str) else None


def resend_url(provider: str, url: str, model: str | None = None, base_url: str | None = None) -> str:
    """The URL to send to: non-streamed, another model or another origin where asked."""
    parts = urlsplit(url)
    path, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)
    if provider == "gemini":
        path = path.replace(":streamGenerateContent", ":generateContent")
        query = [(k, v) for k, v in query if k != "alt"]  # alt=sse asks for events
        if model:
            path = re.sub(r"/models/[^/:]+:", f"/models/{model}:", path)
    scheme, netloc = parts.scheme, parts.netloc
    if base_url:
        base = urlsplit(base_url)
        scheme, netloc, path = base.scheme, base.netloc, base.path.rstrip("/") + path
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def resend_headers(recorded: RecordedRequest, env: Mapping[str, str]) -> dict[str, str]:
    """The recorded headers (API versions, betas, credentials) minus connection framing; an API
    key from the environment where the flow carries no credentials."""
    headers = {k.lower(): v for k, v in recorded.headers if k.lower() not in DROPPED_HEADERS}
    headers["content-type"] = "application/json"
    if any(headers.get(h) for h in CREDENTIAL_HEADERS) or "key" in dict(parse_qsl(urlsplit(recorded.url).query)):
        return headers
    names, header, prefix = ENV_CREDENTIALS[recorded.provider]
    key = next((env[n] for n in names if env.get(n)), None)
    if key is None:
        raise CannotResend(f"no credentials: the flow carries none and ${names[0]} is not set")
    headers[header] = prefix + key
    return headers
