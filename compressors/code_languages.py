"""Which programming language a source text is in, and what its syntax tree calls things.

The outline compressor needs, per language, the tree-sitter node types that are function-like
definitions (whose bodies may be folded) and those that are anonymous functions (callbacks,
closures, lambdas: folded only when nothing worth outlining is nested inside). The language
comes from the file's path, or is sniffed from the text when there is none. Grammars come from
tree-sitter-language-pack, which bundles them, so nothing is fetched at run time (its C# grammar
is named `csharp`; `c_sharp` does not load).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Language, Node, Parser

from compressors.detect import CODE_EXTENSIONS, extension
from compressors.types import Context


@dataclass(frozen=True)
class LanguageSpec:
    """What the outline needs to know about one grammar."""

    grammar: str  # name for tree_sitter_language_pack.get_parser
    functions: frozenset[str]  # named definitions with a `body` field
    anonymous: frozenset[str] = frozenset()  # lambdas / callbacks with a `body` field
    hint: re.Pattern[str] | None = None  # lines typical of the language, for sniffing


def _spec(grammar: str, functions: str, anonymous: str = "", hint: str | None = None) -> LanguageSpec:
    return LanguageSpec(
        grammar,
        frozenset(functions.split()),
        frozenset(anonymous.split()),
        re.compile(hint, re.MULTILINE) if hint else None,
    )


_CPP_HINT = r"std::|^\s*template\s*<|^\s*namespace \w+|^\s*class \w+[^;]*$|\w+::~?\w+\(|^#include <\w+>$"
_JS_FUNCTIONS = "function_declaration generator_function_declaration method_definition"
_JS_ANONYMOUS = "arrow_function function_expression function generator_function"
_JS_HINT = r"^\s*(import .* from |export |const \w+ = |let \w+ = |function\*? \w+\(|module\.exports)|=> \{$"
_TS_HINT = _JS_HINT + r"|^\s*(export )?(interface|type) \w+|: (string|number|boolean)\b"
_CSHARP_FUNCTIONS = (
    "method_declaration constructor_declaration destructor_declaration operator_declaration "
    "conversion_operator_declaration local_function_statement accessor_declaration"
)

LANGUAGES: dict[str, LanguageSpec] = {
    "python": _spec(
        "python", "function_definition", "",
        r"^\s*(def \w+\(|async def |class \w+.*:$|from [\w.]+ import |import \w[\w.]*$|@\w+)|self\.",
    ),
    "javascript": _spec("javascript", _JS_FUNCTIONS, _JS_ANONYMOUS, _JS_HINT),
    "typescript": _spec("typescript", _JS_FUNCTIONS, _JS_ANONYMOUS, _TS_HINT),
    "tsx": _spec("tsx", _JS_FUNCTIONS, _JS_ANONYMOUS, r"return \(|<\w+ \w+=\{|className="),
    "go": _spec(
        "go", "function_declaration method_declaration", "func_literal",
        r"^(package \w+$|func |type \w+ struct)|:= ",
    ),
    "rust": _spec(
        "rust", "function_item", "closure_expression",
        r"^\s*(pub(\(crate\))? )?(fn|impl|struct|enum|mod|trait) |let mut |^use \w+::",
    ),
    "java": _spec(
        "java", "method_declaration constructor_declaration compact_constructor_declaration", "lambda_expression",
        r"^(package [\w.]+;|import (static )?java)|^\s*(public|private|protected) .*(class|void|static) |@Override",
    ),
    "c": _spec(
        "c", "function_definition", "",
        r"^#(include|define|ifdef|ifndef|endif)\b|^\s*(static |extern |typedef )",
    ),
    "cpp": _spec(
        "cpp", "function_definition", "lambda_expression",
        _CPP_HINT,
    ),
    "csharp": _spec(
        "csharp", _CSHARP_FUNCTIONS, "lambda_expression anonymous_method_expression",
        r"^using [\w.]+;|^\s*namespace [\w.]+|\{ get; |"
        r"^\s*(public|private|internal|protected) (override |static |async )*\w+",
    ),
    "ruby": _spec(
        "ruby", "method singleton_method", "do_block block",
        r"^\s*(def (self\.)?\w+[?!=]?(\(.*\))?$|end$|require(_relative)? ['\"]|module [A-Z]\w*$|"
        r"attr_(reader|accessor) )",
    ),
    "php": _spec(
        "php", "function_definition method_declaration", "anonymous_function arrow_function",
        r"<\?php|\$this->|^\s*(public |private |protected )?(static )?function \w+\(|^namespace [\w\\]+;",
    ),
    # In CODE_EXTENSIONS, so read files of these are outlined too; not sniffed.
    "kotlin": _spec("kotlin", "function_declaration", "lambda_literal"),
    "swift": _spec("swift", "function_declaration init_declaration", "lambda_literal"),
    "scala": _spec("scala", "function_definition", ""),
}  # fmt: skip

# Lines only C++ has: a header with one is parsed as C++.
_CPP_ONLY = re.compile(
    r"^\s*(template\s*<|namespace \w+|class \w+[^;]*$|(public|private|protected):$)|std::", re.MULTILINE
)
# Keys of a tool call that name the file it reads.
_PATH_ARGS = ("file_path", "path", "filename", "file", "target_file")
# SWE-agent's `open` prints `[File: /repo/x.py (120 lines total)]` above the numbered lines.
_FILE_HEADER = re.compile(r"^\[File: (\S+) \(\d+ lines total\)\]")


@lru_cache(maxsize=None)
def grammar(language: str) -> Language:
    """The tree-sitter grammar of a language of LANGUAGES (loaded once; immutable, so shared)."""
    from tree_sitter_language_pack import get_language

    return get_language(LANGUAGES[language].grammar)  # type: ignore[arg-type]


def parser_for(language: str) -> Parser:
    """A new parser for a language. Parsers hold parse state and compression runs on a thread
    pool, so each call gets its own (making one costs under a microsecond)."""
    return Parser(grammar(language))


def language_for_path(path: str | None) -> str | None:
    """The language of a file path, by extension; None when it is not source code we know."""
    language = CODE_EXTENSIONS.get(extension(path))
    return language if language in LANGUAGES else None


def language_of(path: str | None, text: str) -> str | None:
    """The language of a text: by its path when there is one, else sniffed from the text.
    A `.h` header is C++ when it reads like C++ (the C grammar would misparse it)."""
    if not path:
        return sniff_language(text)
    language = language_for_path(path)
    if language == "c" and extension(path) == ".h" and _CPP_ONLY.search(text[:20000]):
        return "cpp"
    return language


def path_from_context(context: Context, lines: list[str]) -> str | None:
    """The path of the file being shown: the tool call's path, the file a shell command names,
    or SWE-agent's `[File: …]` header."""
    if context.path:
        return context.path
    for key in _PATH_ARGS:
        value = context.tool_args.get(key)
        if isinstance(value, str) and value:
            return value
    if context.command:
        found = _code_path_in_command(context.command)
        if found:
            return found
    for line in lines[:3]:
        m = _FILE_HEADER.match(line)
        if m:
            return m.group(1)
    return None


def _code_path_in_command(command: str) -> str | None:
    """The one source file a command mentions (`nl -ba x.py | sed -n '1,80p'`), if exactly one."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    found = {w for w in words if language_for_path(w)}
    return found.pop() if len(found) == 1 else None


def error_count(root: Node) -> int:
    """ERROR and MISSING nodes in a tree; only subtrees flagged `has_error` are visited."""
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            count += 1
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


def sniff_language(text: str, max_candidates: int = 3) -> str | None:
    """The language a text without a path is most likely in: the languages whose typical lines
    occur most are parsed, and the one with the fewest syntax errors wins (ties: more hints)."""
    sample = text[:20000]
    scores = []
    for name, spec in LANGUAGES.items():
        if spec.hint is not None:
            hits = len(spec.hint.findall(sample))
            if hits:
                scores.append((hits, name))
    scores.sort(key=lambda item: -item[0])
    best: tuple[int, int, str] | None = None
    source = text.encode("utf-8", "surrogatepass")
    for hits, name in scores[:max_candidates]:
        errors = error_count(parser_for(name).parse(prepare_source(name, source)).root_node)
        if best is None or (errors, -hits) < best[:2]:
            best = (errors, -hits, name)
    return best[2] if best else None


def prepare_source(language: str, source: bytes) -> bytes:
    """PHP's grammar reads code only after `<?php`; a partial read lacks it. Put it in front of
    the first line (same row, so rows still match the lines)."""
    if language == "php" and b"<?php" not in source[:2000]:
        return b"<?php " + source
    return source
