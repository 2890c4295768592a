"""Shared fixtures: the mock provider over TLS and real mitmdump processes running Headroom."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from certs.ca import CaFiles, ensure_ca
from tests.support.mock_provider import MockProvider
from tests.support.processes import free_port, stop_process
from tests.support.tls import HOSTS as TLS_HOSTS, ServerTls, make_server_tls

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never read or write the user's real Headroom state.
os.environ.pop("HEADROOM_HOME", None)

# The hosts the mock's certificate names that Headroom intercepts (the others test tunnelling).
INTERCEPTED = tuple(host for host in TLS_HOSTS if host not in ("untouched.example.org", "localhost"))


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered on port {port}")


@dataclass
class Proxy:
    """A real `mitmdump -s addon/headroom.py` with the test reroute addon beside it."""

    home: Path
    upstream: ServerTls
    routes: dict[str, int]
    options: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen | None = None
    ca: CaFiles | None = None
    program: str = "mitmdump"  # or mitmweb (tests/e2e/test_mitmweb_view.py)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.home / "mitmdump.log"

    def start(self) -> Proxy:
        self.ca = ensure_ca(self.home)
        self.port = self.port or free_port()
        command = [
            str(Path(sys.executable).parent / self.program),
            "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
            *self.extra_args(),
            "--set", f"confdir={self.ca.confdir}",
            "--set", f"headroom_home={self.home}",
            "--set", f"ssl_verify_upstream_trusted_ca={self.upstream.ca_cert}",
            "-s", str(ROOT / "addon" / "headroom.py"),
            "-s", str(ROOT / "tests" / "support" / "reroute_addon.py"),
        ]  # fmt: skip
        for host, port in self.routes.items():
            command += ["--set", f"reroute={host}={port}"]
        # Threads unless a test asks for worker processes (tests/e2e/test_rewrite_workers.py): a
        # worker per proxy would load the text model once per test proxy, on CI's two cores.
        # HEADROOM_TEST_PROCESSES=1 runs every proxy as users get it (with a worker process).
        default = f"headroom_processes={os.environ.get('HEADROOM_TEST_PROCESSES', '0')}"
        threads = [] if any(o.startswith("headroom_processes=") for o in self.options) else [default]
        for option in [*threads, *self.options]:  # (of an option set twice, mitmproxy keeps the first)
            command += ["--set", option]
        env = {**os.environ, "HEADROOM_HOME": str(self.home)}
        self.process = subprocess.Popen(command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            wait_for_port(self.port, process=self.process)
            self.wait_ready()
            time.sleep(0.3)  # a script error makes mitmdump exit right after it starts listening
            if self.process.poll() is not None:
                raise RuntimeError("exited")
        except Exception:
            raise RuntimeError(f"{self.program} did not start:\n{self.log.read_text()}") from None
        return self

    def extra_args(self) -> list[str]:
        """Program-specific arguments (none for mitmdump)."""
        return []

    def wait_ready(self) -> None:
        """Wait for anything besides the proxy port (nothing for mitmdump)."""

    def stop(self) -> None:
        stop_process(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cli_env(self, home: Path, **variables: str) -> dict[str, str]:
        """A clean environment for a real CLI run through `scripts/wrap` against this proxy:
        its own HOME, this proxy's HEADROOM_HOME and port, plus the given variables."""
        home.mkdir(parents=True, exist_ok=True)
        return {"PATH": os.environ["PATH"], "HOME": str(home), "HEADROOM_HOME": str(self.home), "HEADROOM_PORT": str(self.port), **variables}

    @contextmanager
    def client_env(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """Environment of a user's process pointed at this proxy (what `headroom wrap` sets)."""
        from scripts.cli import wrap_environment

        assert self.ca is not None
        for name in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name, value in wrap_environment({}, "127.0.0.1", self.port, self.ca.cert, self.ca.bundle).items():
            monkeypatch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def upstream_tls(tmp_path_factory) -> ServerTls:
    return make_server_tls(tmp_path_factory.mktemp("upstream-tls"))


@pytest.fixture(scope="session")
def mock_server(upstream_tls) -> Iterator[MockProvider]:
    server = MockProvider(upstream_tls).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def other_server(upstream_tls) -> Iterator[MockProvider]:
    """A non-LLM TLS host (untouched.example.org) that must be tunnelled, not intercepted."""
    server = MockProvider(upstream_tls).start()
    yield server
    server.stop()


@pytest.fixture
def mock(mock_server) -> Iterator[MockProvider]:
    mock_server.received.clear()
    mock_server.responder = None
    yield mock_server
    mock_server.responder = None


def routes_for(mock_server: MockProvider, other_server: MockProvider) -> dict[str, int]:
    routes = {host: mock_server.port for host in INTERCEPTED}
    routes["untouched.example.org"] = other_server.port
    return routes


@pytest.fixture(scope="session")
def proxy(tmp_path_factory, upstream_tls, mock_server, other_server) -> Iterator[Proxy]:
    """One Headroom proxy shared by the end-to-end tests; api.deepseek.com is a user-added host."""
    running = Proxy(
        tmp_path_factory.mktemp("headroom-home"),
        upstream_tls,
        routes_for(mock_server, other_server),
        options=["headroom_hosts=api.deepseek.com"],
    ).start()
    yield running
    running.stop()


@pytest.fixture
def make_proxy(tmp_path, upstream_tls, mock_server, other_server) -> Iterator:
    """Start extra proxies with their own home and options; all are stopped after the test."""
    started: list[Proxy] = []

    def make(*options: str, home: Path | None = None) -> Proxy:
        p = Proxy(home or tmp_path / f"home{len(started)}", upstream_tls, routes_for(mock_server, other_server), list(options))
        started.append(p.start())
        return p

    yield make
    for p in started:
        p.stop()


