"""`headroom`: one command line for the proxy, wrapping clients, the CA, compression, stats and traces.

The shell scripts in scripts/ (proxy, wrap, ca, compress, stats) call this module, so each entry
point is implemented once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from addon.proxy.home import headroom_home, log_dir, private_dir

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addon" / "headroom.py"
DEFAULT_PORT = 8080
START_TIMEOUT_S = 30.0


def default_port() -> int:
    """$HEADROOM_PORT or 8080; only the verbs that listen or connect ask for it."""
    raw = os.environ.get("HEADROOM_PORT", "")
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        sys.exit(f"headroom: HEADROOM_PORT={raw!r} is not a port number (1-65535)")
    return int(raw)


def proxy_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mitm_binary(name: str) -> str:
    """mitmdump/mitmweb from this interpreter's environment first, then PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        sys.exit(f"headroom: {name} not found; run scripts/setup first")
    return found


def proxy_command(host: str, port: int, web: bool = False, extra: list[str] | None = None) -> list[str]:
    """The mitmdump (or mitmweb) command line that runs Headroom."""
    from certs.ca import ensure_ca

    ca = ensure_ca()
    return [
        mitm_binary("mitmweb" if web else "mitmdump"),
        "--listen-host", host,
        "--listen-port", str(port),
        "--set", f"confdir={ca.confdir}",
        "--set", f"headroom_home={headroom_home()}",
        "-s", str(ADDON),
        *(extra or []),
    ]  # fmt: skip


def cmd_proxy(args: argparse.Namespace) -> int:
    command = proxy_command(args.host, args.port, args.web, args.mitm_args)
    print(f"headroom: proxy on http://{args.host}:{args.port} (state in {headroom_home()})", file=sys.stderr)
    os.execv(command[0], command)
    return 0  # not reached


def start_background_proxy(host: str, port: int) -> None:
    """Start mitmdump detached, logging under HEADROOM_HOME, and wait until it answers."""
    logs = private_dir(log_dir())
    log_file = open(logs / "proxy.log", "ab")
    process = subprocess.Popen(
        proxy_command(host, port),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives the wrapped command, so later commands reuse it
    )
    (headroom_home() / "proxy.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proxy_answers(host, port):
            return
        if process.poll() is not None:
            sys.exit(f"headroom: the proxy exited with code {process.returncode}; see {logs / 'proxy.log'}")
        time.sleep(0.1)
    sys.exit(f"headroom: the proxy did not answer on {host}:{port} within {START_TIMEOUT_S:.0f} s; see {logs / 'proxy.log'}")


def wrap_environment(env: dict[str, str], host: str, port: int, ca_cert: Path, bundle: Path) -> dict[str, str]:
    """The environment that routes a command's HTTPS through the proxy and trusts its CA."""
    proxy = f"http://{host}:{port}"
    out = dict(env)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        out[name] = proxy
    # Node (Claude Code, Codex's npm shim) adds this CA to its built-in roots.
    out["NODE_EXTRA_CA_CERTS"] = str(ca_cert)
    # Python (requests, httpx), curl and OpenSSL-based tools replace their roots with these
    # files, so they get the system roots plus the CA.
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        out[name] = str(bundle)
    return out


def cmd_wrap(args: argparse.Namespace) -> int:
    from certs.ca import ensure_ca

    if not args.command:
        sys.exit("headroom wrap: give a command to run, e.g. `headroom wrap claude`")
    program = args.command[0]
    found = shutil.which(program)
    if found is None:  # say so before starting a proxy for nothing
        sys.exit(f"headroom wrap: command not found or not executable: {program}")
    ca = ensure_ca()
    if not proxy_answers(args.host, args.port):
        print(f"headroom: starting the proxy on {args.host}:{args.port}", file=sys.stderr)
        start_background_proxy(args.host, args.port)
    env = wrap_environment(dict(os.environ), args.host, args.port, ca.cert, ca.bundle)
    try:
        os.execve(found, args.command, env)
    except OSError as e:
        sys.exit(f"headroom wrap: cannot run {program}: {e.strerror}")
    return 0  # not reached


def cmd_stop(args: argparse.Namespace) -> int:
    pid_file = headroom_home() / "proxy.pid"
    if not pid_file.exists():
        print("headroom: no background proxy recorded", file=sys.stderr)
        return 1
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"headroom: proxy {pid} was not running", file=sys.stderr)
    pid_file.unlink(missing_ok=True)
    return 0


def cmd_ca(args: argparse.Namespace) -> int:
    from certs.ca import TrustInstallError, ensure_ca, install_system_trust

    ca = ensure_ca()
    print(ca.bundle if args.bundle else ca.cert)
    if args.install:
        try:
            print(install_system_trust(ca.cert), file=sys.stderr)
        except TrustInstallError as e:
            print(f"headroom ca: {e}", file=sys.stderr)
            return 1
    return 0


def cmd_compress(args: argparse.Namespace) -> int:
    # One text to compress: the numpy text model starts in ~0.1 s where importing torch takes
    # ~1.5 s (both give the same scores; compressors/text_model.py).
    os.environ.setdefault("HEADROOM_TEXT_BACKEND", "numpy")
    from compressors import Context, compress
    from compressors.tokens import count_tokens

    text = sys.stdin.read()
    context = Context(tool_name=args.hint, query=args.query or "")
    started = time.perf_counter()
    try:
        result = compress(text, context, args.kind)
    except ValueError as e:
        sys.exit(f"headroom compress: {e}")
    ms = (time.perf_counter() - started) * 1000
    sys.stdout.write(result.text)
    if args.stats:
        stats = {"kind": result.kind, "tokens_before": count_tokens(text), "tokens_after": count_tokens(result.text), "ms": round(ms, 3)}
        print(json.dumps(stats), file=sys.stderr)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from rich.console import Console

    from addon.ledger.ledger_table import LedgerError, ledger_path, read_rows
    from addon.ledger.pricing import PricingError, load_pricing
    from scripts.ledger_stats import parse_since, render, summarize

    try:
        since = parse_since(args.since) if args.since else None
        table = load_pricing(args.pricing)
        rows = read_rows(ledger_path(headroom_home()), since)
    except (ValueError, PricingError, LedgerError) as e:
        sys.exit(f"headroom stats: {e}")
    report = summarize(rows, table, since)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        render(report, Console(width=max(shutil.get_terminal_size().columns, 150)))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from rich.console import Console

    from addon.ledger.ledger_table import LedgerError, connect, ledger_path
    from scripts.context_trace import TraceError, list_sessions, render, trace

    path = ledger_path(headroom_home())
    try:
        if args.sessions:
            if not path.exists():
                raise TraceError(f"no ledger at {path}: the proxy has recorded nothing yet")
            db = connect(path)
            try:
                sessions = list_sessions(db)
            finally:
                db.close()
            print(json.dumps(sessions, indent=1) if args.json else "\n".join(
                f"{s['session']}  {s['requests']:>4} requests  {s['first']} → {s['last']}  {s['provider']} {s['model'] or ''}" for s in sessions
            ) or "no traced sessions yet")
            return 0
        data = trace(path, args.session, args.request)
    except (TraceError, LedgerError) as e:
        sys.exit(f"headroom trace: {e}")
    if args.json:
        print(json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    else:
        render(data, Console(width=max(shutil.get_terminal_size().columns, 150)), args.all)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    os.environ.setdefault("HEADROOM_TEXT_BACKEND", "numpy")
    from scripts.doctor import redis_url_from_env, run_checks

    checks = run_checks(args.host, args.port, args.redis or redis_url_from_env())
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
    return 0 if all(c.ok or not c.required for c in checks) else 1


# ---- headroom eval: the A/B of compression lives in scripts/evaluation/ ----------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from scripts.evaluation.eval_command import run_eval

    return run_eval(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)

    def with_address(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--host", default="127.0.0.1", help="listen address (default loopback only)")
        p.add_argument("--port", type=int, default=None, help="port (default $HEADROOM_PORT or 8080)")
        return p

    p = with_address(sub.add_parser("proxy", help="run the proxy in the foreground"))
    p.add_argument("--web", action="store_true", help="run mitmweb (flows with before/after token counts)")
    p.add_argument("mitm_args", nargs=argparse.REMAINDER, help="extra mitmdump arguments after --")
    p.set_defaults(func=cmd_proxy)

    p = with_address(sub.add_parser("wrap", help="run a command through the proxy, trusting its CA"))
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_wrap)

    sub.add_parser("stop", help="stop a proxy that `wrap` started in the background").set_defaults(func=cmd_stop)

    p = sub.add_parser("ca", help="print the CA certificate path; --install trusts it system-wide")
    p.add_argument("--install", action="store_true", help="add the CA to the system trust store")
    p.add_argument("--bundle", action="store_true", help="print the system roots + CA bundle path instead")
    p.set_defaults(func=cmd_ca)

    p = sub.add_parser("compress", help="compress stdin to stdout")
    p.add_argument("--kind", default="auto", help="auto (default) or a compressor kind")
    p.add_argument("--query", help="the task, for relevance")
    p.add_argument("--hint", help="the tool that produced the text (e.g. Read, Bash)")
    p.add_argument("--stats", action="store_true", help="print one JSON line of stats to stderr")
    p.set_defaults(func=cmd_compress)

    p = with_address(sub.add_parser("doctor", help="check the setup end to end: one line per check, and what to fix"))
    p.add_argument("--redis", help="also check this Redis store (default $HEADROOM_REDIS_URL)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("trace", help="what went into a context window, and from where (provenance)")
    p.add_argument("session", nargs="?", help="a session (or a unique prefix of one); default: the latest")
    p.add_argument("--request", type=int, help="the session's Nth request (1-based; -1: the last); default: the last on its main model")
    p.add_argument("--json", action="store_true", help="compact JSON with stable keys, for agents and scripts")
    p.add_argument("--all", action="store_true", help="list every unit (default: the largest)")
    p.add_argument("--sessions", action="store_true", help="list the traced sessions instead")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("stats", help="what the savings ledger recorded: tokens and dollars saved, cache hits")
    p.add_argument("--since", help="only requests from this long ago (24h, 7d, 30m) or this date on")
    p.add_argument("--pricing", help="price with this pricing table file (default: the bundled list prices)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_stats)

    from scripts.evaluation.eval_command import HELP as EVAL_HELP, add_arguments as add_eval_arguments

    add_eval_arguments(sub.add_parser("eval", help=EVAL_HELP)).set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "port") and args.port is None:
        args.port = default_port()
    for name in ("mitm_args", "command"):
        rest = getattr(args, name, None)
        if rest and rest[0] == "--":
            setattr(args, name, rest[1:])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
