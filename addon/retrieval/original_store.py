"""The originals of lossy compressions, kept so the model can fetch them back by id.

Ids are content-addressed: HMAC-SHA256 of the text under a per-installation salt, 96 bits in
hex. The same text always gets the same id (a re-sent tool output, or a decision replayed from
the memo, names the original it named before), yet nobody without the salt can derive an id
from a guessed text.

Ownership: an original may be shared by several users of one proxy, so each record keeps the
set of owners (hashes of the API keys) that stored it, and `fetch` answers only to those. The
id depends on the text alone, not on the owner, because the decision memo is keyed by content:
a second user who sends the same tool output gets the first user's forwarded text, marker id
included. Storing that text again under the second user's key returns that same id and adds
them as an owner; since storing needs the full text, only someone who already has it can gain
access to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from addon.proxy.home import private_dir, store_dir
from addon.retrieval.store_backends import DEFAULT_SIZE_LIMIT, DiskBackend, RedisBackend, StoreBackend, StoreUnavailable

log = logging.getLogger(__name__)

__all__ = [
    "ANONYMOUS",
    "DEFAULT_TTL_S",
    "EXPIRED",
    "FORBIDDEN",
    "OK",
    "Fetched",
    "Originals",
    "StoreUnavailable",
    "StoredOriginal",
    "decode_original",
    "encode_original",
    "is_valid_id",
    "load_salt",
    "make_id",
    "open_store",
    "owner_of",
]

DEFAULT_TTL_S = 3600  # after the last store, fetch or touch
ID_HEX_CHARS = 24  # 96 bits
SALT_BYTES = 32
ANONYMOUS = "anonymous"
SALT_KEY = "salt"  # the team's shared salt, in a Redis store
_OWNER_DOMAIN = b"headroom-owner-v1\0"
_FORMAT = 1
_ID = re.compile(r"[0-9a-f]{%d}" % ID_HEX_CHARS)

Status = Literal["ok", "expired", "forbidden"]
OK: Status = "ok"
EXPIRED: Status = "expired"  # unknown, expired, evicted, or malformed id
FORBIDDEN: Status = "forbidden"  # stored, but not by this owner


@dataclass(frozen=True)
class StoredOriginal:
    text: str
    owners: tuple[str, ...]  # owner_of() hashes, in the order they first stored it
    kind: str  # the compressor kind that removed it
    created: float  # epoch seconds of the first store


@dataclass(frozen=True)
class Fetched:
    status: Status
    original: StoredOriginal | None  # set only when status is OK


def make_id(salt: bytes, text: str) -> str:
    """The id of `text` in the installation whose salt is `salt`."""
    digest = hmac.new(salt, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return digest[:ID_HEX_CHARS]


def is_valid_id(value: object) -> bool:
    """Whether `value` has the shape of an id (anything else cannot be stored, so it is never looked up)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def owner_of(credential: str | None) -> str:
    """Who stored an original: a hash of the request's API key or token, never the key itself.

    Unsalted (a domain prefix only) so every proxy sharing a Redis computes the same owner.
    """
    if credential is None:
        return ANONYMOUS
    return hashlib.sha256(_OWNER_DOMAIN + credential.encode("utf-8", "surrogatepass")).hexdigest()


def load_salt(home: Path) -> bytes:
    """The installation's salt, HEADROOM_HOME/store/salt, created on first use (mode 0600).

    Created by linking a fully written temporary file into place: a concurrent first start
    (two proxies, or two threads) either wins the link or reads the winner's complete salt.
    """
    directory = private_dir(store_dir(home))
    path = directory / "salt"
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".salt-")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(SALT_BYTES))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)
    salt = path.read_bytes()
    if len(salt) != SALT_BYTES:
        # Replacing it silently would orphan every stored id; a person should look.
        raise ValueError(f"{path} holds {len(salt)} bytes, not {SALT_BYTES}: remove it to start a new store")
    return salt


def shared_salt(backend: RedisBackend, local: bytes, url: str) -> bytes:
    """Proxies sharing a Redis share one salt, so the same text gets the same id on each: the
    first proxy's local salt becomes the team's. With Redis unreachable at start the local salt
    serves (ids then differ from the team's until a restart), and the log says so."""
    try:
        salt = backend.first_of(SALT_KEY, local)
    except StoreUnavailable as e:
        log.warning("headroom: Redis %s unreachable at start (%s); this proxy's ids use its own salt until restarted", url, e)
        return local
    if len(salt) != SALT_BYTES:
        log.warning("headroom: the salt in Redis %s is %d bytes, not %d; using this proxy's own", url, len(salt), SALT_BYTES)
        return local
    return salt


def encode_original(original: StoredOriginal) -> bytes:
    """Compact JSON (never pickle: a Redis shared by a team must not be a way to run code)."""
    record = {"v": _FORMAT, "text": original.text, "owners": list(original.owners), "kind": original.kind, "created": original.created}
    # ensure_ascii=False keeps non-ASCII text at its UTF-8 size; surrogatepass carries lone
    # surrogates, which tool outputs sometimes contain, through unchanged.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def decode_original(raw: bytes) -> StoredOriginal:
    """The original in `raw`; ValueError when it is not a record this version wrote."""
    record = json.loads(raw.decode("utf-8", "surrogatepass"))
    if not isinstance(record, dict) or record.get("v") != _FORMAT:
        raise ValueError("not a stored original")
    text, owners, kind, created = record.get("text"), record.get("owners"), record.get("kind"), record.get("created")
    if (
        not isinstance(text, str)
        or not isinstance(owners, list)
        or not all(isinstance(o, str) for o in owners)
        or not isinstance(kind, str)
        or not isinstance(created, int | float)
    ):
        raise ValueError("malformed stored original")
    return StoredOriginal(text, tuple(owners), kind, float(created))


class Originals:
    """Store and fetch originals by id, with a sliding time to live and per-owner access.

    Backend failures raise `StoreUnavailable`; callers fail open (forward the uncompressed
    text, or tell the model the original cannot be fetched now).
    """

    def __init__(self, backend: StoreBackend, salt: bytes, ttl_s: int = DEFAULT_TTL_S) -> None:
        if ttl_s < 1:
            raise ValueError("ttl_s must be at least 1 second")
        self._backend = backend
        self._salt = salt
        self._ttl_s = int(ttl_s)

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    @property
    def salt(self) -> bytes:
        """The id salt: a worker process is given the proxy's, so both name a text alike."""
        return self._salt

    def store(self, text: str, owner: str, kind: str) -> str:
        """Keep `text` for `owner` and return its id (the same id every time for the same text).

        Storing a text that is already there rewrites nothing unless `owner` is new to it; it
        extends its life and revives it if it had expired, so calling this again for a replayed
        decision keeps its marker working, for a new owner too.
        """
        original_id = make_id(self._salt, text)
        now = time.time()

        def merge(raw: bytes | None) -> bytes | None:
            existing = _decoded(raw)
            if existing is None or existing.text != text:  # absent, unreadable, or (2^-96) another text
                return encode_original(StoredOriginal(text, (owner,), kind, now))
            if owner in existing.owners:
                return None  # as it is; only its life is extended
            return encode_original(replace(existing, owners=(*existing.owners, owner)))

        self._backend.update(original_id, merge, self._ttl_s)
        return original_id

    def fetch(self, original_id: str, owner: str) -> Fetched:
        """The original, if `owner` stored it; a successful fetch extends its life."""
        if not is_valid_id(original_id):
            return Fetched(EXPIRED, None)
        original = _decoded(self._backend.get(original_id))
        if original is None:
            return Fetched(EXPIRED, None)
        if owner not in original.owners:
            return Fetched(FORBIDDEN, None)
        try:
            self._backend.touch([original_id], self._ttl_s)
        except StoreUnavailable:
            pass  # the text is in hand; a longer life is only a bonus
        return Fetched(OK, original)

    def touch(self, ids: Iterable[str], owner: str | None = None) -> None:
        """Extend the life of originals a conversation still names (malformed ids are skipped).

        Extending life grants and reveals nothing, so `owner` is not checked: that would cost a
        read of every original. To be sure an owner can fetch a replayed marker, `store` again.
        """
        valid = list(dict.fromkeys(i for i in ids if is_valid_id(i)))
        if valid:
            self._backend.touch(valid, self._ttl_s)

    def close(self) -> None:
        self._backend.close()


def _decoded(raw: bytes | None) -> StoredOriginal | None:
    if raw is None:
        return None
    try:
        return decode_original(raw)
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
        return None  # not ours to read: as good as absent


def open_store(
    home: Path, redis_url: str | None, ttl_s: int = DEFAULT_TTL_S, size_limit: int = DEFAULT_SIZE_LIMIT, salt: bytes | None = None
) -> Originals:
    """The store of originals: in Redis when `redis_url` is set, else under HEADROOM_HOME/store/originals.

    Opening Redis does not connect: a server that is down makes each call fail open instead
    of stopping the proxy from starting. `salt`: the one to use (a worker process gets its
    proxy's), instead of the installation's or the team's.
    """
    backend: StoreBackend
    if redis_url:
        backend = RedisBackend(redis_url)
        salt = salt or shared_salt(backend, load_salt(home), redis_url)
    else:
        backend = DiskBackend(store_dir(home) / "originals", size_limit)
        salt = salt or load_salt(home)
    return Originals(backend, salt, ttl_s)
