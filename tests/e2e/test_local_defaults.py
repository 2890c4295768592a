"""A bare `mitmdump -s addon/headroom.py` listens on loopback and keeps its CA in HEADROOM_HOME."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, free_port, wait_for_port


def test_bare_mitmdump_is_local_first(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    log = tmp_path / "mitmdump.log"
    env = {**os.environ, "HEADROOM_HOME": str(home), "HOME": str(tmp_path)}
    command = [str(Path(sys.executable).parent / "mitmdump"), "-s", str(ROOT / "addon" / "headroom.py"), "--listen-port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process=process)
    finally:
        process.terminate()
        process.wait(10)
    assert f"listening at 127.0.0.1:{port}" in log.read_text()
    key = home / "certs" / "mitmproxy-ca.pem"
    assert key.exists() and not (tmp_path / ".mitmproxy").exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "certs").stat().st_mode) == 0o700
