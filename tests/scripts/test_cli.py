"""The `headroom` command line: wrap's environment, the compress contract, ca, and wrap/stop end to end.

The end-to-end tests run the real shell scripts as a user would, each with its own
HEADROOM_HOME and port, and always kill the background mitmdump they caused.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.cli import build_parser, default_port, main, proxy_answers, wrap_environment

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
BUNDLE_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie left for init to reap counts as gone)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@dataclass
class Home:
    """A HEADROOM_HOME and port for running the scripts; remembers every proxy pid it saw."""

    path: Path
    port: int
    env: dict[str, str]
    pids: set[int] = field(default_factory=set)

    @property
    def pid_file(self) -> Path:
        return self.path / "proxy.pid"

    def run(self, script: str, *args: str, stdin: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [str(SCRIPTS / script), *args],
                input=stdin,
                env=self.env,
                cwd=self.path,  # the scripts work from any directory
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        finally:
            self.remember()

    def remember(self) -> None:
        if self.pid_file.exists():
            self.pids.add(int(self.pid_file.read_text().strip()))

    def kill_proxies(self) -> None:
        self.remember()
        for pid in self.pids:
            # Only ever signal the mitmdump this test started, even if the pid was reused.
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"mitmdump" not in cmdline or not running(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            if not wait_until(lambda: not running(pid), 10):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS and k not in ("NO_PROXY", "no_proxy")}
    env.update(HEADROOM_HOME=str(tmp_path), HEADROOM_PORT=str(free_port()), HEADROOM_WRAP_TEST="kept as is")
    h = Home(tmp_path, int(env["HEADROOM_PORT"]), env)
    try:
        yield h
    finally:
        h.kill_proxies()


# --- wrap_environment ---------------------------------------------------------------------


def test_wrap_environment_routes_through_the_proxy_and_trusts_the_ca(tmp_path: Path) -> None:
    cert, bundle = tmp_path / "ca-cert.pem", tmp_path / "trust-bundle.pem"
    env = wrap_environment({"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8"}, "127.0.0.1", 8123, cert, bundle)
    for name in PROXY_VARS:
        assert env[name] == "http://127.0.0.1:8123"
    assert env["NODE_EXTRA_CA_CERTS"] == str(cert)
    for name in BUNDLE_VARS:
        assert env[name] == str(bundle)
    assert {k: env[k] for k in ("PATH", "HOME", "LANG")} == {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8"}
    assert set(env) == {"PATH", "HOME", "LANG", *PROXY_VARS, "NODE_EXTRA_CA_CERTS", *BUNDLE_VARS}


def test_wrap_environment_overrides_existing_proxies_and_leaves_the_input_alone(tmp_path: Path) -> None:
    original = {"HTTPS_PROXY": "http://corp:3128", "http_proxy": "http://corp:3128", "SSL_CERT_FILE": "/old.pem"}
    env = wrap_environment(original, "::1", 9000, tmp_path / "c.pem", tmp_path / "b.pem")
    assert env["HTTPS_PROXY"] == env["http_proxy"] == "http://::1:9000"
    assert env["SSL_CERT_FILE"] == str(tmp_path / "b.pem")
    assert original == {"HTTPS_PROXY": "http://corp:3128", "http_proxy": "http://corp:3128", "SSL_CERT_FILE": "/old.pem"}


# --- argument parsing and in-process verbs --------------------------------------------------


def test_port_defaults_to_headroom_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_PORT", "18555")
    assert default_port() == 18555
    monkeypatch.delenv("HEADROOM_PORT")
    assert default_port() == 8080
    assert build_parser().parse_args(["wrap", "--port", "9", "claude"]).port == 9


def test_wrap_keeps_the_commands_own_options() -> None:
    args = build_parser().parse_args(["wrap", "--port", "9001", "python", "-c", "print(1)", "--port", "2"])
    assert args.port == 9001
    assert args.command == ["python", "-c", "print(1)", "--port", "2"]


def test_proxy_answers(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert proxy_answers("127.0.0.1", port)
    assert not proxy_answers("127.0.0.1", port)


def test_stop_terminates_the_recorded_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "proxy.pid").write_text(f"{sleeper.pid}\n")
        assert main(["stop"]) == 0
        assert sleeper.wait(10) == -signal.SIGTERM
        assert not (tmp_path / "proxy.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stop_with_a_stale_pid_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    # Above pid_max no process can exist, so nothing real is ever signalled.
    stale = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    (tmp_path / "proxy.pid").write_text(f"{stale}\n")
    assert main(["stop"]) == 0
    assert f"proxy {stale} was not running" in capsys.readouterr().err
    assert not (tmp_path / "proxy.pid").exists()


def test_ca_prints_the_certificate_or_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    assert main(["ca"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'certs' / 'mitmproxy-ca-cert.pem'}\n"
    assert main(["ca", "--bundle"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'certs' / 'trust-bundle.pem'}\n"


def test_ca_install_failure_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import certs.ca as ca

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("test tried to change the system trust store")

    # Tests run as root: pretend to be a user on an unsupported system so nothing is installed.
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    monkeypatch.setattr(ca.platform, "system", lambda: "Windows")
    monkeypatch.setattr(ca.shutil, "copyfile", refuse)
    monkeypatch.setattr(ca.subprocess, "run", refuse)
    assert main(["ca", "--install"]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "certs" / "mitmproxy-ca-cert.pem")
    assert captured.err.startswith("headroom ca: no supported trust store tool found on Windows")


# --- scripts/compress -----------------------------------------------------------------------


def compress_script(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / "compress"), *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_compress_stats_contract() -> None:
    line = "npm WARN deprecated inflight@1.0.6: This module is not supported"
    text = "added 312 packages\n" + f"{line}\n" * 20 + "done\n"
    result = compress_script("--kind", "repeated_lines", "--stats", stdin=text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"added 312 packages\n{line}\n[previous line repeated 19 more times]\ndone\n"
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert set(stats) == {"kind", "tokens_before", "tokens_after", "ms"}
    assert stats["kind"] == "repeated_lines"
    assert type(stats["tokens_before"]) is int and type(stats["tokens_after"]) is int
    assert stats["tokens_before"] > stats["tokens_after"] > 0
    assert isinstance(stats["ms"], (int, float)) and not isinstance(stats["ms"], bool)
    assert stats["ms"] >= 0


def test_compress_stats_counts_exact_tokens() -> None:
    result = compress_script("--stats", stdin="hello world")
    assert result.stdout == "hello world"
    assert json.loads(result.stderr.strip().splitlines()[-1])["tokens_before"] == 2


def test_compress_without_stats_passes_bytes_through_and_is_quiet() -> None:
    data = "a\r\nb\r\n\r\nunicode: ünï ✓\n".encode()  # bytes, so no newline translation hides a change
    result = subprocess.run([str(SCRIPTS / "compress")], input=data, capture_output=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == data
    assert result.stderr == b""


def test_compress_forced_kind() -> None:
    result = compress_script("--kind", "repeated_lines", "--stats", stdin="x\n")
    assert result.returncode == 0
    assert json.loads(result.stderr.strip().splitlines()[-1])["kind"] == "repeated_lines"


def test_compress_unknown_kind_is_a_clear_error() -> None:
    result = compress_script("--kind", "nope", stdin="x\n")
    assert result.returncode != 0
    assert "unknown compressor kind 'nope'; known: auto, " in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_headroom_port_does_not_break_unrelated_verbs() -> None:
    result = subprocess.run(
        [str(SCRIPTS / "compress")],
        input="x\n",
        env={**os.environ, "HEADROOM_PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "x\n"


# --- scripts/ca -----------------------------------------------------------------------------


def test_ca_script_prints_an_existing_pem_under_headroom_home(home: Home) -> None:
    result = home.run("ca")
    assert result.returncode == 0, result.stderr
    printed = Path(result.stdout.strip())
    assert printed.suffix == ".pem"
    assert printed.is_file()
    assert printed.is_relative_to(home.path)
    assert printed.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    # A second call prints the same, unchanged certificate.
    again = home.run("ca")
    assert again.stdout == result.stdout
    bundle = home.run("ca", "--bundle")
    assert Path(bundle.stdout.strip()).read_bytes().endswith(printed.read_bytes())


# --- scripts/wrap and scripts/stop, end to end ----------------------------------------------


def test_wrap_starts_a_background_proxy_and_sets_the_environment(home: Home) -> None:
    assert not proxy_answers("127.0.0.1", home.port)
    result = home.run("wrap", sys.executable, "-c", PRINT_ENV)
    assert result.returncode == 0, result.stderr
    assert f"headroom: starting the proxy on 127.0.0.1:{home.port}" in result.stderr

    env = json.loads(result.stdout)
    certs = home.path / "certs"
    for name in PROXY_VARS:
        assert env[name] == f"http://127.0.0.1:{home.port}"
    assert env["NODE_EXTRA_CA_CERTS"] == str(certs / "mitmproxy-ca-cert.pem")
    for name in BUNDLE_VARS:
        assert env[name] == str(certs / "trust-bundle.pem")
    assert env["HEADROOM_WRAP_TEST"] == "kept as is"
    assert env["PATH"] == home.env["PATH"]

    # The proxy outlives the wrapped command, in its own session, logging under HEADROOM_HOME.
    pid = int(home.pid_file.read_text())
    assert running(pid)
    assert b"mitmdump" in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert os.getsid(pid) == pid
    assert proxy_answers("127.0.0.1", home.port)
    assert (home.path / "logs" / "proxy.log").is_file()


def test_wrap_passes_the_exit_code_through_and_reuses_the_proxy(home: Home) -> None:
    first = home.run("wrap", "sh", "-c", "exit 7")
    assert first.returncode == 7, first.stderr
    pid = home.pid_file.read_text()

    second = home.run("wrap", "--", "sh", "-c", "echo through; exit 3")
    assert second.returncode == 3, second.stderr
    assert second.stdout == "through\n"
    assert "starting the proxy" not in second.stderr
    assert home.pid_file.read_text() == pid


def test_stop_ends_the_background_proxy(home: Home) -> None:
    assert home.run("wrap", "true").returncode == 0
    pid = int(home.pid_file.read_text())
    assert proxy_answers("127.0.0.1", home.port)

    stopped = home.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not home.pid_file.exists()
    assert wait_until(lambda: not proxy_answers("127.0.0.1", home.port), 5), "proxy still answers after stop"
    assert wait_until(lambda: not running(pid), 5)
    assert (home.path / "logs" / "proxy.log").is_file()


def test_stop_without_a_proxy_says_so(home: Home) -> None:
    result = home.run("stop")
    assert result.returncode == 1
    assert "no background proxy recorded" in result.stderr


def test_wrap_of_a_missing_command_is_a_clear_error(home: Home) -> None:
    result = home.run("wrap", "headroom-no-such-command")
    assert result.returncode != 0
    assert "headroom wrap: command not found or not executable: headroom-no-such-command" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrap_without_a_command_is_a_clear_error(home: Home) -> None:
    result = home.run("wrap")
    assert result.returncode != 0
    assert "give a command to run" in result.stderr
    assert not home.pid_file.exists(), "no proxy is started for nothing"


def test_wrap_of_a_non_executable_file_is_a_clear_error(home: Home) -> None:
    script = home.path / "not-executable.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    result = home.run("wrap", str(script))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(script) in result.stderr
