"""A throwaway `redis-server` on a free loopback port, in a temporary directory, persisting nothing.

Tests that need it call `require_redis_server()` first: without the binary they are skipped on
a developer's machine but fail under CI (CI set), where Redis must be installed
(`apt-get install -y redis-server`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop_process

INSTALL_HINT = "install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`"


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def require_redis_server() -> str:
    """The redis-server binary; skips the test without it, or fails it when CI is set."""
    binary = redis_server_binary()
    if binary is None:
        message = f"redis-server is not on PATH: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required under CI)", pytrace=False)
        pytest.skip(message)
    return binary


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def stop(self) -> None:
        stop_process(self.process)

    def start_again(self) -> None:
        """Start a fresh (empty) redis-server on the same port, as after an outage."""
        command = [
            require_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.directory), "--daemonize", "no",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        if not _wait_for_pong(self):
            raise RuntimeError(f"redis-server did not start again:\n{self.log.read_text(errors='replace')[-2000:]}")


def start_redis_server(directory: Path, attempts: int = 3) -> RedisServer:
    """Start redis-server in `directory` on a free port (retried: the port may be taken meanwhile)."""
    binary = require_redis_server()
    directory.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(attempts):
        port = free_port()
        command = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(directory), "--daemonize", "no",
        ]  # fmt: skip
        with (directory / "redis.log").open("ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=directory)
        server = RedisServer(port, directory, process)
        if _wait_for_pong(server):
            return server
        server.stop()
        last_error = server.log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"redis-server did not start:\n{last_error}")


@contextmanager
def running_redis_server(directory: Path) -> Iterator[RedisServer]:
    server = start_redis_server(directory)
    try:
        yield server
    finally:
        server.stop()


def _wait_for_pong(server: RedisServer, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as s:
                # Ours, not another server that took the port first: INFO names its pid.
                s.sendall(b"INFO server\r\n")
                reply = b""
                while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                if f"process_id:{server.process.pid}\r\n".encode() in reply:
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False
