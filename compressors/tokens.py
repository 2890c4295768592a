"""Exact, offline token counts with tiktoken's o200k_base.

tiktoken normally downloads its BPE file on first use; machines here are offline. Setup puts
the file under `<venv>/share/headroom/tiktoken` (taken from the litellm wheel, which ships
it); `HEADROOM_TIKTOKEN_DIR` points elsewhere. Without the file counts are estimated and
say so (`TokenCounter.exact` is False and a warning is logged once), never silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

ENCODING = "o200k_base"
# tiktoken caches its files under sha1(url); these are the names it looks for, and the sha256
# it expects (from tiktoken_ext.openai_public). A file that fails tiktoken's own check is
# deleted and re-downloaded, which offline means an error: check first and skip bad files.
BPE_FILES = {
    "o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
    "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
}
BPE_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}


def candidate_dirs() -> list[Path]:
    """Where a local copy of tiktoken's files may be, in order of preference."""
    dirs: list[Path] = []
    if env := os.environ.get("HEADROOM_TIKTOKEN_DIR"):
        dirs.append(Path(env))
    dirs.append(Path(sys.prefix) / "share" / "headroom" / "tiktoken")
    if env := os.environ.get("TIKTOKEN_CACHE_DIR"):
        dirs.append(Path(env))
    return dirs


class TokenCounter:
    """Counts tokens; loads the encoding lazily and once, thread-safely."""

    def __init__(self, encoding: str = ENCODING) -> None:
        self.encoding_name = encoding
        self._encoding = None
        self._loaded = False
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._loaded:
                return self._encoding
            self._encoding = _load_encoding(self.encoding_name)
            self._loaded = True
            return self._encoding

    @property
    def exact(self) -> bool:
        """True when counts come from the real tokenizer."""
        return (self._encoding if self._loaded else self._load()) is not None

    def count(self, text: str) -> int:
        """Number of tokens in `text` (an estimate of len/4 when the tokenizer is missing)."""
        encoding = self._encoding if self._loaded else self._load()
        if encoding is None:
            return (len(text) + 3) // 4
        return len(encoding.encode_ordinary(text))


def _load_encoding(name: str):
    import tiktoken

    filename = BPE_FILES[name]
    for directory in candidate_dirs():
        path = directory / filename
        if not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != BPE_SHA256[name]:
            log.warning("headroom: %s is not tiktoken's %s file (wrong checksum); ignoring it", path, name)
            continue
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        try:
            return tiktoken.get_encoding(name)
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous
    log.warning(
        "headroom: tiktoken file for %s not found in %s; token counts are estimates (chars/4). "
        "Run scripts/setup to install it.",
        name,
        ", ".join(map(str, candidate_dirs())),
    )
    return None


_default = TokenCounter()


def count_tokens(text: str) -> int:
    """Count tokens with the shared o200k_base counter."""
    return _default.count(text)


def shared_encoding():
    """The tiktoken Encoding behind count_tokens, or None when only estimates are possible."""
    return _default._load() if not _default._loaded else _default._encoding


def counts_are_exact() -> bool:
    """Whether count_tokens uses the real tokenizer."""
    return _default.exact
