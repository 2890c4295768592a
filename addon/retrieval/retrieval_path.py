"""A working way back to the originals for one request: the store, who asks, and the tool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from addon.retrieval.retrieve_tool import TOOL_NAME, unique_name
from addon.wire.json_splice import AddMember, Append, Edit

from addon.cache.conversation import session_headers
from addon.retrieval.original_store import Originals, owner_of

if TYPE_CHECKING:
    from addon.providers.provider import Provider

CREDENTIAL_HEADERS = ("x-api-key", "authorization", "x-goog-api-key", "api-key")


@dataclass
class RetrievalPath:
    """A working way back to the originals for this request: the store, who is asking, and
    the tool (name and definition literal) that the request will carry."""

    originals: Originals
    owner: str
    provider: Provider
    tool_name: str = TOOL_NAME
    streaming: bool = False  # whether retrieve calls can be answered inside a streamed response
    session_headers: dict[str, str] = field(default_factory=dict)  # the client's session ids, if any
    request_path: str = ""  # the request's path and query: some APIs say there whether they stream
    request_query: Mapping[str, str] = field(default_factory=dict)
    request_streams: bool = False  # set by for_request: this request asks for a streamed response

    def for_request(self, document: dict) -> RetrievalPath | None:
        """This path bound to one request, or None when the request cannot carry the tool
        (the client forbade tool calls, forces another tool, or streams where we cannot answer)."""
        provider = self.provider
        if provider.blocks_retrieval(document):
            return None
        streams = provider.streamed(document, self.request_path, self.request_query)
        if streams and not self.streaming:
            return None
        _, tools = provider.tools_of(document)
        if tools is not None and not isinstance(tools, list):
            return None  # `tools` of another type: adding ours would mean a second `tools` member
        return replace(self, tool_name=unique_name(provider.tool_names(tools)), request_streams=streams)

    def tool_edit(self, document: dict) -> Edit:
        """Append the tool to the request's tools, or add a tools list when it has none."""
        literal = self.provider.tool_definition(self.tool_name)
        path, tools = self.provider.tools_of(document)
        if isinstance(tools, list):
            return Append(path, literal)
        return AddMember(path[:-1], path[-1], f"[{literal}]")


def tool_choice_blocks_retrieval(choice: object) -> bool:
    """Whether the client's tool_choice rules out a retrieve call: "none", or one forced tool."""
    if isinstance(choice, str):  # OpenAI: "auto", "required" (any tool, ours included), "none"
        return choice == "none"
    if isinstance(choice, dict):  # Anthropic {"type": "none"|"tool"}, OpenAI {"type": "function"|"custom"|"allowed_tools", …}
        return choice.get("type") in ("none", "tool", "function", "custom", "allowed_tools") or "function" in choice
    return False


def credential_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The API key or token a request authenticates with (hashed before it is stored)."""
    for name in CREDENTIAL_HEADERS:
        if value := headers.get(name):
            return value
    return query.get("key")


def retrieval_path(
    originals: Originals | None,
    provider: Provider,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    responder_ready: bool,
    path: str = "",
    client: str = "",
) -> RetrievalPath | None:
    """How the model can get originals back for a request, when the proxy can answer its calls:
    non-streamed rounds where the provider has them, streamed ones through the responder."""
    if originals is None or not provider.answerable_rounds:
        return None
    # A request without credentials (a local server) is owned by its client connection, not by
    # one "anonymous" shared by every keyless client: a later request on another connection that
    # re-sends the same output becomes an owner too (re-sending the text proves holding it).
    credential = credential_of(headers, query)
    owner = owner_of(credential if credential is not None or not client else f"keyless-connection:{client}")
    streaming = provider.splices_streams and responder_ready
    return RetrievalPath(
        originals, owner, provider, streaming=streaming, session_headers=session_headers(headers), request_path=path, request_query=dict(query)
    )
