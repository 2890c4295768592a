"""`headroom doctor`: check a setup end to end; one line per check, and what to do when it fails.

Each check is a small function returning a `Check`; none changes anything except what Headroom
itself would create on first use (HEADROOM_HOME, the CA, the store's salt). Offline-safe: the
interception check asks the proxy for a TLS handshake with an LLM host and accepts "the proxy
answered with Headroom's certificate" as success even when the real host is out of reach.
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from addon.proxy.home import headroom_home, store_dir

CHECK_HOST = "api.anthropic.com"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # what to do, when not ok
    required: bool = True  # a failing optional check warns but does not fail the doctor

    def line(self) -> str:
        mark = "✓" if self.ok else ("✗" if self.required else "!")
        return f"{mark} {self.name}: {self.detail}" + (f" → {self.fix}" if not self.ok and self.fix else "")

    def as_dict(self) -> dict:
        return asdict(self)


def check_home(home: Path) -> Check:
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        return Check("home", False, f"{home} is not writable ({e.strerror})", "fix its permissions or set HEADROOM_HOME to a writable directory")
    return Check("home", True, str(home))


def check_ca(home: Path) -> Check:
    from certs.ca import ensure_ca

    try:
        ca = ensure_ca(home)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return Check("CA", False, f"cannot create or read the CA ({type(e).__name__}: {e})", "check HEADROOM_HOME/certs")
    loose = [p.name for p in ca.confdir.glob("mitmproxy-ca.*") if p.name != ca.cert.name and stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        return Check("CA", False, f"private key files readable by others: {', '.join(loose)}", f"chmod 600 {ca.confdir}/mitmproxy-ca.*")
    context = ssl.create_default_context(cafile=str(ca.bundle))
    if not context.cert_store_stats().get("x509_ca"):
        return Check("CA", False, f"the trust bundle {ca.bundle} holds no CA", "run `scripts/ca` to rebuild it")
    return Check("CA", True, f"{ca.cert} (key 0600; bundle for wrapped tools: {ca.bundle})")


def check_proxy(host: str, port: int) -> Check:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            pass
    except OSError:
        return Check("proxy", False, f"nothing answers on {host}:{port}", "start it with `scripts/start` (or `scripts/wrap <tool>`, which starts it)")
    return Check("proxy", True, f"listening on {host}:{port}")


def check_interception(host: str, port: int, home: Path) -> Check:
    """A CONNECT to an LLM host through the proxy, then a TLS handshake that trusts only
    Headroom's CA: it succeeds only if the proxy decrypts that host."""
    from certs.ca import ensure_ca

    context = ssl.create_default_context(cafile=str(ensure_ca(home).cert))
    try:
        with socket.create_connection((host, port), timeout=5.0) as raw:
            raw.sendall(f"CONNECT {CHECK_HOST}:443 HTTP/1.1\r\nHost: {CHECK_HOST}:443\r\n\r\n".encode())
            head = raw.recv(4096).decode("latin-1")
            if " 200" not in head.split("\r\n", 1)[0]:
                status = head.split("\r\n", 1)[0] or "no answer"
                return Check("interception", False, f"the proxy refused CONNECT {CHECK_HOST} ({status}; offline?)", "check the proxy's log", required=False)
            with context.wrap_socket(raw, server_hostname=CHECK_HOST):
                pass
    except ssl.SSLCertVerificationError as e:
        return Check("interception", False, f"{CHECK_HOST} is not decrypted with Headroom's CA ({e.verify_message})", "is another proxy on this port? (`scripts/stop`, then `scripts/start`)")
    except (OSError, ssl.SSLError) as e:
        return Check("interception", False, f"no TLS handshake for {CHECK_HOST} through the proxy ({e}; offline?)", "check the proxy's log", required=False)
    return Check("interception", True, f"{CHECK_HOST} is decrypted with Headroom's CA")


def check_store(home: Path, redis_url: str | None) -> Check:
    from addon.retrieval.original_store import open_store

    name = "Redis store" if redis_url else "store"
    try:
        store = open_store(home, redis_url)
        try:
            original_id = store.store("headroom doctor probe\n" * 20, "doctor", "log")
            fetched = store.fetch(original_id, "doctor")
        finally:
            store.close()
    except Exception as e:  # noqa: BLE001 - StoreUnavailable, OSError, redis errors: all reported
        where = redis_url or store_dir(home)
        return Check(name, False, f"{where}: {type(e).__name__}: {e}", "start redis-server / check the URL" if redis_url else "make HEADROOM_HOME/store writable")
    if fetched.status != "ok":
        return Check(name, False, f"an original stored could not be read back ({fetched.status})", "check the store's disk or Redis")
    return Check(name, True, f"stores and reads back ({redis_url or store_dir(home)})")


def check_tokenizer() -> Check:
    from compressors.tokens import TokenCounter, candidate_dirs

    if TokenCounter().exact:
        return Check("tokenizer", True, "o200k_base loaded: exact token counts")
    where = ", ".join(str(d) for d in candidate_dirs()) or "nowhere"
    return Check("tokenizer", False, f"o200k_base not found (looked in {where}); counts are estimates", "re-run `scripts/setup` (it installs the tokenizer files)", required=False)


def check_text_model() -> Check:
    try:
        from compressors.text_model import load_model

        model = load_model(backend="numpy")
    except Exception as e:  # noqa: BLE001
        return Check("text model", False, f"{type(e).__name__}: {e}", "re-run `scripts/setup`; prose then uses the statistical fallback", required=False)
    if model is None:
        return Check("text model", False, "no weights found", "re-run `scripts/setup`; prose uses the statistical fallback", required=False)
    return Check("text model", True, "loads (numpy backend)")


def check_ledger(home: Path) -> Check:
    from addon.ledger.ledger_table import LedgerError, connect, ledger_path

    path = ledger_path(home)
    try:
        db = connect(path)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.close()
    except (LedgerError, OSError, Exception) as e:  # noqa: BLE001 - sqlite3 errors too
        return Check("ledger", False, f"{path}: {type(e).__name__}: {e}", "move the file aside; a new ledger is created on start")
    return Check("ledger", True, f"{path} (schema {version})")


def run_checks(host: str, port: int, redis_url: str | None = None, home: Path | None = None) -> list[Check]:
    home = home or headroom_home()
    first = check_home(home)
    if not first.ok:
        return [first]
    checks: list[Callable[[], Check]] = [
        lambda: check_ca(home),
        lambda: check_proxy(host, port),
        lambda: check_store(home, None),
        lambda: check_tokenizer(),
        lambda: check_text_model(),
        lambda: check_ledger(home),
    ]
    if redis_url:
        checks.append(lambda: check_store(home, redis_url))
    out = [first]
    for check in checks:
        out.append(check())
        if out[-1].name == "proxy" and out[-1].ok:
            out.append(check_interception(host, port, home))
    return out


def redis_url_from_env() -> str | None:
    return os.environ.get("HEADROOM_REDIS_URL") or None
