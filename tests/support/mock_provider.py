"""A local mock of the LLM APIs over TLS on 127.0.0.1: JSON and SSE streaming, recording bodies.

Speaks Anthropic Messages, OpenAI Chat Completions and Responses, and Gemini generateContent /
streamGenerateContent, well enough for the official SDKs and Claude Code. Tests script answers
with `responder`; by default it answers with text that names the body size it received.
"""

from __future__ import annotations

import gzip
import json
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.tls import ServerTls


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes  # as it came over the wire
    body: bytes  # after Content-Encoding

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    events: list[tuple[str | None, Any]] | None = None  # SSE: (event name, data)
    event_delay_s: float = 0.0
    delay_s: float = 0.0  # before answering, as a model thinks
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[Received], Reply | None]


def decode_body(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    if encoding == "br":
        import brotli

        return brotli.decompress(raw)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(raw, max_output_size=256 * 1024 * 1024)
    raise ValueError(f"unknown content-encoding {encoding}")


class MockProvider:
    """Start with `start()`; `received` lists every request; set `responder` to script answers."""

    def __init__(self, tls: ServerTls) -> None:
        self.tls = tls
        self.received: list[Received] = []
        self.responder: Responder | None = None
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def start(self) -> MockProvider:
        provider = self

        class Handler(_Handler):
            mock = provider

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def llm_requests(self) -> list[Received]:
        """Requests to the model endpoints (not token counting or telemetry)."""
        return [r for r in self.received if _api_of(r.path) is not None]

    def reply_for(self, request: Received) -> Reply:
        if self.responder is not None:
            scripted = self.responder(request)
            if scripted is not None:
                return scripted
        return default_reply(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)
    mock: MockProvider

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.headers.get("upgrade", "").lower() == "websocket" and _api_of(self.path) == "openai_responses":
            self._serve_websocket()
            return
        self._reply(Reply(404, {"error": {"type": "not_found", "message": self.path}}))

    def _serve_websocket(self) -> None:
        """The Responses API over WebSocket: each `response.create` message gets the events of
        a streamed response back as text messages."""
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage

        ws = WSConnection(ConnectionType.SERVER)
        head = f"GET {self.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        ws.receive_data(head.encode())
        sock = self.connection
        buffer: list[str] = []
        for event in ws.events():
            if isinstance(event, Request):
                sock.sendall(ws.send(AcceptConnection()))
        while True:
            data = sock.recv(65536)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, CloseConnection):
                    sock.sendall(ws.send(event.response()))
                    return
                if isinstance(event, TextMessage):
                    buffer.append(event.data)
                    if not event.message_finished:
                        continue
                    text, buffer = "".join(buffer), []
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    request = Received("WS", self.path, headers, text.encode(), text.encode())
                    self.mock.received.append(request)
                    reply = self.mock.reply_for(request)
                    for _, payload in reply.events or []:
                        sock.sendall(ws.send(Message(data=json.dumps(payload))))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = decode_body(raw, headers.get("content-encoding", ""))
        except Exception as e:  # the proxy must never send this
            self._reply(Reply(400, {"error": {"type": "bad_encoding", "message": str(e)}}))
            return
        request = Received("POST", self.path, headers, raw, body)
        self.mock.received.append(request)
        self._reply(self.mock.reply_for(request))

    def _reply(self, reply: Reply) -> None:
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.events is None:
            data = json.dumps(reply.json).encode()
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(reply.status)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        for name, data in reply.events:
            payload = data if isinstance(data, str) else json.dumps(data)
            chunk = (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"
            self._chunk(chunk.encode())
            if reply.event_delay_s:
                time.sleep(reply.event_delay_s)
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _api_of(path: str) -> str | None:
    bare = path.split("?", 1)[0]
    if bare.endswith("/v1/messages"):
        return "anthropic"
    if bare.endswith("/chat/completions"):
        return "openai_chat"
    if bare.endswith("/responses"):
        return "openai_responses"
    if ":generateContent" in bare or ":streamGenerateContent" in bare:
        return "gemini"
    return None


def default_reply(request: Received) -> Reply:
    api = _api_of(request.path)
    if request.path.split("?")[0].endswith("/count_tokens"):
        return Reply(json={"input_tokens": len(request.body) // 4})
    if api is None:
        return Reply(404, {"error": {"type": "not_found", "message": request.path}})
    try:
        body = request.json
    except ValueError:
        return Reply(400, {"error": {"type": "invalid_request_error", "message": "body is not JSON"}})
    text = f"mock received {len(request.body)} bytes"
    stream = bool(body.get("stream")) or "streamGenerateContent" in request.path or request.method == "WS"
    return text_reply(api, text, stream)


def text_reply(api: str, text: str, stream: bool) -> Reply:
    """A plain text answer in the API's own shape."""
    words = [w + " " for w in text.split(" ")]
    words[-1] = words[-1].rstrip()
    if api == "anthropic":
        return anthropic_reply([{"type": "text", "text": text}], "end_turn", stream)
    if api == "openai_chat":
        if not stream:
            return Reply(json=_chat_completion({"role": "assistant", "content": text}, "stop"))
        events: list[tuple[str | None, Any]] = [(None, _chat_chunk({"role": "assistant", "content": ""}, None))]
        events += [(None, _chat_chunk({"content": w}, None)) for w in words]
        events += [(None, _chat_chunk({}, "stop")), (None, "[DONE]")]
        return Reply(events=events)
    if api == "openai_responses":
        final = _response_object(text)
        if not stream:
            return Reply(json=final)
        item = final["output"][0]
        started = {**item, "status": "in_progress", "content": []}
        events = [("response.created", {"type": "response.created", "response": {**final, "status": "in_progress", "output": []}})]
        events += [("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": started})]
        events += [("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})]
        events += [("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": w}) for w in words]
        events += [("response.output_text.done", {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text})]
        events += [("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item})]
        events += [("response.completed", {"type": "response.completed", "response": final})]
        return Reply(events=events)
    candidate = lambda t: {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}  # noqa: E731
    if not stream:
        return Reply(json=candidate(text))
    return Reply(events=[(None, candidate(w)) for w in words])


def responses_reply(response: dict, stream: bool) -> Reply:
    """A Responses API response (any output items), as JSON or as its SSE event sequence."""
    if not stream:
        return Reply(json=response)
    events: list[tuple[str | None, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    emit("response.created", response={**response, "status": "in_progress", "output": [], "usage": None})
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
            text = item["content"][0]["text"]
            emit("response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part={"type": "output_text", "text": "", "annotations": []})
            for piece in _pieces(text):
                emit("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0, delta=piece)
            emit("response.output_text.done", item_id=item["id"], output_index=index, content_index=0, text=text)
        elif item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "arguments": "", "status": "in_progress"})
            emit("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=item["arguments"])
            emit("response.function_call_arguments.done", item_id=item["id"], output_index=index, arguments=item["arguments"])
        else:
            emit("response.output_item.added", output_index=index, item=item)
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=response)
    return Reply(events=events)


def anthropic_reply(content: list[dict], stop_reason: str, stream: bool, model: str = "claude-test") -> Reply:
    """An Anthropic message (text and tool_use blocks), as JSON or as its SSE event sequence."""
    message = {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }
    if not stream:
        return Reply(json=message)
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}}),
    ]
    for index, block in enumerate(content):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))
            pieces = _pieces(block["text"])
            events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}) for p in pieces]
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"output_tokens": 20}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return Reply(events=events)


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _chat_completion(message: dict, finish: str) -> dict:
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def _chat_chunk(delta: dict, finish: str | None) -> dict:
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _response_object(text: str) -> dict:
    return {
        "id": "resp_mock",
        "object": "response",
        "created_at": 1700000000,
        "status": "completed",
        "model": "gpt-test",
        "output": [
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": []}]}
        ],
        "usage": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120, "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


RETRIEVE_MARKER = re.compile(r"retrieve id=([0-9a-f]{24})")


def anthropic_retrieving_model(
    call_id: str, final_text: str, stream: bool, *, marker: str | None = None, query: str | None = None, first_text: str = "", model: str = "claude-test"
) -> Callable[[Received], Reply]:
    """A mock Anthropic model that asks for an original once, with a retrieve call `call_id` for
    `marker` (or the one marker in the request it is sent), after `first_text` if any; given the
    answer, it replies `final_text`."""

    def respond(request: Received) -> Reply:
        last = request.json["messages"][-1]
        if isinstance(last.get("content"), list) and any(isinstance(b, dict) and b.get("tool_use_id") == call_id for b in last["content"]):
            return anthropic_reply([{"type": "text", "text": final_text}], "end_turn", stream, model=model)
        if marker is None:
            [found] = set(RETRIEVE_MARKER.findall(json.dumps(request.json)))
        arguments = {"id": marker or found, **({"query": query} if query else {})}
        call = {"type": "tool_use", "id": call_id, "name": "headroom_retrieve", "input": arguments}
        return anthropic_reply([{"type": "text", "text": first_text}, call] if first_text else [call], "tool_use", stream, model=model)

    return respond
