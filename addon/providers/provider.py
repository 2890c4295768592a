"""The one interface every provider implements, and the shapes parsing hands back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import ModuleType
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from addon.media.provider_media import ProviderMedia
from addon.wire.json_splice import Path, value_at

if TYPE_CHECKING:  # the concern packages own these types; providers fill them in
    from addon.cache.prompt_units import PromptUnit
    from addon.ledger.usage import StreamUsage, Usage
    from addon.providers.anthropic_messages.cache_breakpoints import Placement
    from addon.retrieval.retrieval_rounds import RetrieveCall
    from addon.retrieval.stream_splicer import Splicer

# Pasted user text counts as a document worth compressing only above this many characters.
DOCUMENT_MIN_CHARS = 8_000


class UnknownShape(ValueError):
    """The body is JSON, but not of a shape this adapter knows: it passes through untouched."""


@dataclass(frozen=True)
class Segment:
    """One string in a request body that compression may rewrite."""

    path: Path  # where the string lives in the JSON body
    text: str
    source: str  # tool_output | document
    fresh: bool  # sent after the model's last turn: the provider has not seen it yet
    tool_name: str | None = None
    tool_args: Mapping[str, Any] = field(default_factory=dict)
    is_error: bool = False
    call_id: str | None = None  # the tool call this output answers (tool_use_id, tool_call_id, call_id)


@dataclass(frozen=True)
class ParsedRequest:
    """What an adapter finds in a body."""

    segments: list[Segment]
    query: str  # the user's latest words, for relevance
    first_turn: bool = False  # no model turn yet: the provider has cached nothing of this conversation


NoteTarget = tuple[str, Path, str]  # ("append", list path, part type) or ("suffix", string path, "")


class Provider:
    """One API's shapes: everything that differs between Anthropic Messages, OpenAI Chat,
    OpenAI Responses and Gemini sits behind this one face, so code elsewhere asks the provider
    instead of comparing its name. Each provider is a package of its own under addon/providers/;
    the defaults here say "this API has no such thing".

    Knows JSON shapes, never compression, I/O or mitmproxy.
    """

    name: str = ""
    moves_front = False  # has a system prompt / instructions the cache aligner may keep as first sent
    has_breakpoints = False  # the client marks its prompt cache with breakpoints (cache_control)
    prompt_cache_key = False  # takes a `prompt_cache_key` that routes requests to one cache
    websocket_requests = False  # request bodies also arrive as WebSocket messages
    splices_streams = False  # the proxy can answer retrieve calls inside streamed responses (`splicer`)
    answerable_rounds = False  # the proxy can answer retrieve calls in non-streamed responses
    chains_requests = False  # a request may continue a stored response (`previous_response_id`) and omit its calls
    media: ProviderMedia = ProviderMedia()  # its images and videos: where they are, their price, retrieve answers

    # ---- requests -----------------------------------------------------------------------

    def matches(self, path: str) -> bool:
        """Whether this provider owns the request path (query string excluded)."""
        raise NotImplementedError

    def parse(self, body: Any) -> ParsedRequest:
        """Segments and query of a decoded JSON body; raise UnknownShape for shapes it does not know."""
        raise NotImplementedError

    def session_id(self, body: dict) -> str | None:
        """A session id the client puts in the body (Gemini CLI), where the API has one."""
        return None

    def streamed(self, document: dict, path: str, query: Mapping[str, str]) -> bool:
        """Whether a request asks for a streamed response (server-sent events)."""
        return bool(document.get("stream"))

    def tools_of(self, document: dict) -> tuple[Path, Any]:
        """Where the request's tool list is (or would go), and what is there."""
        return ("tools",), document.get("tools")

    def blocks_retrieval(self, document: dict) -> bool:
        """Whether the client's tool choice rules out a retrieve call (none, or one forced tool)."""
        from addon.retrieval.retrieval_path import tool_choice_blocks_retrieval

        return tool_choice_blocks_retrieval(document.get("tool_choice"))

    def opening(self, body: dict) -> tuple[Any, Any]:
        """The system prompt and the first user message: what names a conversation."""
        raise NotImplementedError

    def is_api_key_traffic(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Whether a request is billed to an API key (its prompt may be aligned), rather than a
        subscription or OAuth login whose prompts pass as the client built them."""
        raise NotImplementedError

    # ---- the prompt as the provider's cache sees it -------------------------------------------

    def prompt_units(self, body: dict, reuse: dict[tuple, list[PromptUnit]] | None = None) -> list[PromptUnit]:
        """The units of a body in the order the provider caches them (see cache/prompt_units.py)."""
        raise NotImplementedError

    def prompt_root(self, body: dict) -> Path:
        """Where the paths of `prompt_units` start in the body (a wrapper's key, or nothing)."""
        return ()

    def front_strings(self, body: dict) -> list[tuple[Path, str]]:
        """The strings of the front that may carry dynamic values (system prompt, instructions)."""
        return []

    def last_message_path(self, body: dict) -> Path | None:
        """Where the request's last message is (a note for the model goes there)."""
        return None

    def note_target(self, body: dict, path: Path) -> NoteTarget | None:
        """How a note goes into the message at `path`, or None where it cannot."""
        return None

    def place_breakpoints(self, body: dict, ttl: str, min_tokens: int, limit: int, deltas, sizes, lookback: int) -> Placement | None:
        """Breakpoints where the client placed none (providers with `has_breakpoints`)."""
        return None

    def raise_breakpoints_to_1h(self, body: dict) -> Placement | None:
        """The client's own breakpoints raised to the 1-hour TTL (providers with `has_breakpoints`)."""
        return None

    # ---- usage --------------------------------------------------------------------------

    def usage_of(self, document: Any) -> Usage | None:
        """The usage of a whole (non-streamed) response body, or None when it carries none."""
        raise NotImplementedError

    def stream_usage(self) -> StreamUsage:
        """A fresh reader of the usage in one stream of events."""
        raise NotImplementedError

    # ---- retrieval ----------------------------------------------------------------------
    # A provider with retrieval names its retrieval_rounds module, which holds these functions
    # under the same names; the methods below are that module's.

    rounds: ModuleType | None = None

    def tool_definition(self, name: str) -> str:
        """The retrieve tool as a JSON literal in this API's format (always the same bytes)."""
        return self._rounds().tool_definition(name)

    def tool_names(self, tools: object) -> set[str]:
        """Names of the tools a request already defines."""
        return self._rounds().tool_names(tools)

    def retrieve_calls(self, response: Any, tool_name: str) -> list[RetrieveCall]:
        """The retrieve tool calls in a non-streamed response (providers with `answerable_rounds`)."""
        return self.rounds.retrieve_calls(response, tool_name) if self.rounds is not None else []

    def follow_up_body(self, body: str, response: Any, tool_name: str, answers: dict[str, str]) -> str:
        """The forwarded body plus the assistant turn (retrieve calls only) and the tool results."""
        return self._rounds().follow_up_body(body, response, tool_name, answers)

    def without_retrieve_calls(self, response: Any, tool_name: str, note: str) -> Any:
        """The response with its retrieve calls removed (the round limit was reached)."""
        return self._rounds().without_retrieve_calls(response, tool_name, note)

    def final_response(self, rounds: list[Any]) -> Any:
        """What the client gets: the last round, with usage summed over all rounds."""
        return self._rounds().final_response(rounds)

    def answers_retrieve(self, body: dict, tool_prefix: str) -> bool:
        """Whether a follow-up body ends with the answer to a retrieve call."""
        return self.rounds.answers_retrieve(body, tool_prefix) if self.rounds is not None else False

    def _rounds(self) -> ModuleType:
        if self.rounds is None:
            raise NotImplementedError(f"{self.name} has no retrieval")
        return self.rounds

    def splicer(self, tool_name: str) -> Splicer | None:
        """A splicer for streamed responses that may hold retrieve calls, where there is one."""
        return None


def parse_arguments(raw: Any) -> Mapping[str, Any]:
    """Tool-call arguments as a mapping, whether sent as an object or a JSON string."""
    import json

    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to read
            return {"input": raw}
        return value if isinstance(value, Mapping) else {"input": value}
    return {}


# Agents that send tool output back as a user message (mini-swe-agent and its kin) wrap it
# like this; the command is the last shell block of the assistant turn before it.
_AGENT_OUTPUT = re.compile(r"\A<returncode>-?\d+</returncode>\n")
_SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell)?\n(.*?)```", re.DOTALL)


def is_agent_tool_output(text: str) -> bool:
    """Whether a user message is an agent's wrapped tool output rather than the user's words."""
    return _AGENT_OUTPUT.match(text) is not None


def shell_command_in(text: str | None) -> Mapping[str, Any]:
    """The last fenced shell command in an assistant message, as tool arguments."""
    blocks = _SHELL_BLOCK.findall(text or "")
    return {"command": blocks[-1].strip()} if blocks else {}


def last_index(items: list[Any], predicate) -> int:
    """Index of the last item matching predicate, or -1."""
    for i in range(len(items) - 1, -1, -1):
        if predicate(items[i]):
            return i
    return -1


def chat_note_target(body: dict, path: Path, part: str) -> NoteTarget | None:
    """How a note goes into a user or tool message at `path`: appended to its string content,
    or as a new `part`-typed text part of its list content."""
    try:
        message = value_at(body, path)
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(message, dict) or message.get("role") not in ("user", "tool"):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return ("suffix", path + ("content",), "")
    if isinstance(content, list):
        return ("append", path + ("content",), part)
    return None


def is_openai_api_key(headers: Mapping[str, str]) -> bool:
    """An OpenAI-style API key (Azure's `api-key`, or a Bearer key)."""
    return bool(headers.get("api-key")) or headers.get("authorization", "").startswith("Bearer ")
