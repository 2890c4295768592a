"""Route a text to its compressor: unwrap agent envelopes and line numbers, pick the kind,
run the compressor, and put envelope and numbers back."""

from __future__ import annotations

import fnmatch
import importlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from compressors.detect import choose_kind, leaves_whole
from compressors.document_lines import select_document
from compressors.grep_context import asks_for_context, shorten_context_paths
from compressors.lines import Keep, check_selection, selection_result
from compressors.numbered_lines import split_numbered, unpad_numbers
from compressors.repeated_lines import fold_repeated_blocks, fold_repeated_lines, has_repeat_notes, strip_ansi
from compressors.types import Context, Fold, Result

log = logging.getLogger(__name__)
TextCompressor = Callable[[str, Context], Result]

# kind -> (module, function, "lines" | "text"). Imported lazily: a compressor that fails to
# import leaves its kind to the lossless pass instead of breaking every kind.
REGISTRY: dict[str, tuple[str, str, str]] = {
    "json": ("compressors.json_crusher", "compress_json", "text"),
    "html": ("compressors.html_page", "compress_html", "text"),
    "code": ("compressors.code_outline", "select_code", "lines"),
    "log": ("compressors.log_output", "select_log", "lines"),
    "test": ("compressors.test_output", "select_test", "lines"),
    "search": ("compressors.search_results", "select_search", "lines"),
    # Web search results as records: every title, URL, id and date kept, long content trimmed.
    "records": ("compressors.search_records", "compress_records", "text"),
    "diff": ("compressors.vcs_output", "select_vcs", "lines"),
    "build": ("compressors.build_output", "select_build", "lines"),
    # Plain prose: the keep/drop token model, or its statistical fallback (lossy, with notes).
    "text": ("compressors.text_model", "compress_text", "text"),
}
KINDS = ("auto", *REGISTRY, "repeated_lines")
MODES = ("on", "lossless", "off")

# Agent envelopes: fixed wrapper text around the output proper. mini-swe-agent wraps every
# output as <returncode>N</returncode>\n<output>\n…\n</output>, and a long one as a warning plus
# <output_head>…</output_head>, an <elided_chars> count and <output_tail>…</output_tail>. Odd
# groups are wrapper text (kept verbatim), even groups are output (compressed on their own).
_ENVELOPES = (
    re.compile(r"\A(<returncode>-?\d+</returncode>\n<output>\n?)(.*?)(\n?</output>\s*)\Z", re.DOTALL),
    re.compile(
        r"\A(<returncode>-?\d+</returncode>\n(?:<warning>.*?</warning>)?<output_head>\n?)(.*?)"
        r"(\n?</output_head>\s*<elided_chars>.*?</elided_chars>\s*<output_tail>\n?)(.*?)(\n?</output_tail>\s*)\Z",
        re.DOTALL,
    ),
    # Claude Code appends a <system-reminder> block after a tool's output (after every Read):
    # it is Claude Code's text, kept byte for byte, and the output before it is routed alone.
    re.compile(r"\A()(.*?)(\n*<system-reminder>(?:(?!</system-reminder>).)*</system-reminder>\s*)\Z", re.DOTALL),
)


@dataclass(frozen=True)
class Settings:
    """User configuration: a mode per kind, tools to leave alone."""

    modes: Mapping[str, str] = field(default_factory=dict)  # kind -> on | lossless | off
    exclude_tools: tuple[str, ...] = ()
    default_mode: str = "on"  # for kinds `modes` does not name
    # (tool-name or URL glob, jmespath expression): applied to matching JSON before crushing
    projections: tuple[tuple[str, str], ...] = ()

    def projection_for(self, context: Context) -> str | None:
        """The first pinned projection whose glob matches the tool name or the call's URL."""
        url = next((v for k, v in context.tool_args.items() if k in ("url", "uri", "endpoint") and isinstance(v, str)), "")
        for pattern, expression in self.projections:
            if fnmatch.fnmatchcase(context.tool_name or "", pattern) or (url and fnmatch.fnmatchcase(url, pattern)):
                return expression
        return None

    def mode(self, kind: str) -> str:
        return self.modes.get(kind, self.default_mode)

    def lossless_only(self) -> Settings:
        """These settings with every kind lossless, except the kinds turned off (for a request
        with no way back to originals, and the benchmarks' lossless arm)."""
        return replace(self, modes={k: "lossless" for k in KINDS[1:]} | {k: m for k, m in self.modes.items() if m == "off"})


def parse_projections(entries: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`["mcp__github__*=items[].{id: id, title: title}"]` → ((glob, expression), …)."""
    import jmespath

    out = []
    for entry in entries:
        pattern, sep, expression = entry.partition("=")
        if not sep or not pattern.strip() or not expression.strip():
            raise ValueError(f"bad projection {entry!r}: write TOOL_OR_URL_GLOB=JMESPATH")
        try:
            jmespath.compile(expression.strip())
        except jmespath.exceptions.JMESPathError as e:
            raise ValueError(f"bad jmespath expression in {entry!r}: {e}") from e
        out.append((pattern.strip(), expression.strip()))
    return tuple(out)


def parse_modes(entries: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["json=on", "code=off"]` → {"json": "on", "code": "off"}; raises ValueError with advice."""
    modes: dict[str, str] = {}
    for entry in entries:
        kind, sep, mode = entry.partition("=")
        kind, mode = kind.strip(), mode.strip()
        if not sep or kind not in KINDS[1:] or mode not in MODES:
            raise ValueError(
                f"bad kind setting {entry!r}: write KIND=MODE with KIND one of {', '.join(KINDS[1:])} "
                f"and MODE one of {', '.join(MODES)}"
            )
        modes[kind] = mode
    return modes


def load(kind: str) -> tuple[Callable, str] | None:
    """The compressor function for a kind and whether it works on lines or text."""
    module_name, function, shape = REGISTRY[kind]
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # a broken compressor must not take the others down
        if not isinstance(e, ModuleNotFoundError) or e.name != module_name:
            log.warning("headroom: compressor %s failed to load (%s: %s)", module_name, type(e).__name__, e)
        return None
    return getattr(module, function), shape


def agent_output(text: str) -> str:
    """The output inside an agent envelope (head and tail of a truncated one, joined), or the text."""
    for envelope in _ENVELOPES:
        if match := envelope.match(text):
            return "\n".join(match.groups()[1::2])
    return text


def _route_envelope(parts: tuple[str, ...], context: Context, kind: str, settings: Settings) -> Result:
    """Compress each output part of an envelope on its own; keep the wrapper text verbatim."""
    pieces: list[str] = []
    results: list[Result] = []
    folds: list[Fold] = []
    lines_before = 0  # lines of the whole text before this part: folds count in the whole text's lines
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pieces.append(part)
        else:
            results.append(route(part, context, kind, settings))
            pieces.append(results[-1].text)
            folds += [replace(f, first_line=f.first_line + lines_before, last_line=f.last_line + lines_before) for f in results[-1].folds]
        lines_before += part.count("\n")
    return Result("".join(pieces), results[0].kind, all(r.lossless for r in results), tuple(folds))


def route(text: str, context: Context, kind: str = "auto", settings: Settings = Settings()) -> Result:
    """Compress `text` with the compressor for `kind` (chosen from tool call and text on "auto")."""
    result = _route(text, context, kind, settings)
    if result.kind == "search" and settings.mode("search") != "off" and asks_for_context(context):  # lossless, after the lines are chosen
        shortened = shorten_context_paths(result.text)
        if shortened != result.text:
            result = replace(result, text=shortened)
    return result


def _route(text: str, context: Context, kind: str, settings: Settings) -> Result:
    if kind not in KINDS:
        raise ValueError(f"unknown compressor kind {kind!r}; known: {', '.join(KINDS)}")
    if context.tool_name and context.tool_name in settings.exclude_tools:
        return Result(text, "excluded", True, ())
    if leaves_whole(context):  # whole, but for the padding of its line numbers
        return Result(unpad_numbers(text), "whole", True, ())
    for envelope in _ENVELOPES:
        if match := envelope.match(text):
            return _route_envelope(match.groups(), context, kind, settings)
    clean = unpad_numbers(strip_ansi(text))
    numbered = split_numbered(clean)
    content = "\n".join(n.content for n in numbered) if numbered else clean
    if kind == "auto":
        kind = choose_kind(content, context)
    mode = settings.mode(kind)
    if mode == "off":
        return Result(text, kind, True, ())
    if kind == "json" and mode == "lossless" and not numbered and (found := load(kind)) is not None:
        return found[0](clean, context, lossless_only=True)  # the compact table form is lossless
    if kind == "repeated_lines" or mode == "lossless" or (found := load(kind)) is None:
        result = fold_repeated_lines(clean)
        return Result(result.text, kind if kind != "auto" else result.kind, result.lossless, result.folds)
    function, shape = found
    if shape == "text" and numbered and kind == "text":  # a prose file read: select lines, keep their numbers
        function, shape = select_document, "lines"
    if shape == "text":
        if numbered:  # a numbered file read must keep its numbers: fold lines, don't rewrite
            return fold_repeated_lines(clean)
        if kind == "json" and (projection := settings.projection_for(context)):
            return function(clean, context, projection=projection)
        return function(clean, context)
    lines = [n.content for n in numbered] if numbered else clean.split("\n")
    selection = function(lines, context)
    check_selection(selection, len(lines))
    if len(selection) == 1 and isinstance(selection[0], Keep):  # declined: the lossless pass still may help
        result = fold_repeated_lines(clean)
        return Result(result.text, kind, result.lossless, result.folds)
    prefixes = [n.prefix for n in numbered] if numbered else None
    result = selection_result(lines, selection, kind, prefixes, numbered[0].number if numbered else 1)
    if numbered and numbered[0].number != 1:  # folds count lines of the text, not the file's numbers
        shift = numbered[0].number - 1
        result = replace(result, folds=tuple(replace(f, first_line=f.first_line - shift, last_line=f.last_line - shift) for f in result.folds))
    if numbered and clean.endswith("\n"):
        result = Result(result.text + "\n", result.kind, result.lossless, result.folds)
    return _fold_kept_repeats(result, text)


def _fold_kept_repeats(result: Result, text: str) -> Result:
    """Lossless, after a line compressor has chosen its lines: blocks it kept that repeat back
    to back (one stack trace logged by every test) go once, with a count. (The other paths ran
    the repeat pass on the whole text already.) Not where the text holds a note-shaped line."""
    if has_repeat_notes(text):
        return result
    lines, repeats = fold_repeated_blocks(result.text.split("\n"))
    return replace(result, text="\n".join(lines)) if repeats else result
